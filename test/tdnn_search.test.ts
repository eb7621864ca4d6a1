// EfficientTDNN subnet search (lib/tdnn/search.ts, lib/tdnn/evolution.ts): every method keeps to
// its MACs (and params) budget, is deterministic per seed and returns the best candidate it
// scored; the GA finds the exhaustive optimum of a small space; budget parsing; the CLI's
// input errors (exit 2, one line). The objective is a freshly initialised, seeded accuracy
// predictor (a real MLP over the reference's 48-dim one-hot code), so nothing depends on fixtures.
import test from 'ava';
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { UserError } from '../lib/errors.ts';
import { elitistGa } from '../lib/tdnn/evolution.ts';
import { subnetCost } from '../lib/tdnn/macs.ts';
import { AccuracyPredictor } from '../lib/tdnn/predictor.ts';
import { TDNNPath } from '../lib/tdnn/sampler.ts';
import {
  type Budget, type Objective, checkBudget, evolutionSearch, gridSearch, parseCount, predictorObjective, randomSearch, smallestSubnet, uniformGrid,
} from '../lib/tdnn/search.ts';
import { type Space, genesToSubnet, namedSpace } from '../lib/tdnn/space.ts';
import { type Subnet, formatSubnet } from '../lib/tdnn/subnet.ts';
import { cli } from './helpers/cli.ts';
import { TDNN8M2G } from './helpers/tdnn_fixtures.ts';

const dims = TDNN8M2G;
const coarse = namedSpace(dims, 'coarse');
const predictor = AccuracyPredictor.create(48, { seed: 11 });
const objective = predictorObjective(predictor, dims);
const macsOf = (s: Subnet, frames = 300) => subnetCost(s, dims, frames).macs;
const budgetOf = (macs: bigint, params?: bigint): Budget => ({ macs, params, frames: 300 });

/** Records every subnet the objective was asked about. */
function recording(inner: Objective): { objective: Objective; seen: Subnet[] } {
  const seen: Subnet[] = [];
  return { seen, objective: async (subs) => { seen.push(...subs); return inner(subs); } };
}

/** Every distinct subnet of a (small) space. */
function enumerate(space: Space): Subnet[] {
  const out = new Map<string, Subnet>();
  const rec = (i: number, genes: number[]) => {
    if (i === space.length) { const s = genesToSubnet(genes); out.set(formatSubnet(s), s); return; }
    for (const v of space[i]) rec(i + 1, [...genes, v]);
  };
  rec(0, []);
  return [...out.values()];
}

test('parseCount: suffixes, exponents, exact integers; bad text is a UserError naming the option', (t) => {
  t.is(parseCount('204M', '--macs'), 204_000_000n);
  t.is(parseCount('1.45G', '--macs'), 1_450_000_000n);
  t.is(parseCount('571e6', '--macs'), 571_000_000n);
  t.is(parseCount('83474560', '--macs'), 83_474_560n);
  t.is(parseCount('2k', '--params'), 2000n);
  for (const bad of ['', 'abc', '-5M', '12X', '0'])
    t.throws(() => parseCount(bad, '--macs'), { instanceOf: UserError, message: /--macs/ });
});

test('checkBudget: a MACs or params budget below the smallest subnet names that subnet and its count', (t) => {
  const small = smallestSubnet(coarse);
  const c = subnetCost(small, dims, 300);
  t.notThrows(() => checkBudget(coarse, dims, budgetOf(c.macs)));
  const e = t.throws(() => checkBudget(coarse, dims, budgetOf(c.macs - 1n)), { instanceOf: UserError });
  t.true(e!.message.includes(String(c.macs)) && e!.message.includes(formatSubnet(small)), e!.message);
  const p = t.throws(() => checkBudget(coarse, dims, budgetOf(c.macs, c.params - 1n)), { instanceOf: UserError });
  t.true(p!.message.includes(String(c.params)), p!.message);
});

