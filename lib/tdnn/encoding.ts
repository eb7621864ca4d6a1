// Subnet encodings of EfficientTDNN's search (sugar models/dynamictdnn.py):
// * the flat config `[d, w0..wd, k0..kd, cat]` that ArchCoder and MinimizeError speak;
// * ArchCoder(12, dconfig, config2d, mode): the predictor's input. Per dimension (depth, width0..4,
//   kernel0..4, cat, each with its sorted distinct choices) a one-hot block (mode None), the binary
//   digits of index+1 (mode 'b') or (index+1)/len (mode 'c'); dimensions beyond the depth stay 0.
//   Coarse one-hot is 3 + 5*5 + 5*3 + 5 = 48 dims (the shipped predictor's input), fine 408;
// * MinimizeError.encode: the GA's 12 integer genes -> flat config (coarse: width/cat gene = index
//   into the coarse choices; fine: 128 + 8g / 384 + 8g; kernel 2g - 1 in both; genes beyond the
//   depth ignored).
import { UserError } from '../errors.ts';
import { type Subnet, formatSubnet } from './subnet.ts';

/** ArchCoder's dimension names, in its (dict insertion) order. */
export const CODER_KEYS = ['depth', 'width0', 'width1', 'width2', 'width3', 'width4', 'kernel0', 'kernel1', 'kernel2', 'kernel3', 'kernel4', 'cat'] as const;
export type CoderKey = (typeof CODER_KEYS)[number];

/** The choices of one search space (tdnn8m2g(in_encodec=48|408)'s dconfig). */
export interface SpaceChoices {
  depth: number[];
  width: number[];
  kernel: number[];
  cat: number[];
}

const range = (start: number, stop: number, step: number) => Array.from({ length: Math.ceil((stop - start) / step) }, (_, i) => start + i * step);

export const COARSE_SPACE: SpaceChoices = { depth: [2, 3, 4], width: [128, 176, 256, 384, 512], kernel: [1, 3, 5], cat: [384, 536, 768, 1152, 1536] };
export const FINE_SPACE: SpaceChoices = { depth: [2, 3, 4], width: range(128, 513, 8), kernel: [1, 3, 5], cat: range(384, 1537, 8) };

/** The 12-entry dconfig of a space (ArchCoder needs exactly 12 dimensions). */
export function dconfigOf(space: SpaceChoices): [CoderKey, number[]][] {
  return CODER_KEYS.map((k) => [k, k === 'depth' ? space.depth : k === 'cat' ? space.cat : k.startsWith('width') ? space.width : space.kernel]);
}

/** sugar's flat config list `[d, w0..wd, k0..kd, cat]` (2d + 4 entries). */
export function flatConfig(s: Subnet): number[] {
  return [s.depth, ...s.channels, ...s.kernels, s.cat];
}

export function subnetFromFlat(flat: readonly number[], where = 'config'): Subnet {
  const d = flat[0];
  if (!Number.isInteger(d) || d < 1 || flat.length !== 2 * d + 4)
    throw new UserError(`${where} [${flat.join(', ')}]: a flat config [d, w0..wd, k0..kd, cat] of depth ${d} needs ${2 * d + 4} entries, got ${flat.length}`);
  return { depth: d, channels: flat.slice(1, d + 2), kernels: flat.slice(d + 2, 2 * d + 3), cat: flat[flat.length - 1] };
}

/** config2d: flat config -> {depth, width0..4, kernel0..4, cat}, absent layers null. */
export function config2d(flat: readonly number[], where = 'config'): Record<CoderKey, number | null> {
  const s = subnetFromFlat(flat, where);
  const out = Object.fromEntries(CODER_KEYS.map((k) => [k, null])) as Record<CoderKey, number | null>;
  if (s.depth > 4) throw new UserError(`${where} [${flat.join(', ')}]: depth ${s.depth} has more layers than the encoding's 5`);
  out.depth = s.depth;
  s.channels.forEach((w, i) => (out[`width${i}` as CoderKey] = w));
  s.kernels.forEach((k, i) => (out[`kernel${i}` as CoderKey] = k));
  out.cat = s.cat;
  return out;
}

/** The reference's mode: null is one-hot (its None), 'b' binary, 'c' continuous. */
export type CoderMode = null | 'b' | 'c';

