// Genotype derivation from the architecture weights, exactly as the reference's Network.genotype():
// on p = softmax(alpha) (float32, libtorch's kernel), for node i with candidate inputs j < i + 2:
// edge strength = max over non-'none' ops of p[j][k]; keep the two strongest edges (stable sort,
// so ties keep the lower j), strongest first; per kept edge the first op with the strictly largest
// p (ties keep the lower k), 'none' excluded. concat = range(2, 2 + steps).
import type { Gene, Genotype } from './types.ts';
import { PRIMITIVES } from './types.ts';
import { GenotypeError } from './validate.ts';

export interface DeriveOptions {
  steps?: number;
  primitives?: readonly string[];
}

function parseCell(p: Float32Array, steps: number, primitives: readonly string[]): Gene[] {
  const ops = primitives.length;
  const none = primitives.indexOf('none');
  const gene: Gene[] = [];
  let start = 0;
  for (let i = 0; i < steps; i++) {
    const n = i + 2;
    const row = (j: number, k: number) => p[(start + j) * ops + k];
    const strength = (j: number) => {
      let best = -Infinity;
      for (let k = 0; k < ops; k++) if (k !== none && row(j, k) > best) best = row(j, k);
      return best;
    };
    const edges = Array.from({ length: n }, (_, j) => j)
      .map((j) => ({ j, s: strength(j) }))
      .sort((a, b) => b.s - a.s) // Array.prototype.sort is stable
      .slice(0, 2);
    for (const { j } of edges) {
      let kBest = -1;
      for (let k = 0; k < ops; k++) {
        if (k === none) continue;
        if (kBest === -1 || row(j, k) > row(j, kBest)) kBest = k;
      }
      gene.push([primitives[kBest], j]);
    }
    start += n;
  }
  return gene;
}

/** From float32 softmax probabilities, row-major (edges x ops). */
export function deriveGenotype(probsNormal: Float32Array, probsReduce: Float32Array, options: DeriveOptions = {}): Genotype {
  const steps = options.steps ?? 4;
  const primitives = options.primitives ?? PRIMITIVES;
  const edges = (steps * (steps + 3)) / 2;
  for (const [name, p] of [['normal', probsNormal], ['reduce', probsReduce]] as const)
    if (p.length !== edges * primitives.length)
      throw new GenotypeError(`alphas_${name} has ${p.length} values, expected ${edges} x ${primitives.length}`);
  const concat = Array.from({ length: steps }, (_, i) => i + 2);
  return { normal: parseCell(probsNormal, steps, primitives), normalConcat: concat, reduce: parseCell(probsReduce, steps, primitives), reduceConcat: [...concat] };
}

export type Softmax = (data: Float32Array, shape: [number, number]) => Float32Array;

/** From raw alphas; `softmax` should be libtorch's float32 kernel (loadNative().softmax). */
export function deriveFromAlphas(alphasNormal: Float32Array, alphasReduce: Float32Array, softmax: Softmax, options: DeriveOptions = {}): Genotype {
  const ops = (options.primitives ?? PRIMITIVES).length;
  const rows = (a: Float32Array) => {
    if (a.length % ops !== 0) throw new GenotypeError(`alphas have ${a.length} values, not a multiple of ${ops} ops`);
    return a.length / ops;
  };
  return deriveGenotype(softmax(alphasNormal, [rows(alphasNormal), ops]), softmax(alphasReduce, [rows(alphasReduce), ops]), options);
}
