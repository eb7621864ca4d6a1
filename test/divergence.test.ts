// A diverged run is a failure, never a perfect result: NaN scores rank worst in every metric, a
// non-finite loss stops training (TRAIN.STOP_ON_NONFINITE), and a non-finite model is never saved
// as the best.
import test from 'ava';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { computeEer, minDcf } from '../lib/metrics/eer.ts';
import { identificationAccuracy } from '../lib/metrics/identification.ts';
import { cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';
import { manifest } from './helpers/fixtures.ts';

const G = manifest('derived').scalars.genotype.value as string;

test('identification: a NaN target is never correct and a NaN elsewhere outranks the target', (t) => {
  const nan = new Float32Array(4 * 3).fill(NaN);
  t.is(identificationAccuracy(nan, 3, [0, 1, 2, 0], [1, 1, 1, 1]).top1, 0);
  t.is(identificationAccuracy(nan, 3, [0, 1, 2, 0], [1, 1, 1, 1]).top5, 0);
  // row 0: target 0 finite and largest, but class 2 is NaN -> rank 1 (not top-1, still top-5)
  const mixed = new Float32Array([5, 1, NaN, 0, 9, 1]);
  const r = identificationAccuracy(mixed, 3, [0, 1], [1, 1]);
  t.is(r.top1PerUtterance, 0.5);
  t.is(r.top5PerUtterance, 1);
});

test('EER and minDCF: NaN scores count as errors, so all-NaN scores give the worst EER, not 0', (t) => {
  const labels = [1, 0, 1, 0, 1, 0];
  t.is(computeEer(Array(6).fill(NaN), labels).eer, 1);
  t.is(minDcf(Array(6).fill(NaN), labels, 0.01), 1);
  // one NaN non-target among otherwise separable scores: a false alarm at every threshold
  t.is(computeEer([0.9, NaN, 0.8, 0.2, 0.7, 0.3], labels).eer, 1 / 3);
});

test.serial('a diverging run stops at the first NaN loss (exit 1, step and hint named); with STOP_ON_NONFINITE False it trains on but saves no best', async (t) => {
  const data = await tinyDemoSet();
  const root = mkdtempSync(join(tmpdir(), 'diverge-'));
  const args = ['train', '--cfg', 'exps/demo/scratch_iden.yaml', '--text_arch', G, 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8',
    'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '3', 'TRAIN.END_EPOCH', '2', 'TRAIN.BATCH_SIZE', '8', 'VAL_FREQ', '1', 'TRAIN.LR', '1e8', 'TRAIN.LR_MIN', '1e7'];
  const stopped = cli([...args, 'OUTPUT_DIR', join(root, 'stop')]);
  t.is(stopped.status, 1, stopped.stderr);
  t.regex(stopped.stderr, /training diverged at step \d+ \(epoch 0, batch \d+ of the epoch.*the loss is NaN.*no checkpoint had been written yet.*lower TRAIN\.LR/s);
  const [run] = readdirSync(join(root, 'stop'));
  t.deepEqual(readdirSync(join(root, 'stop', run, 'Model')), []);

  const on = cli([...args, 'TRAIN.STOP_ON_NONFINITE', 'False', 'OUTPUT_DIR', join(root, 'on')]);
  t.is(on.status, 0, on.stderr);
  t.regex(on.stderr, /hold NaN or inf; this checkpoint can never be the best/);
  const [run2] = readdirSync(join(root, 'on'));
  const model = join(root, 'on', run2, 'Model');
  t.false(existsSync(join(model, 'checkpoint_best.ckpt')));
  t.true(existsSync(join(model, 'last.ckpt')));
  const ev = cli(['evaluate', 'identification', '--cfg', 'exps/demo/scratch_iden.yaml', 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8',
    'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '3', '--load_path', join(model, 'last.ckpt'), '--json']);
  t.is(ev.status, 0, ev.stderr);
  t.regex(ev.stderr, /hold NaN or inf \(a diverged run\?\)/);
  t.is(JSON.parse(ev.stdout).top1, 0);
});
