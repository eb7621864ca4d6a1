// MACs-constrained subnet search of EfficientTDNN (the paper's three methods: manual grid search,
// random search and model-predictive evolutionary search) over a search space (lib/tdnn/space.ts,
// the coarse space by default). Every method returns the best subnet under the budget by an
// objective: the accuracy predictor's EER (cheap, batched) or a measured EER (expensive: BN
// recalibration + evaluation per candidate). The budget is sugar's count_ops at (1, IN_FEATS, T)
// (lib/tdnn/macs.ts; the paper's T = 300) and optionally count_params.
//  * random: `samples` draws of the reference sampler (TDNNPath, Python random.Random(seed)),
//    distinct subnets within budget ranked by the objective (first drawn wins a tie);
//  * grid: the grid of uniform subnets, every layer at the same width level and the same kernel
//    level (the shape of the paper's bounded subnets largest / Kmin / Dmin / C1min / smallest):
//    depth x width level x kernel level x cat, within budget, ranked by the objective;
//  * evolution: the elitist GA (lib/tdnn/evolution.ts) over one gene per space list (an index into
//    its choices: for tdnn8m2g's coarse and fine spaces exactly MinimizeError's genes up to an
//    offset: depth lb 2 and kernel lb 1 become index 0; geatpy's BG decoding round(lb + v (ub - lb)
//    / (2^bits - 1)) commutes with that integer shift, so the genes decode as MinimizeError's do),
//    objective the predictor, constraint the budget.
// With a measured objective only `maxMeasure` candidates are measured: the first feasible draws
// (random) or the feasible grid points with the most MACs (grid: within a budget the larger nets
// are expected to be the better ones).
import { UserError } from '../errors.ts';
import { ArchCoder, CODER_KEYS, type CoderKey } from './encoding.ts';
import { type GaOptions, elitistGa } from './evolution.ts';
import { subnetCost } from './macs.ts';
import type { AccuracyPredictor } from './predictor.ts';
import { TDNNPath } from './sampler.ts';
import { type Space, genesToSubnet, namedSpace, spaceBounds } from './space.ts';
import { type Subnet, type SupernetDims, formatSubnet } from './subnet.ts';

export const SEARCH_METHODS = ['evolution', 'random', 'grid'] as const;
export type SearchMethod = (typeof SEARCH_METHODS)[number];

/** The paper's input length for MACs: (1, 80, 300), 3 s. */
export const PAPER_FRAMES = 300;

export interface Budget {
  macs: bigint;
  params?: bigint;
  /** input length the MACs are counted at */
  frames: number;
}

/** "204M", "1.45G", "571e6", "83474560": a count with an optional K/M/G/T suffix (powers of 1000). */
export function parseCount(text: string, option: string): bigint {
  const m = /^\s*(\d+(?:\.\d*)?|\.\d+)(?:e(\d+))?\s*([kKmMgGtT]?)\s*$/.exec(text);
  if (!m) throw new UserError(`${option} '${text}': expected a count such as 204M, 1.45G, 571e6 or 83474560`);
  const scale = { '': 1, k: 1e3, m: 1e6, g: 1e9, t: 1e12 }[m[3].toLowerCase() as '' | 'k' | 'm' | 'g' | 't'];
  const v = Number(m[1]) * 10 ** Number(m[2] ?? 0) * scale;
  if (!Number.isFinite(v) || v < 1) throw new UserError(`${option} '${text}': expected a positive count`);
  // Exact for plain integers; suffixed decimals are rounded to the nearest integer.
  return /^\s*\d+\s*$/.test(text) ? BigInt(text.trim()) : BigInt(Math.round(v));
}

export interface Scored {
  subnet: Subnet;
  macs: bigint;
  params: bigint;
  /** the objective (predicted or measured EER, lower is better) */
  score: number;
}

/** Lower is better; one value per subnet, in order. */
export type Objective = (subnets: Subnet[]) => Promise<number[]>;

export interface SearchResult {
  method: SearchMethod;
  best: Scored;
  /** distinct subnets the objective was computed for */
  evaluated: number;
  /** distinct feasible subnets seen */
  feasible: number;
}

/** The subnet with every gene at its smallest choice: the least MACs and params of the space. */
export function smallestSubnet(space: Space): Subnet {
  return spaceBounds(space).lower;
}

/**
 * One clear error when no subnet of the space fits: the smallest subnet's MACs (and params) named.
 */