test('evolution: the best subnet and every subnet it scores keep to the budget; the same seed gives the same run', async (t) => {
  for (const macs of [204_000_000n, 571_000_000n, 1_450_000_000n]) {
    const a = recording(objective);
    const ra = await evolutionSearch(coarse, dims, budgetOf(macs), a.objective, { seed: 5, generations: 30 });
    t.true(ra.best.macs <= macs, `${formatSubnet(ra.best.subnet)}: ${ra.best.macs} > ${macs}`);
    t.is(ra.best.macs, macsOf(ra.best.subnet));
    t.true(a.seen.length > 0 && a.seen.every((s) => macsOf(s) <= macs), 'only feasible subnets are scored');
    // The answer is the best scored one, and the history never gets worse (elitism).
    const scores = await objective(a.seen);
    t.is(ra.best.score, Math.min(...scores));
    for (let i = 1; i < ra.history.length; i++) if (ra.history[i - 1] !== null) t.true(ra.history[i]! <= ra.history[i - 1]!);
    const rb = await evolutionSearch(coarse, dims, budgetOf(macs), objective, { seed: 5, generations: 30 });
    t.deepEqual(rb, ra);
  }
});

test('evolution: a parameter budget is kept as well', async (t) => {
  const r = await evolutionSearch(coarse, dims, budgetOf(1_000_000_000n, 2_000_000n), objective, { seed: 2, generations: 20 });
  t.true(r.best.macs <= 1_000_000_000n && r.best.params <= 2_000_000n, `${r.best.macs} MACs, ${r.best.params} params`);
});

test('evolution: finds the exhaustive optimum of the kernel+depth space under a budget (three seeds, BG and RI)', async (t) => {
  const space = namedSpace(dims, 'depth');
  const budget = budgetOf(1_500_000_000n);
  const all = enumerate(space).filter((s) => macsOf(s) <= budget.macs);
  t.true(all.length > 20 && all.length < 351, `${all.length} feasible of 351`);
  const scores = await objective(all);
  const best = Math.min(...scores);
  for (const encoding of ['BG', 'RI'] as const)
    for (const seed of [1, 2, 3]) {
      const r = await evolutionSearch(space, dims, budget, objective, { seed, generations: 40, encoding });
      t.true(Math.abs(r.best.score - best) <= 1e-6 * Math.abs(best), `${encoding} seed ${seed}: ${r.best.score} vs exhaustive ${best}`);
    }
});

test("elitistGa: 'violation' walks a fully infeasible start into the feasible optimum; deterministic; bad options are UserErrors", async (t) => {
  // 8 genes of 10 values, feasible only when the sum is <= 4: a random start is almost surely infeasible.
  const problem = {
    counts: Array(8).fill(10),
    evaluate: (cs: number[][]) => ({ objective: cs.map((c) => -c.reduce((a, b) => a + b, 0)), violation: cs.map((c) => Math.max(0, c.reduce((a, b) => a + b, 0) - 4)) }),
  };
  for (const encoding of ['BG', 'RI'] as const) {
    const v = await elitistGa(problem, { seed: 3, generations: 60, constraintHandling: 'violation', encoding });
    t.truthy(v.best);
    t.is(v.best!.violation, 0);
    t.is(v.best!.objective, -4, 'the feasible optimum: sum exactly 4');
    t.is(v.history[0], null, 'the initial population was infeasible');
  }
  const m1 = await elitistGa(problem, { seed: 3, generations: 5 });
  const m2 = await elitistGa(problem, { seed: 3, generations: 5 });
  t.deepEqual(m1, m2);
  await t.throwsAsync(elitistGa(problem, { population: 1 }), { instanceOf: UserError, message: /population/ });
  await t.throwsAsync(elitistGa(problem, { pm: 2 }), { instanceOf: UserError, message: /mutation/ });
});

