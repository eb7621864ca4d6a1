// The model-predictive evolutionary search of EfficientTDNN: sugar's ea_solve(target, problem,
// encode='BG', NIND=50, MAXGEN=800, Pm=0.1) runs geatpy's soea_SEGA_templet (the "strengthen
// elitist GA") on MinimizeError: 12 integer genes, one objective (the predictor's EER) and
// constraints marked, not penalised (CV = 1 for a subnet that breaks one).
//
// encoding 'BG' (the default) is that run, from geatpy 2.6.0's Python sources (ea_solve's API --
// logTras, verbose, `[BestIndi, population] = run()` -- is geatpy >= 2.6: Algorithm.py
// SoeaAlgorithm, templates/soeas/GA/SEGA/soea_SEGA_templet.py, Population.py, operators/) and the
// recorded outputs of geatpy's compiled 2.7.0 core (lib/tdnn/bg_chromosome.ts says which):
//  1. population.initChrom(NIND): crtpc('BG') = crtbp, every bit 0 or 1 with probability 1/2 (the
//     recorded crtbp mean is 0.5007); the chromosome is lib/tdnn/bg_chromosome.ts's (plain binary
//     by default, bits = ceil(log2(count)) per gene, decoded by scaling and rounding);
//  2. prophets (run(prophetPop)): (prophetPop + population)[:NIND], after the random draws;
//  3. fitness = ea.scaling(ObjV, CV, maxormins): linear in the objective for feasible individuals;
//     an infeasible one is scored as (worst feasible objective + its violation) (recorded case
//     scaling_cv), so all of them rank below every feasible one and, with sugar's CV = 1, tie.
//     Only comparisons of fitness are ever used (tour, dup, argmax), so ranking by (feasible,
//     objective) is the same; 'violation' ranks infeasible ones by how far they break the budget;
//  4. while not terminated(pop): offspring = pop[selecting('tour', FitnV, NIND)]; Xovdp(XOVR=0.7)
//     (the 2.6.0 and 2.7 SEGA both build Xovdp(XOVR=0.7); ea_solve leaves it); Mutbin with
//     mutOper.Pm = 0.1 set by ea_solve; evaluate; pop = pop + offspring (parents first);
//     pop = pop[selecting('dup', FitnV, NIND)], the NIND fittest;
//  5. terminated(): stat() keeps BestIndi, the fittest feasible individual of each population
//     (np.argmax: the first on a tie), replaced only by a strictly better objective; it stops when
//     currentGen + 1 >= MAXGEN, so MAXGEN counts populations including the initial one: MAXGEN - 1
//     rounds of offspring (800 -> 799). The answer is BestIndi (none if nothing feasible was seen).
// Operator details and what could not be settled (the core is compiled, numpy's RNG is not
// reproducible here: every draw comes from Python's random.Random(seed), the project's PythonRandom):
//  * tour: tournament size 2 (the recorded mean pick from fitness 0..99 is 66.4; size 3 gives
//    74.6): here two uniform draws with replacement, the fitter wins, the first on a tie. With or
//    without replacement, and geatpy's tie-break, are not settled (66.2 vs 66.3 expected);
//  * xovdp: pairs (0,1), (2,3), ... each crossed with probability XOVR; the bits between two cut
//    points drawn uniformly from [0, L) with replacement are swapped, both ends included. This fits
//    the recorded share of changed genes (0.303 at XOVR 0.7, L 10: this rule 0.301; cuts in [1, L)
//    swapping [i, j) 0.207). The pairing (consecutive or first half with second half) and an odd
//    individual out are not settled; with tournament-drawn parents the pairing does not change
//    the distribution;
//  * mutbin: every bit flips independently with probability Pm (Mutbin.py: "the probability that
//    the smallest segment the operator acts on mutates"; with Pm None the recorded share of
//    flipped bits is 0.101 = 1/Lind for Lind 10, so None means 1/Lind; ea_solve sets 0.1);
//  * dup: the recorded core returns its selection in random order; here a stable sort (parents
//    before offspring, then by position) picks the NIND fittest, which only matters among ties;
//  * scaling with no feasible individual at all, and crtfld for a gene with one choice, were not
//    recorded: here the infeasible ones tie ('mark') or rank by violation, and such a gene gets a
//    bit that decodes to its only value either way.
//
// encoding 'RI' is the port's earlier integer GA, kept unchanged as a named option (it is not
// geatpy's 'RI' SEGA, which uses Mutbga): one integer gene per choice list, N binary tournaments,
// two-point crossover of consecutive pairs (default XOVR 1), a mutation that redraws a gene with
// probability Pm as a uniformly chosen other value, the 2N merged and the N fittest kept, and
// `generations` rounds of offspring.
import { UserError } from '../errors.ts';
import { type BgCode, type BgField, bgField, decodeChromosome, encodeGenes } from './bg_chromosome.ts';
import { PythonRandom } from './python_random.ts';

