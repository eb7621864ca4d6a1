// The EfficientTDNN training step (native TdnnTrainer) and `autospeech tdnn train`:
//  - a tiny supernet's AAM loss decreases over a few dozen steps;
//  - waveform input is LogMelFbanks per crop: a step on waveforms equals a step on the logmel
//    binding's features of the same crops;
//  - Adam with L2 (torch.optim.Adam weight_decay) on every parameter, the kernel transforms and the
//    AAM weight included: the first update equals -lr (g + wd p) / (|g + wd p| + eps) with g the
//    gradient tdnnForward reports for the same weights, path and batch (so also where g is zero
//    outside the path's slice: there only the decay moves the weights);
//  - a progressive-shrinking stage (depth, from a largest-stage checkpoint) killed with SIGKILL
//    mid-stage and resumed ends bit-identical to an uninterrupted run (weights, AAM weight,
//    optimizer state).
import test from 'ava';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { preprocess } from '../lib/data/store.ts';
import { type NativeModel, type TdnnSubnetNative, loadNative } from '../lib/native.ts';
import { cli } from './helpers/cli.ts';
import { finalWeights, metricSteps, runAndKill, runDirOf } from './helpers/kill_resume.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';

const n = loadNative();
const F = 20;
const spec = { kind: 'tdnn', inFeats: F, embedDim: 16, numBlocks: 2, channels: [32, 32, 32], kernels: [5, 5, 5], catChannels: 96 } as const;
const largest: TdnnSubnetNative = { depth: 2, channels: [32, 32, 32], kernels: [5, 5, 5], cat: 96 };
const small: TdnnSubnetNative = { depth: 1, channels: [24, 16], kernels: [3, 1], cat: 48 };

/** Deterministic pseudo-random floats. */
function floats(len: number, seed: number, scale = 1): Float32Array {
  let x = seed >>> 0;
  return Float32Array.from({ length: len }, () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return ((x / 2 ** 32) * 2 - 1) * scale;
  });
}

const mkModel = (seed: number): NativeModel => new n.Model({ ...spec, channels: [...spec.channels], kernels: [...spec.kernels] }, { seed });

test('a tiny supernet learns: the AAM loss decreases', async (t) => {
  const B = 8, T = 40, classes = 4;
  const model = mkModel(1);
  const trainer = new n.TdnnTrainer(model, { classes, lr: 3e-3, weightDecay: 2e-5 });
  // Each class has its own mean pattern plus noise.
  const proto = Array.from({ length: classes }, (_, c) => floats(F * T, 100 + c));
  const y = Int32Array.from({ length: B }, (_, b) => b % classes);
  const losses: number[] = [];
  for (let step = 0; step < 30; step++) {
    const noise = floats(B * F * T, 1000 + step, 0.3);
    const x = new Float32Array(B * F * T);
    for (let b = 0; b < B; b++) for (let i = 0; i < F * T; i++) x[b * F * T + i] = proto[y[b]][i] + noise[b * F * T + i];
    const r = await trainer.step(x, [B, F, T], y, { subnets: [largest], lr: 3e-3 });
    t.true(Number.isFinite(r.loss));
    losses.push(r.loss);
  }
  const head = losses.slice(0, 3).reduce((a, b) => a + b) / 3, tail = losses.slice(-3).reduce((a, b) => a + b) / 3;
  t.true(tail < 0.7 * head, `loss ${head.toFixed(3)} -> ${tail.toFixed(3)}`);
});

test('waveform input: the step computes LogMelFbanks per crop natively', async (t) => {
  const B = 3, L = 4000;
  const waves = floats(B * L, 7, 3000).map(Math.round);
  const y = Int32Array.from([0, 1, 2]);
  const feats: Float32Array[] = [];
  for (let b = 0; b < B; b++) feats.push(n.logmel(waves.subarray(b * L, (b + 1) * L), { melBins: F, scale: 1 }).data);
  const T = feats[0].length / F;
  const x = new Float32Array(B * F * T);
  feats.forEach((f, b) => x.set(f, b * F * T));
  const run = async (input: Float32Array, shape: [number, number] | [number, number, number]) => {
    const m = mkModel(2);
    const tr = new n.TdnnTrainer(m, { classes: 3 });
    const r = await tr.step(input, shape, y, { subnets: [small, largest], lr: 1e-3 });
    return { r, w: m.getTensor(m.stateDict()[0].name).data, W: tr.headState()['aam.W'].data };
  };
  const a = await run(waves, [B, L]);
  const b = await run(x, [B, F, T]);
  t.is(a.r.walkLosses.length, 2);
  t.deepEqual(a.r.walkLosses, b.r.walkLosses);
  t.deepEqual(a.w, b.w);
  t.deepEqual(a.W, b.W);
});