export function checkBudget(space: Space, dims: SupernetDims, budget: Budget): void {
  const s = smallestSubnet(space);
  const c = subnetCost(s, dims, budget.frames);
  if (c.macs > budget.macs)
    throw new UserError(`--macs ${budget.macs}: below the smallest subnet of the space, ${formatSubnet(s)} with ${c.macs} MACs at ${budget.frames} frames`);
  if (budget.params !== undefined && c.params > budget.params)
    throw new UserError(`--params ${budget.params}: below the smallest subnet of the space, ${formatSubnet(s)} with ${c.params} parameters`);
}

function costOf(s: Subnet, dims: SupernetDims, budget: Budget) {
  const c = subnetCost(s, dims, budget.frames);
  const over = c.macs > budget.macs ? Number(c.macs - budget.macs) / Number(budget.macs) : 0;
  const overP = budget.params !== undefined && c.params > budget.params ? Number(c.params - budget.params) / Number(budget.params) : 0;
  return { ...c, violation: over + overP };
}

/**
 * The predictor as an objective: the one-hot code of the supernet's coarse space (48 inputs: for
 * tdnn8m2g exactly ArchCoder(48), the shipped predictor's) or fine space (408), whatever space is
 * searched; a searched value outside the code's choices is an error naming it.
 */
export function predictorObjective(predictor: AccuracyPredictor, dims: SupernetDims): Objective {
  const coder = supernetCoder(dims, predictor.inFeats);
  return async (subnets) => Array.from(predictor.predict(subnets, coder).eer);
}

/**
 * The one-hot coder of a supernet's coarse (48 inputs for tdnn8m2g: exactly ArchCoder(48); fewer
 * for a narrow supernet whose width ratios round to the same multiple of 8) or fine (408) space:
 * the one a predictor of `inFeats` inputs takes for this supernet (the coarse one when omitted).
 */
export function supernetCoder(dims: SupernetDims, inFeats?: number): ArchCoder {
  if (dims.numBlocks !== 4) throw new UserError(`the accuracy predictor encodes 12 genes (a 4-block supernet); MODEL.NUM_BLOCKS is ${dims.numBlocks}`);
  const coding = namedSpace(dims, inFeats === 408 ? 'fine' : 'coarse');
  const coder = new ArchCoder(CODER_KEYS.map((k, i) => [k, coding[i]] as [CoderKey, number[]]));
  if (inFeats !== undefined && coder.nfeat !== inFeats)
    throw new UserError(`the predictor takes ${inFeats} inputs; the one-hot codes of this supernet's spaces have ${coder.nfeat} (coarse) or 408 (fine) dims`);
  return coder;
}

/** Distinct subnets within budget in first-seen order, ranked by the objective (stable). */
async function rank(cands: Subnet[], dims: SupernetDims, budget: Budget, objective: Objective): Promise<{ best: Scored; evaluated: number }> {
  const scores = cands.length ? await objective(cands) : [];
  let best: Scored | undefined;
  cands.forEach((s, i) => {
    const score = Number.isNaN(scores[i]) ? Infinity : scores[i];
    if (!best || score < best.score) {
      const c = subnetCost(s, dims, budget.frames);
      best = { subnet: s, macs: c.macs, params: c.params, score };
    }
  });
  if (!best) throw new Error('search: no candidate to rank');
  return { best, evaluated: cands.length };
}

function distinctFeasible(subnets: Iterable<Subnet>, dims: SupernetDims, budget: Budget): Subnet[] {
  const seen = new Set<string>();
  const out: Subnet[] = [];
  for (const s of subnets) {
    const key = formatSubnet(s);
    if (seen.has(key)) continue;
    seen.add(key);
    if (costOf(s, dims, budget).violation <= 0) out.push(s);
  }
  return out;
}

export interface RandomOptions { samples: number; seed: number; maxMeasure?: number }

export async function randomSearch(space: Space, dims: SupernetDims, budget: Budget, objective: Objective, o: RandomOptions): Promise<SearchResult> {
  checkBudget(space, dims, budget);
  const sampler = new TDNNPath(space, o.seed);
  const draws = Array.from({ length: o.samples }, () => sampler.sample());
  let feasible = distinctFeasible(draws, dims, budget);
  if (feasible.length === 0)
    throw new UserError(`random search: none of the ${o.samples} draws fits the budget (${budget.macs} MACs${budget.params !== undefined ? `, ${budget.params} params` : ''}); raise --samples or use --method evolution`);
  const total = feasible.length;
  if (o.maxMeasure !== undefined) feasible = feasible.slice(0, o.maxMeasure);
  const r = await rank(feasible, dims, budget, objective);
  return { method: 'random', ...r, feasible: total };
}