export const GA_ENCODINGS = ['BG', 'RI'] as const;
export type GaEncoding = (typeof GA_ENCODINGS)[number];

export interface GaProblem {
  /** number of choices per gene (a gene is an index in [0, counts[i])) */
  counts: number[];
  /**
   * Objective (lower is better) and constraint violation (0 = feasible, > 0 = how far over) of
   * each chromosome's genes, in order.
   */
  evaluate(chromosomes: number[][]): Promise<{ objective: number[]; violation: number[] }> | { objective: number[]; violation: number[] };
}

export interface GaOptions {
  /** 'BG' (default): geatpy's binary chromosome and SEGA; 'RI': the earlier integer-gene GA */
  encoding?: GaEncoding;
  /** BG only: 'binary' (default: crtfld's codes 0, what ea_solve gets) or 'gray' */
  code?: BgCode;
  population?: number;
  /** BG: geatpy's MAXGEN, populations including the initial one; RI: rounds of offspring */
  generations?: number;
  /** mutation probability: per bit (BG, Mutbin Pm) or per gene (RI) */
  pm?: number;
  /** crossover probability per pair (default 0.7 for BG, geatpy's SEGA; 1 for RI) */
  xovr?: number;
  seed?: number;
  constraintHandling?: 'mark' | 'violation';
  /** chromosomes (genes) to put into the initial population (the rest is random) */
  prophets?: number[][];
}

export const GA_DEFAULTS = {
  encoding: 'BG' as GaEncoding, code: 'binary' as BgCode, population: 50, generations: 800, pm: 0.1, xovr: 0.7, seed: 0,
  constraintHandling: 'mark' as const,
};
/** The RI encoding's own crossover default (the earlier GA's). */
export const RI_XOVR = 1;

export interface Individual {
  /** decoded genes: an index into each gene's choices */
  genes: number[];
  objective: number;
  violation: number;
  /** BG: the bits */
  chromosome?: number[];
}

