// The model-predictive evolutionary search of EfficientTDNN: sugar's ea_solve runs geatpy's SEGA
// (soea_SEGA_templet, the "strengthen elitist GA") on MinimizeError, 12 discrete genes, one
// objective (the predictor's EER) and constraints marked, not penalised (CV = 1 for a subnet that
// breaks one). This is that loop, seeded and deterministic:
//   init N random individuals; per generation: N parents by binary tournament on fitness,
//   two-point crossover of consecutive pairs (probability XOVR), mutation (probability Pm), then
//   parents + offspring (2N) merged and the N fittest kept (elitism). After MAXGEN generations the
//   best feasible individual is the answer.
// Reference settings (ea_solve): NIND 50, MAXGEN 800 (the TDNN-NAS tutorial runs 200), Pm 0.1,
// two-point crossover XOVR 1 (spec §13). Where the reference is unspecified or cannot be followed:
//  * chromosome: the reference uses geatpy's binary Gray code ('BG'); here each gene is an integer
//    index into its list of choices (the same decoded genes), and mutation redraws a gene with
//    probability Pm as a uniformly chosen *other* value (the per-gene analogue of bit flips);
//  * fitness: geatpy's ea.scaling ranks feasible individuals by objective and gives every
//    infeasible one the lowest fitness. That is the default ('mark'); ties keep population order
//    (stable sort, parents before offspring). The named option 'violation' ranks infeasible
//    individuals by how far they break the constraint, so a population that starts infeasible
//    moves toward the budget;
//  * randomness: Python's random.Random(seed) (MT19937, the project's PythonRandom), not numpy's.
import { UserError } from '../errors.ts';
import { PythonRandom } from './python_random.ts';

export interface GaProblem {
  /** number of choices per gene (a gene is an index in [0, counts[i])) */
  counts: number[];
  /**
   * Objective (lower is better) and constraint violation (0 = feasible, > 0 = how far over) of
   * each chromosome, in order.
   */
  evaluate(chromosomes: number[][]): Promise<{ objective: number[]; violation: number[] }> | { objective: number[]; violation: number[] };
}

export interface GaOptions {
  population?: number;
  generations?: number;
  /** mutation probability per gene */
  pm?: number;
  /** crossover probability per pair */
  xovr?: number;
  seed?: number;
  constraintHandling?: 'mark' | 'violation';
  /** chromosomes to put into the initial population (the rest is random) */
  prophets?: number[][];
}

export const GA_DEFAULTS = { population: 50, generations: 800, pm: 0.1, xovr: 1, seed: 0, constraintHandling: 'mark' as const };

export interface Individual {
  genes: number[];
  objective: number;
  violation: number;
}

export interface GaResult {
  /** the fittest feasible individual, or null when none of the final population is feasible */
  best: Individual | null;
  population: Individual[];
  evaluations: number;
  /** per generation (0 = the initial population): the best feasible objective so far, or null */
  history: (number | null)[];
}

/** a before b: feasible first, then by objective; infeasible by violation only in 'violation' mode. */
function better(a: Individual, b: Individual, mode: 'mark' | 'violation'): boolean {
  const fa = a.violation <= 0, fb = b.violation <= 0;
  if (fa !== fb) return fa;
  if (fa) return a.objective < b.objective;
  return mode === 'violation' && a.violation < b.violation;
}

function compare(a: Individual, b: Individual, mode: 'mark' | 'violation'): number {
  return better(a, b, mode) ? -1 : better(b, a, mode) ? 1 : 0;
}