/** Python's round(): halves to even. */
function roundHalfEven(x: number): number {
  const f = Math.floor(x);
  const diff = x - f;
  if (diff > 0.5) return f + 1;
  if (diff < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

export class ArchCoder {
  readonly nfeat: number;
  private readonly dims: { key: CoderKey; choices: number[]; width: number }[];

  constructor(dconfig: [CoderKey, number[]][], readonly mode: CoderMode = null) {
    if (dconfig.length !== 12) throw new Error(`ArchCoder: needs 12 dimensions, got ${dconfig.length}`);
    this.dims = dconfig.map(([key, values]) => {
      const choices = [...new Set(values)].sort((a, b) => a - b);
      // 'b': len(format(len(choices), 'b')) bits, enough for index + 1 up to len(choices).
      const width = mode === null ? choices.length : mode === 'b' ? choices.length.toString(2).length : 1;
      return { key, choices, width };
    });
    this.nfeat = this.dims.reduce((a, d) => a + d.width, 0);
  }

  /** ArchCoder.encode(flat config). A value outside a dimension's choices is an error naming it. */
  encode(flat: readonly number[], where = 'config'): Float32Array {
    const cfg = config2d(flat, where);
    const out = new Float32Array(this.nfeat);
    let start = 0;
    for (const { key, choices, width } of this.dims) {
      const v = cfg[key];
      if (v !== null) {
        const i = choices.indexOf(v);
        if (i < 0) throw new UserError(`${where} [${flat.join(', ')}]: ${key} = ${v} is not in the encoding's choices {${choices.join(', ')}}`);
        if (this.mode === null) out[start + i] = 1;
        else if (this.mode === 'b') {
          const bits = (i + 1).toString(2).padStart(width, '0');
          for (let j = 0; j < width; j++) out[start + j] = Number(bits[j]);
        } else out[start] = (i + 1) / choices.length;
      }
      start += width;
    }
    return out;
  }

  encodeSubnet(s: Subnet): Float32Array {
    return this.encode(flatConfig(s), `subnet ${formatSubnet(s)}`);
  }

  /** ArchCoder.decode(feat, typ=0): per dimension its value, or null where the block decodes to none. */
  decodeDict(feat: ArrayLike<number>): Record<CoderKey, number | null> {
    if (feat.length !== this.nfeat) throw new UserError(`encoding has ${feat.length} values, this coder's has ${this.nfeat}`);
    const out = {} as Record<CoderKey, number | null>;
    let start = 0;
    for (const { key, choices, width } of this.dims) {
      // One-hot and binary blocks go through astype(int) first (truncation toward zero).
      const part = Array.from({ length: width }, (_, j) => (this.mode === 'c' ? feat[start + j] : Math.trunc(feat[start + j])));
      let v: number | null;
      if (this.mode === null) {
        const hot = part.flatMap((x, j) => (x === 1 ? [j] : []));
        v = hot.length === 1 ? choices[hot[0]] : null;
      } else if (this.mode === 'b') {
        if (part.some((x) => x !== 0 && x !== 1)) throw new UserError(`encoding: ${key}'s bits [${part.join(', ')}] are not binary digits`);
        const i = parseInt(part.join(''), 2);
        if (i > choices.length) throw new UserError(`encoding: ${key}'s bits give index ${i}, beyond its ${choices.length} choices`);
        v = i === 0 ? null : choices[i - 1];
      } else {
        const x = part[0];
        const i = x === 0 ? 0 : roundHalfEven(x * choices.length);
        if (x !== 0 && (i < 1 || i > choices.length)) throw new UserError(`encoding: ${key} = ${x} maps to index ${i - 1}, outside its ${choices.length} choices`);
        v = x === 0 ? null : choices[i - 1];
      }
      out[key] = v;
      start += width;
    }
    return out;
  }

  /** ArchCoder.decode(feat, typ=1): the present values in dimension order (a flat config when consistent). */
  decode(feat: ArrayLike<number>): number[] {
    const d = this.decodeDict(feat);
    return CODER_KEYS.map((k) => d[k]).filter((v): v is number => v !== null);
  }
}

const coders = new Map<string, ArchCoder>();

/** The coder of a space and mode (cached). */
export function archCoder(space: 'coarse' | 'fine', mode: CoderMode = null): ArchCoder {
  const key = `${space}/${mode}`;
  let c = coders.get(key);
  if (!c) coders.set(key, (c = new ArchCoder(dconfigOf(space === 'coarse' ? COARSE_SPACE : FINE_SPACE), mode)));
  return c;
}

/** The one-hot coder a predictor of `inFeats` inputs takes (tdnn8m2g(in_encodec=48|408)). */
export function predictorCoder(inFeats: number): ArchCoder {
  if (inFeats === 48) return archCoder('coarse');
  if (inFeats === 408) return archCoder('fine');
  throw new UserError(`a predictor with ${inFeats} inputs has no subnet encoding (the reference's are the 48-dim coarse and 408-dim fine one-hot codes)`);
}

/** The 48-dim coarse one-hot code of a subnet (the shipped predictor's input). */
export function encodeCoarseOneHot(s: Subnet): Float32Array {
  return archCoder('coarse').encodeSubnet(s);
}

// ---- GA genes (MinimizeError) ----

export type GeneSpace = 'Coarse' | 'Fine';
export const GENE_NAMES = ['depth', 'width0', 'width1', 'width2', 'width3', 'width4', 'kernel0', 'kernel1', 'kernel2', 'kernel3', 'kernel4', 'cat'] as const;

/** MinimizeError's lb/ub per gene (both inclusive). */
export const GENE_BOUNDS: Record<GeneSpace, { lb: number[]; ub: number[] }> = {
  Coarse: { lb: [2, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0], ub: [4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 4] },
  Fine: { lb: [2, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0], ub: [4, 48, 48, 48, 48, 48, 3, 3, 3, 3, 3, 144] },
};

function checkGenes(genes: readonly number[], space: GeneSpace): void {
  if (genes.length !== 12) throw new UserError(`GA genes: expected 12 integers, got ${genes.length}`);
  const { lb, ub } = GENE_BOUNDS[space];
  genes.forEach((g, i) => {
    if (!Number.isInteger(g) || g < lb[i] || g > ub[i])
      throw new UserError(`GA gene ${i} (${GENE_NAMES[i]}) = ${g} is outside the ${space} bounds [${lb[i]}, ${ub[i]}]`);
  });
}

/** MinimizeError.encode: 12 genes -> flat config [d, w0..wd, k0..kd, cat] (genes beyond the depth ignored). */
export function decodeGenes(genes: readonly number[], space: GeneSpace): number[] {
  checkGenes(genes, space);
  const x = [...genes];
  for (let i = 1; i < 6; i++) x[i] = space === 'Coarse' ? COARSE_SPACE.width[x[i]] : x[i] * 8 + 128;
  for (let i = 6; i < 11; i++) x[i] = x[i] * 2 - 1;
  x[11] = space === 'Coarse' ? COARSE_SPACE.cat[x[11]] : x[11] * 8 + 384;
  const d = x[0];
  return [d, ...x.slice(1, 2 + d), ...x.slice(6, 7 + d), x[11]];
}

export function genesToSubnet(genes: readonly number[], space: GeneSpace): Subnet {
  return subnetFromFlat(decodeGenes(genes, space), 'GA genes');
}

/**
 * The inverse of decodeGenes: the 12 genes of a subnet of the space (to seed a population). Genes
 * beyond the depth, which decoding ignores, are set to their lower bound.
 */
export function subnetToGenes(s: Subnet, space: GeneSpace): number[] {
  const name = `subnet ${formatSubnet(s)}`;
  const { lb } = GENE_BOUNDS[space];
  if (s.depth < lb[0] || s.depth > GENE_BOUNDS[space].ub[0]) throw new UserError(`${name}: depth ${s.depth} is outside the GA's [2, 4]`);
  const genes = [...lb];
  genes[0] = s.depth;
  const widthGene = (w: number, i: number) => {
    const g = space === 'Coarse' ? COARSE_SPACE.width.indexOf(w) : (w - 128) / 8;
    if (!Number.isInteger(g) || g < 0 || g > GENE_BOUNDS[space].ub[1 + i])
      throw new UserError(`${name}: width${i} = ${w} is not in the ${space} space`);
    return g;
  };
  s.channels.forEach((w, i) => (genes[1 + i] = widthGene(w, i)));
  s.kernels.forEach((k, i) => {
    if (![1, 3, 5].includes(k)) throw new UserError(`${name}: kernel${i} = ${k} is not in {1, 3, 5}`);
    genes[6 + i] = (k + 1) / 2;
  });
  const c = space === 'Coarse' ? COARSE_SPACE.cat.indexOf(s.cat) : (s.cat - 384) / 8;
  if (!Number.isInteger(c) || c < 0 || c > GENE_BOUNDS[space].ub[11]) throw new UserError(`${name}: cat = ${s.cat} is not in the ${space} space`);
  genes[11] = c;
  return genes;
}