export interface GaResult {
  /** the fittest feasible individual (BG: geatpy's BestIndi), or null when none was feasible */
  best: Individual | null;
  population: Individual[];
  evaluations: number;
  /** per population (0 = the initial one): the best feasible objective so far, or null */
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

type Resolved = Required<Omit<GaOptions, 'prophets'>>;

function resolve(options: GaOptions): Resolved {
  const encoding = options.encoding ?? GA_DEFAULTS.encoding;
  const o = { ...GA_DEFAULTS, xovr: encoding === 'RI' ? RI_XOVR : GA_DEFAULTS.xovr, ...stripUndefined(options) } as Resolved & { prophets?: unknown };
  delete o.prophets;
  return o;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function checkOptions(o: Resolved, counts: number[]): void {
  if (!GA_ENCODINGS.includes(o.encoding)) throw new UserError(`GA encoding '${o.encoding}': expected ${GA_ENCODINGS.join(' or ')}`);
  if (o.code !== 'binary' && o.code !== 'gray') throw new UserError(`GA BG code '${o.code}': expected binary or gray`);
  if (!Number.isSafeInteger(o.population) || o.population < 2) throw new UserError(`GA population ${o.population}: expected an integer >= 2`);
  if (!Number.isSafeInteger(o.generations) || o.generations < 0) throw new UserError(`GA generations ${o.generations}: expected an integer >= 0`);
  if (!(o.pm >= 0 && o.pm <= 1)) throw new UserError(`GA mutation probability ${o.pm}: expected a number in [0, 1]`);
  if (!(o.xovr >= 0 && o.xovr <= 1)) throw new UserError(`GA crossover probability ${o.xovr}: expected a number in [0, 1]`);
  if (o.constraintHandling !== 'mark' && o.constraintHandling !== 'violation')
    throw new UserError(`GA constraint handling '${o.constraintHandling}': expected mark or violation`);
  if (counts.length < 1 || counts.some((c) => !Number.isSafeInteger(c) || c < 1)) throw new UserError(`GA genes: every gene needs at least one choice, got [${counts}]`);
}

function checkProphet(p: number[], counts: number[]): void {
  const L = counts.length;
  if (p.length !== L || p.some((g, i) => !Number.isInteger(g) || g < 0 || g >= counts[i])) throw new UserError(`GA prophet [${p}]: not a chromosome of ${L} genes within [${counts.map((c) => c - 1)}]`);
}

export async function elitistGa(problem: GaProblem, options: GaOptions = {}): Promise<GaResult> {
  const o = resolve(options);
  checkOptions(o, problem.counts);
  for (const p of options.prophets ?? []) checkProphet(p, problem.counts);
  return o.encoding === 'BG' ? segaBg(problem, o, options.prophets ?? []) : integerGa(problem, o, options.prophets ?? []);
}

/** The individual geatpy's stat() would take as the population's best: first feasible argmax. */
function fittestFeasible(pop: Individual[], mode: 'mark' | 'violation'): Individual | null {
  let b: Individual | null = null;
  for (const x of pop) if (x.violation <= 0 && (b === null || better(x, b, mode))) b = x;
  return b;
}

/** geatpy 2.6 soea_SEGA_templet on the 'BG' chromosome (see the file comment). */
async function segaBg(problem: GaProblem, o: Resolved, prophets: number[][]): Promise<GaResult> {
  const field: BgField = bgField(problem.counts, o.code);
  const L = field.length;
  const N = o.population;
  const mode = o.constraintHandling;
  const rng = new PythonRandom(o.seed);
  let evaluations = 0;
  const evaluate = async (chroms: number[][]): Promise<Individual[]> => {
    const genes = chroms.map((c) => decodeChromosome(field, c));
    const r = await problem.evaluate(genes);
    evaluations += chroms.length;
    return chroms.map((chromosome, i) => ({
      genes: genes[i], chromosome,
      objective: Number.isNaN(r.objective[i]) ? Infinity : r.objective[i],
      violation: r.violation[i],
    }));
  };

  // initChrom: N random chromosomes (row by row, bit by bit), then (prophetPop + population)[:N].
  const random: number[][] = Array.from({ length: N }, () => Array.from({ length: L }, () => rng.getrandbits(1)));
  const init = [...prophets.map((p) => encodeGenes(field, p)), ...random].slice(0, N);
  let pop = await evaluate(init);

  // stat(): BestIndi replaced only by a strictly better feasible objective.
  let best: Individual | null = null;
  const history: (number | null)[] = [];
  const stat = (p: Individual[]) => {
    const b = fittestFeasible(p, mode);
    if (b && (best === null || b.objective < best.objective)) best = b;
    history.push(best === null ? null : best.objective);
  };
  stat(pop);

  for (let gen = 0; gen + 1 < o.generations; gen++) {
    // selecting('tour'): binary tournaments, the fitter of two uniform draws (the first on a tie).
    const kids: number[][] = [];
    for (let k = 0; k < N; k++) {
      const a = pop[rng.randbelow(N)], b = pop[rng.randbelow(N)];
      kids.push([...(better(b, a, mode) ? b : a).chromosome!]);
    }
    // Xovdp: consecutive pairs, probability XOVR, swap the bits in [lo, hi] (both cut points uniform).
    for (let k = 0; k + 1 < N; k += 2) {
      if (L < 2 || rng.random() >= o.xovr) continue;
      let lo = rng.randbelow(L), hi = rng.randbelow(L);
      if (lo > hi) [lo, hi] = [hi, lo];
      for (let i = lo; i <= hi; i++) [kids[k][i], kids[k + 1][i]] = [kids[k + 1][i], kids[k][i]];
    }
    // Mutbin: every bit flips with probability Pm.
    for (const c of kids) for (let i = 0; i < L; i++) if (rng.random() < o.pm) c[i] ^= 1;
    const offspring = await evaluate(kids);
    // population + offspring, then selecting('dup'): the N fittest (stable: parents first).
    const merged = [...pop, ...offspring];
    const order = merged.map((_, i) => i).sort((i, j) => compare(merged[i], merged[j], mode) || i - j);
    pop = order.slice(0, N).map((i) => merged[i]);
    stat(pop);
  }
  return { best, population: pop, evaluations, history };
}

/** The earlier integer-gene GA ('RI'), unchanged. */
async function integerGa(problem: GaProblem, o: Resolved, prophets: number[][]): Promise<GaResult> {
  const { counts } = problem;
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
  for (const p of prophets) if (init.length < o.population) init.push([...p]);
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