function checkOptions(o: Required<Omit<GaOptions, 'prophets'>>, counts: number[]): void {
  if (!Number.isSafeInteger(o.population) || o.population < 2) throw new UserError(`GA population ${o.population}: expected an integer >= 2`);
  if (!Number.isSafeInteger(o.generations) || o.generations < 0) throw new UserError(`GA generations ${o.generations}: expected an integer >= 0`);
  if (!(o.pm >= 0 && o.pm <= 1)) throw new UserError(`GA mutation probability ${o.pm}: expected a number in [0, 1]`);
  if (!(o.xovr >= 0 && o.xovr <= 1)) throw new UserError(`GA crossover probability ${o.xovr}: expected a number in [0, 1]`);
  if (o.constraintHandling !== 'mark' && o.constraintHandling !== 'violation')
    throw new UserError(`GA constraint handling '${o.constraintHandling}': expected mark or violation`);
  if (counts.length < 1 || counts.some((c) => !Number.isSafeInteger(c) || c < 1)) throw new UserError(`GA genes: every gene needs at least one choice, got [${counts}]`);
}

export async function elitistGa(problem: GaProblem, options: GaOptions = {}): Promise<GaResult> {
  const o = { ...GA_DEFAULTS, ...options };
  const { counts } = problem;
  checkOptions(o, counts);
  const L = counts.length;
  const rng = new PythonRandom(o.seed);
  let evaluations = 0;
  const evaluate = async (chroms: number[][]): Promise<Individual[]> => {
    const r = await problem.evaluate(chroms);
    evaluations += chroms.length;
    return chroms.map((genes, i) => ({
      genes,
      objective: Number.isNaN(r.objective[i]) ? Infinity : r.objective[i],
      violation: r.violation[i],
    }));
  };

  const init: number[][] = [];
  for (const p of options.prophets ?? []) {
    if (p.length !== L || p.some((g, i) => !Number.isInteger(g) || g < 0 || g >= counts[i])) throw new UserError(`GA prophet [${p}]: not a chromosome of ${L} genes within [${counts.map((c) => c - 1)}]`);
    if (init.length < o.population) init.push([...p]);
  }
  while (init.length < o.population) init.push(counts.map((c) => rng.randbelow(c)));
  let pop = await evaluate(init);
  const bestSoFar = (p: Individual[], prev: number | null) => {
    let b = prev;
    for (const x of p) if (x.violation <= 0 && (b === null || x.objective < b)) b = x.objective;
    return b;
  };
  const history: (number | null)[] = [bestSoFar(pop, null)];

  const N = o.population;
  for (let gen = 0; gen < o.generations; gen++) {
    // Binary tournament: the better of two uniformly drawn individuals (the first on a tie).
    const parents: number[][] = [];
    for (let k = 0; k < N; k++) {
      const a = pop[rng.randbelow(N)], b = pop[rng.randbelow(N)];
      parents.push([...(better(b, a, o.constraintHandling) ? b : a).genes]);
    }
    // Two-point crossover of consecutive pairs: swap the genes in [lo, hi).
    for (let k = 0; k + 1 < N; k += 2) {
      if (L < 2 || rng.random() >= o.xovr) continue;
      let lo = rng.randbelow(L), hi = rng.randbelow(L);
      if (lo > hi) [lo, hi] = [hi, lo];
      hi += 1;
      for (let i = lo; i < hi; i++) [parents[k][i], parents[k + 1][i]] = [parents[k + 1][i], parents[k][i]];
    }
    // Mutation: with probability pm a gene takes another of its values, uniformly.
    for (const c of parents)
      for (let i = 0; i < L; i++) {
        if (counts[i] < 2 || rng.random() >= o.pm) continue;
        const v = rng.randbelow(counts[i] - 1);
        c[i] = v >= c[i] ? v + 1 : v;
      }
    const offspring = await evaluate(parents);
    // Elitist reinsertion: the N fittest of parents + offspring (stable: parents first on ties).
    const merged = [...pop, ...offspring];
    const order = merged.map((_, i) => i).sort((i, j) => compare(merged[i], merged[j], o.constraintHandling) || i - j);
    pop = order.slice(0, N).map((i) => merged[i]);
    history.push(bestSoFar(pop, history[history.length - 1]));
  }
  const sorted = [...pop].sort((a, b) => compare(a, b, o.constraintHandling));
  const best = sorted.find((x) => x.violation <= 0) ?? null;
  return { best, population: pop, evaluations, history };
}