/** The grid of uniform subnets of a space: depth x width level x kernel level x cat. */
export function uniformGrid(space: Space): Subnet[] {
  const half = (space.length - 2) / 2;
  const sorted = space.map((c) => [...new Set(c)].sort((a, b) => a - b));
  const widthLevels = Math.max(...sorted.slice(1, 1 + half).map((c) => c.length));
  const kernelLevels = Math.max(...sorted.slice(1 + half, 1 + 2 * half).map((c) => c.length));
  const at = (c: number[], level: number) => c[Math.min(level, c.length - 1)];
  const out: Subnet[] = [];
  for (const depth of sorted[0])
    for (let w = 0; w < widthLevels; w++)
      for (let k = 0; k < kernelLevels; k++)
        for (const cat of sorted[sorted.length - 1]) {
          const genes = [depth, ...sorted.slice(1, 1 + half).map((c) => at(c, w)), ...sorted.slice(1 + half, 1 + 2 * half).map((c) => at(c, k)), cat];
          out.push(genesToSubnet(genes));
        }
  return out;
}

export interface GridOptions { maxMeasure?: number }

export async function gridSearch(space: Space, dims: SupernetDims, budget: Budget, objective: Objective, o: GridOptions = {}): Promise<SearchResult> {
  checkBudget(space, dims, budget);
  let feasible = distinctFeasible(uniformGrid(space), dims, budget);
  if (feasible.length === 0) throw new UserError(`grid search: no uniform subnet of the space fits the budget (${budget.macs} MACs); use --method random or evolution`);
  const total = feasible.length;
  if (o.maxMeasure !== undefined && feasible.length > o.maxMeasure) {
    // The largest within budget first (stable for equal MACs).
    const macs = new Map(feasible.map((s) => [formatSubnet(s), subnetCost(s, dims, budget.frames).macs]));
    feasible = feasible.map((s, i) => ({ s, i })).sort((a, b) => {
      const d = macs.get(formatSubnet(b.s))! - macs.get(formatSubnet(a.s))!;
      return d > 0n ? 1 : d < 0n ? -1 : a.i - b.i;
    }).slice(0, o.maxMeasure).map((x) => x.s);
  }
  const r = await rank(feasible, dims, budget, objective);
  return { method: 'grid', ...r, feasible: total };
}

export type EvolutionOptions = GaOptions;

export async function evolutionSearch(space: Space, dims: SupernetDims, budget: Budget, objective: Objective, o: EvolutionOptions = {}): Promise<SearchResult & { generations: number; history: (number | null)[] }> {
  checkBudget(space, dims, budget);
  const decode = (genes: number[]) => genesToSubnet(genes.map((g, i) => space[i][g]));
  // Predictions and costs are cached per distinct subnet: the population repeats itself.
  const cache = new Map<string, { objective: number; violation: number }>();
  const feasibleSeen = new Set<string>();
  const result = await elitistGa({
    counts: space.map((c) => c.length),
    evaluate: async (chroms) => {
      const subnets = chroms.map(decode);
      const keys = subnets.map(formatSubnet);
      const todo = new Map<string, Subnet>();
      keys.forEach((k, i) => { if (!cache.has(k)) todo.set(k, subnets[i]); });
      if (todo.size) {
        const list = [...todo.values()];
        const violations = list.map((s) => costOf(s, dims, budget).violation);
        // The objective only for feasible subnets (the rest are ranked by feasibility alone).
        const feas = list.filter((_, i) => violations[i] <= 0);
        const scores = feas.length ? await objective(feas) : [];
        let j = 0;
        list.forEach((s, i) => {
          const key = formatSubnet(s);
          if (violations[i] <= 0) feasibleSeen.add(key);
          cache.set(key, { objective: violations[i] <= 0 ? scores[j++] : Infinity, violation: violations[i] });
        });
      }
      return { objective: keys.map((k) => cache.get(k)!.objective), violation: keys.map((k) => cache.get(k)!.violation) };
    },
  }, o);
  if (!result.best)
    throw new UserError(`evolution: no individual found fits the budget (${budget.macs} MACs); raise --generations or --population, or try --constraint violation`);
  const subnet = decode(result.best.genes);
  const c = subnetCost(subnet, dims, budget.frames);
  return {
    method: 'evolution', best: { subnet, macs: c.macs, params: c.params, score: result.best.objective },
    evaluated: [...cache.values()].filter((v) => v.violation <= 0).length, feasible: feasibleSeen.size,
    // rounds of offspring (BG: MAXGEN - 1, geatpy counting the initial population as generation 0)
    generations: result.history.length - 1, history: result.history,
  };
}