test('Adam with L2 on every parameter and the AAM weight: the first update', async (t) => {
  const B = 4, T = 30, lr = 1e-3, wd = 2e-5, eps = 1e-8;
  const x = floats(B * F * T, 21), y = Int32Array.from([0, 1, 2, 1]);
  const ref = mkModel(3);
  const model = mkModel(3);
  const trainer = new n.TdnnTrainer(model, { classes: 3, lr, weightDecay: wd });
  const W0 = trainer.headState()['aam.W'];
  const before = new Map(model.stateDict().map((e) => [e.name, model.getTensor(e.name).data.slice() as Float32Array]));
  const g = await n.tdnnForward(ref, x, [B, F, T], { mode: 'train', subnet: small, aamWeight: W0.data as Float32Array, aamShape: [16, 3], labels: y });
  await trainer.step(x, [B, F, T], y, { subnets: [small], lr });
  const check = (name: string, p0: Float32Array, p1: Float32Array, grad: Float32Array) => {
    let worst = 0, decayOnly = 0;
    for (let i = 0; i < p0.length; i++) {
      const gp = grad[i] + wd * p0[i];
      const want = p0[i] - (lr * gp) / (Math.abs(gp) + eps);
      worst = Math.max(worst, Math.abs(p1[i] - want) / Math.max(1, Math.abs(p0[i])));
      if (grad[i] === 0 && p0[i] !== 0) decayOnly++;
    }
    t.true(worst < 3e-7, `${name}: worst (relative) error ${worst}`);
    return decayOnly;
  };
  check('aam.W', W0.data as Float32Array, trainer.headState()['aam.W'].data as Float32Array, g.grads!['aam.W'].data as Float32Array);
  const grads = g.grads!;
  const transforms = Object.keys(grads).filter((k) => /k53|k31/.test(k));
  t.true(transforms.length > 0, 'the kernel transforms got gradients on a path with kernels 3 and 1');
  let decayOnly = 0;
  for (const [name, grad] of Object.entries(grads)) {
    if (name === 'aam.W') continue;
    decayOnly += check(name, before.get(name)!, model.getTensor(name).data as Float32Array, grad.data as Float32Array);
  }
  t.true(decayOnly > 0, 'weights outside the slice moved by the decay alone');
  // Parameters without a gradient (not on the path) are not stepped, as torch skips grad None.
  for (const e of model.stateDict()) if (!(e.name in grads) && e.kind === 'parameter') t.deepEqual(model.getTensor(e.name).data, before.get(e.name), e.name);
});

test('bad step arguments get one clear error', async (t) => {
  const trainer = new n.TdnnTrainer(mkModel(4), { classes: 3 });
  const x = floats(2 * F * 10, 1);
  await t.throwsAsync(async () => trainer.step(x, [2, F, 10], Int32Array.from([0, 3]), { subnets: [largest], lr: 1e-3 }), { message: /label 3 at index 1 is outside \[0, 3\)/ });
  await t.throwsAsync(async () => trainer.step(x, [2, F, 10], Int32Array.from([0, 1]), { subnets: [], lr: 1e-3 }), { message: /non-empty array/ });
  await t.throwsAsync(async () => trainer.step(x, [2, F, 10], Int32Array.from([0, 1]), { subnets: [{ ...largest, cat: 97 }], lr: 1e-3 }), { message: /cat/ });
  t.throws(() => trainer.loadHeadState({ 'aam.W': { data: new Float32Array(4), shape: [2, 2] } }), { message: /does not match/ });
});

// ---- the CLI stage, killed and resumed ----

// The supernet, its optimizer state and the AAM head.
const finalState = (runDir: string) => finalWeights(runDir, ['model', 'optim', 'head']);