test('random search: the best of the feasible draws of the reference sampler, deterministic per seed', async (t) => {
  const budget = budgetOf(571_000_000n);
  const r = await randomSearch(coarse, dims, budget, objective, { samples: 400, seed: 9 });
  t.true(r.best.macs <= budget.macs);
  const sampler = new TDNNPath(coarse, 9);
  const seen = new Map<string, Subnet>();
  for (let i = 0; i < 400; i++) { const s = sampler.sample(); if (macsOf(s) <= budget.macs) seen.set(formatSubnet(s), s); }
  const feasible = [...seen.values()];
  t.is(r.feasible, feasible.length);
  const scores = await objective(feasible);
  t.is(r.best.score, Math.min(...scores));
  t.deepEqual(await randomSearch(coarse, dims, budget, objective, { samples: 400, seed: 9 }), r);
  // Too tight for 3 draws: one clear error.
  const tight = budgetOf(macsOf(smallestSubnet(coarse)));
  await t.throwsAsync(randomSearch(coarse, dims, tight, objective, { samples: 3, seed: 1 }), { instanceOf: UserError, message: /none of the 3 draws/ });
});

test('grid search: uniform subnets (depth x width level x kernel level x cat), the best feasible one; maxMeasure takes the largest', async (t) => {
  const grid = uniformGrid(coarse);
  t.is(grid.length, 3 * 5 * 3 * 5);
  t.true(grid.every((s) => new Set(s.channels).size === 1 && new Set(s.kernels).size === 1));
  const budget = budgetOf(204_000_000n);
  const rec = recording(objective);
  const r = await gridSearch(coarse, dims, budget, rec.objective);
  const feasible = grid.filter((s) => macsOf(s) <= budget.macs);
  t.is(r.feasible, feasible.length);
  t.is(rec.seen.length, feasible.length);
  t.true(r.best.macs <= budget.macs);
  t.is(r.best.score, Math.min(...(await objective(feasible))));
  const few = recording(objective);
  await gridSearch(coarse, dims, budget, few.objective, { maxMeasure: 3 });
  const largest = [...feasible].sort((a, b) => Number(macsOf(b) - macsOf(a))).slice(0, 3).map((s) => macsOf(s));
  t.deepEqual(few.seen.map((s) => macsOf(s)).sort((a, b) => Number(b - a)), largest);
});

test('predictorObjective: the reference coarse code for tdnn8m2g; a 4-block supernet only', (t) => {
  t.throws(() => predictorObjective(predictor, { ...dims, numBlocks: 3 }), { instanceOf: UserError, message: /NUM_BLOCKS/ });
});

// ---- CLI errors: before any data or weights are read ----
const SEARCH = ['tdnn', 'search', '--cfg', 'exps/tdnn/supernet.yaml', '--weights', '/nonexistent/weights', '--data', '/nonexistent/data'];

test('CLI: a MACs budget below the smallest subnet is one error (exit 2) naming its MACs', (t) => {
  const r = cli([...SEARCH, '--macs', '50M', '--method', 'random']);
  t.is(r.status, 2, r.stderr);
  const small = smallestSubnet(coarse);
  t.true(r.stderr.includes(String(macsOf(small))) && r.stderr.includes(formatSubnet(small)), r.stderr);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.is(r.stdout, '');
});

test('CLI: a predictor dir with a missing key, evolution without a predictor, a bad method: exit 2, one line each', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tdnn-search-'));
  try {
    predictor.save(join(dir, 'pred'));
    cpSync(join(dir, 'pred'), join(dir, 'broken'), { recursive: true });
    rmSync(join(dir, 'broken', 'model.3.weight.npy'));
    const missing = cli([...SEARCH, '--macs', '204M', '--predictor', join(dir, 'broken')]);
    t.is(missing.status, 2, missing.stderr);
    t.regex(missing.stderr, /missing tensor 'model\.3\.weight'/);
    t.is(missing.stderr.trim().split('\n').length, 1);
    const noPred = cli([...SEARCH, '--macs', '204M']);
    t.is(noPred.status, 2);
    t.regex(noPred.stderr, /--method evolution .* needs --predictor/);
    const bad = cli([...SEARCH, '--macs', '204M', '--method', 'bayes']);
    t.is(bad.status, 2);
    t.regex(bad.stderr, /--method 'bayes'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
