// `autospeech demo --system tdnn` (lib/tdnn/demo.ts): the budget and pair helpers, and the whole
// workflow end to end on the tiny demo set with a tiny supernet (every stage a couple of steps):
// results.json has the shape, every searched subnet keeps to its budget, the measured pairs
// and the trained predictor are in the run dir and reload, and bad options fail before training.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadConfig } from '../lib/config/index.ts';
import { preprocess } from '../lib/data/store.ts';
import { PROJECT_ROOT } from '../lib/native.ts';
import { BUDGET_FRACTIONS, defaultBudgets, kendallTau, pairSubnets, roundBudget } from '../lib/tdnn/demo.ts';
import { subnetCost } from '../lib/tdnn/macs.ts';
import { AccuracyPredictor, readEerPairs } from '../lib/tdnn/predictor.ts';
import { supernetCoder } from '../lib/tdnn/search.ts';
import { namedSpace, spaceBounds } from '../lib/tdnn/space.ts';
import { formatSubnet, parseSubnet, supernetDims } from '../lib/tdnn/subnet.ts';
import { cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';

test('kendallTau: +1 for the same order, -1 for the reverse, ties neither', (t) => {
  t.is(kendallTau([1, 2, 3, 4], [10, 20, 30, 40]), 1);
  t.is(kendallTau([1, 2, 3, 4], [4, 3, 2, 1]), -1);
  // pairs: (1,2) tie in b -> 0; (1,3) +; (2,3) + => 2/3
  t.is(kendallTau([1, 2, 3], [5, 5, 6]), 2 / 3);
  t.true(Number.isNaN(kendallTau([1], [1])));
});

test('budgets: three round counts strictly between the smallest and the largest subnet, growing', (t) => {
  t.is(roundBudget(22_613_457), 22_600_000n);
  t.is(roundBudget(987), 987n);
  const cfg = loadConfig(join(PROJECT_ROOT, 'exps', 'demo', 'tdnn_width2.yaml'), []);
  const d = supernetDims(cfg);
  const { lower, upper } = spaceBounds(namedSpace(d, 'coarse'));
  const lo = subnetCost(lower, d, 300).macs, hi = subnetCost(upper, d, 300).macs;
  const b = defaultBudgets(lo, hi);
  t.is(b.length, BUDGET_FRACTIONS.length);
  t.true(b.every((x, i) => x > lo && x < hi && (i === 0 || x > b[i - 1])), `${lo} < ${b} < ${hi}`);
});

test('pairSubnets: distinct, the bounds first, deterministic per seed, all in the coarse space', (t) => {
  const cfg = loadConfig(join(PROJECT_ROOT, 'exps', 'demo', 'tdnn_width2.yaml'), []);
  const d = supernetDims(cfg);
  const space = namedSpace(d, 'coarse');
  const { lower, upper } = spaceBounds(space);
  const a = pairSubnets(cfg, 20, 666).map(formatSubnet);
  t.is(a.length, 20);
  t.is(new Set(a).size, 20);
  t.deepEqual(a.slice(0, 2), [formatSubnet(lower), formatSubnet(upper)]);
  t.deepEqual(pairSubnets(cfg, 20, 666).map(formatSubnet), a);
  t.notDeepEqual(pairSubnets(cfg, 20, 667).map(formatSubnet), a);
  const widths = new Set(space.slice(1, 6).flat());
  for (const s of a.map((x) => parseSubnet(x))) t.true(s.channels.every((c) => widths.has(c)), formatSubnet(s));
});

test('demo --system: an unknown system and overrides for the AutoSpeech demo are one clear error, exit 2', (t) => {
  const r = cli(['demo', '--system', 'bogus']);
  t.is(r.status, 2);
  t.regex(r.stderr, /--system 'bogus': expected one of autospeech, tdnn/);
  const o = cli(['demo', 'THREADS', '2']);
  t.is(o.status, 2);
  t.regex(o.stderr, /overrides .* are for --system tdnn/);
});

test.serial('demo --system tdnn end to end on the tiny set: results.json, budgets kept, pairs and predictor saved', async (t) => {
  const data = await tinyDemoSet();
  if (!existsSync(join(data, 'store_logmel', 'index.json'))) await preprocess(data, join(data, 'store_logmel'), { frontend: 'logmel' });
  const out = mkdtempSync(join(tmpdir(), 'tdnn-demo-'));
  const tiny = ['MODEL.NUM_CLASSES', '8', 'MODEL.CHANNELS', '32', 'MODEL.CAT_CHANNELS', '96', 'MODEL.EMBED_DIM', '16',
    'TRAIN.BATCH_SIZE', '8', 'DATASET.TRAIN_SAMPLES', '8000', 'TRAIN.CYCLE_STEP', '2', 'TRAIN.END_EPOCH', '1', 'TRAIN.STEPS_PER_EPOCH', '2', 'THREADS', '1'];
  writeFileSync(join(out, 'tiny.yaml'), 'MODEL:\n  NAME: tdnn8m2g\n  CHANNELS: 32\n  CAT_CHANNELS: 96\n  EMBED_DIM: 16\n');
  const bad = cli(['demo', '--system', 'tdnn', '--data', data, '--out', out, 'TRAIN.BATCH_SIZE', '0']);
  t.is(bad.status, 2, bad.stderr);
  t.regex(bad.stderr, /TRAIN\.BATCH_SIZE/);
  t.false(existsSync(join(out, 'results.json')));

  const r = cli(['demo', '--system', 'tdnn', '--data', data, '--out', out, '--pairs', '10', '--generations', '4', '--recalibrate', '16',
    '--autospeech-results', join(out, 'none.json'), ...tiny, '--json']);
  t.is(r.status, 0, r.stderr.slice(-3000));
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  t.deepEqual(JSON.parse(r.stdout), res);
  t.is(res.system, 'tdnn');
  t.true(res.seconds > 0);
  t.is(res.subnets.length, 3);
  for (const s of res.subnets) {
    t.truthy(parseSubnet(s.subnet));
    t.true(s.macs <= s.macs_budget, `${s.subnet}: ${s.macs} > ${s.macs_budget}`);
    t.true(s.params > 0);
    t.true(Number.isFinite(s.predicted_eer));
    t.true(s.eer >= 0 && s.eer <= 1);
    t.true(s['minDCF_0.01'] >= 0 && s['minDCF_0.01'] <= 1.0000001);
  }
  t.true(res.subnets.every((s: { macs_budget: number }, i: number) => i === 0 || s.macs_budget > res.subnets[i - 1].macs_budget));
  t.true(res.bounds.smallest.macs < res.bounds.largest.macs);
  t.is(res.autospeech, null);
  t.is(typeof res.budget_order_ok, 'boolean');
  t.deepEqual(Object.keys(res.runs).slice(0, 5), ['largest', 'kernel', 'depth', 'width1', 'width2']);
  // The pairs file is `tdnn predict --train` input; the predictor reloads strictly and predicts.
  const pairs = readEerPairs(res.runs.pairs);
  t.is(pairs.length, 10);
  t.is(res.predictor.pairs, 10);
  t.is(res.predictor.train_pairs + res.predictor.heldout_pairs, 10);
  const p = AccuracyPredictor.load(res.predictor.dir);
  const coder = supernetCoder(supernetDims(loadConfig(join(PROJECT_ROOT, 'exps', 'demo', 'tdnn_width2.yaml'), tiny)));
  t.is(p.inFeats, coder.nfeat);
  t.true(Number.isFinite(p.predict([pairs[0].subnet], coder).eer[0]));
  // `tdnn predict --cfg` codes subnets in that supernet's space: the same prediction from the CLI.
  const cliPred = cli(['tdnn', 'predict', '--cfg', join(out, 'tiny.yaml'), '--predictor', res.predictor.dir, '--subnet', formatSubnet(pairs[0].subnet), '--json']);
  t.is(cliPred.status, 0, cliPred.stderr);
  t.is(JSON.parse(cliPred.stdout).eer, p.predict([pairs[0].subnet], coder).eer[0]);
  // Each chosen subnet's measurement equals a fresh `tdnn evaluate` of the same clone (same recalibration draws).
  const s0 = res.subnets[0];
  const ev = cli(['tdnn', 'evaluate', '--cfg', 'exps/demo/tdnn_width2.yaml', ...tiny, '--weights', res.runs.width2, '--data', data, '--subnet', s0.subnet,
    '--recalibrate', '16', '--recalibrate-batch', '16', '--recalibrate-samples', '32000', '--seed', '666', '--json']);
  t.is(ev.status, 0, ev.stderr);
  t.is(JSON.parse(ev.stdout).eer, s0.eer);
});