test.serial('a depth stage killed with SIGKILL mid-stage and resumed is bit-identical to an uninterrupted one', async (t) => {
  const data = await tinyDemoSet();
  if (!existsSync(join(data, 'store_logmel', 'index.json'))) await preprocess(data, join(data, 'store_logmel'), { frontend: 'logmel' });
  const tiny = ['DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'MODEL.CHANNELS', '32', 'MODEL.CAT_CHANNELS', '96', 'MODEL.EMBED_DIM', '16',
    'TRAIN.BATCH_SIZE', '8', 'DATASET.TRAIN_SAMPLES', '8000', 'TRAIN.CYCLE_STEP', '5', 'TRAIN.STEPS_PER_EPOCH', '6', 'TRAIN.CHECKPOINT_STEPS', '1', 'THREADS', '1'];
  const rootA = mkdtempSync(join(tmpdir(), 'tdnn-a-'));
  const first = cli(['tdnn', 'train', '--cfg', 'exps/demo/tdnn_largest.yaml', ...tiny, 'TRAIN.END_EPOCH', '1', 'OUTPUT_DIR', rootA]);
  t.is(first.status, 0, first.stderr);
  const rootB = mkdtempSync(join(tmpdir(), 'tdnn-b-'));
  const largestA = runDirOf(rootA, 'tdnn_largest');
  cpSync(largestA, join(rootB, largestA.split('/').pop()!), { recursive: true });
  const largestB = join(rootB, largestA.split('/').pop()!);
  const stage = ['tdnn', 'train', '--cfg', 'exps/demo/tdnn_depth.yaml', ...tiny, 'TRAIN.END_EPOCH', '2'];
  const a = cli([...stage, 'OUTPUT_DIR', rootA, 'TRAIN.INIT_CHECKPOINT', largestA]);
  t.is(a.status, 0, a.stderr);
  t.regex(a.stderr, /initial weights from .*tdnn_largest_.*last\.ckpt/);
  await runAndKill([...stage, 'OUTPUT_DIR', rootB, 'TRAIN.INIT_CHECKPOINT', largestB], rootB, 8, { exp: 'tdnn_depth', pollMs: 20 });
  const dirB = runDirOf(rootB, 'tdnn_depth');
  const killedAt = metricSteps(dirB);
  t.true(killedAt >= 8 && killedAt < 12, `killed in the second epoch (after ${killedAt} steps)`);
  // `latest:` refuses the killed stage as the next stage's start...
  const next = ['tdnn', 'train', '--cfg', 'exps/demo/tdnn_width1.yaml', ...tiny, 'TRAIN.END_EPOCH', '1', 'TRAIN.STEPS_PER_EPOCH', '1', 'TRAIN.INIT_CHECKPOINT', 'latest:tdnn_depth'];
  const early = cli([...next, 'OUTPUT_DIR', rootB]);
  t.is(early.status, 2, early.stderr);
  t.regex(early.stderr, /the newest run .*tdnn_depth_.* stopped at epoch 1, step \d+ of 2 \(killed\?\)/);
  const b = cli([...stage, 'OUTPUT_DIR', rootB, 'TRAIN.INIT_CHECKPOINT', largestB, '--resume', dirB]);
  t.is(b.status, 0, b.stderr);
  t.regex(b.stderr, /resumed .*last.ckpt at epoch 1/);
  // ... and takes a finished one.
  const late = cli([...next, 'OUTPUT_DIR', rootA]);
  t.is(late.status, 0, late.stderr);
  t.regex(late.stderr, /initial weights from .*tdnn_depth_.*last\.ckpt/);
  const wa = finalState(runDirOf(rootA, 'tdnn_depth'));
  const wb = finalState(dirB);
  t.true([...wa.keys()].some((k) => k === 'head/aam.W'));
  t.true([...wa.keys()].some((k) => k.includes('k31') && k.startsWith('optim/')));
  t.is(wb.size, wa.size);
  for (const [name, bytes] of wa) t.deepEqual(wb.get(name), bytes, name);
  t.is(metricSteps(dirB), 12);
  // The stage changed the weights it started from.
  const start = finalState(largestA);
  t.notDeepEqual(start.get('model/layer1.conv.conv.weight'), wa.get('model/layer1.conv.conv.weight'));
});
