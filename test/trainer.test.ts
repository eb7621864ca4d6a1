// The native trainer's step semantics (Adam as torch 1.5, the search's alpha step before the weight
// step) and exact resumption from optimizer + RNG state.
import test from 'ava';

import { loadWeightsDir } from '../lib/models/weights.ts';
import { loadNative } from '../lib/native.ts';
import type { NativeModel, NativeTensor } from '../lib/native.ts';
import { FIXTURES, README_GENOTYPE, fixture, manifest } from './helpers/fixtures.ts';

const native = loadNative();
const D = manifest('derived').scalars;

function derived(): NativeModel {
  const m = new native.Model({ kind: 'network', C: D.C.value, layers: D.layers.value, numClasses: D.num_classes.value, genotype: README_GENOTYPE });
  loadWeightsDir(m, `${FIXTURES}/derived/state_dict`);
  return m;
}

const x = fixture('derived', 'input.npy');
const y = fixture('derived', 'labels.npy');
const shape = x.shape as [number, number, number];

test.serial('first Adam step of the scratch trainer is p - lr * m_hat / (sqrt(v_hat) + eps) with the reference gradients', async (t) => {
  const ref = derived();
  const g = (await ref.forward(x.data as Float32Array, shape, { mode: 'train', labels: y.data as BigInt64Array, grads: true })).grads!;
  const model = derived();
  const before = Object.fromEntries(model.stateDict().filter((e) => e.kind === 'parameter').map((e) => [e.name, model.getTensor(e.name)]));
  const trainer = new native.Trainer(model, { weights: { lr: 0.01 } });
  const stats = await trainer.step(x.data as Float32Array, shape, y.data as BigInt64Array);
  t.true(Math.abs(stats.loss - D.train_loss.value) < 1e-6);
  t.true(stats.acc1 >= 0 && stats.acc1 <= 100 && stats.acc5 >= stats.acc1);
  const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  let worst = 0;
  for (const [name, p0] of Object.entries(before)) {
    const p1 = model.getTensor(name).data as Float32Array;
    const gd = g[name].data as Float32Array;
    const d0 = p0.data as Float32Array;
    for (let i = 0; i < d0.length; i++) {
      const m = (1 - b1) * gd[i], v = (1 - b2) * gd[i] * gd[i];
      const expected = d0[i] - (lr / (1 - b1)) * m / (Math.sqrt(v) / Math.sqrt(1 - b2) + eps);
      worst = Math.max(worst, Math.abs(p1[i] - expected));
    }
  }
  t.true(worst < 1e-6, `max deviation ${worst}`);
});

test.serial('search step: alphas move only through the architect (first step ~ archLr per entry), weights only through the weight optimizer', async (t) => {
  const S = manifest('search').scalars;
  const model = new native.Model({ kind: 'search', C: S.C.value, layers: S.layers.value, numClasses: S.num_classes.value });
  loadWeightsDir(model, `${FIXTURES}/search/state_dict`);
  const a0 = model.getTensor('alphas_normal').data as Float32Array;
  const w0 = model.getTensor('classifier.weight').data as Float32Array;
  const trainer = new native.Trainer(model);
  const xs = fixture('search', 'input.npy');
  const ys = fixture('search', 'labels.npy');
  const s = xs.shape as [number, number, number];
  await t.throwsAsync(async () => trainer.step(xs.data as Float32Array, s, ys.data as BigInt64Array), { message: /validation batch/ });
  const stats = await trainer.step(xs.data as Float32Array, s, ys.data as BigInt64Array, xs.data as Float32Array, s, ys.data as BigInt64Array);
  t.true(Number.isFinite(stats.loss) && Number.isFinite(stats.archLoss!));
  t.true(stats.archEntropy! > 0 && stats.archEntropy! <= Math.log(8) + 1e-6);
  const a1 = model.getTensor('alphas_normal').data as Float32Array;
  // Adam's first step moves every entry with a non-zero gradient by lr * g/|g| = +-0.001.
  let moved = 0;
  for (let i = 0; i < a0.length; i++) {
    const d = Math.abs(a1[i] - a0[i]);
    t.true(d <= 0.001 + 1e-6);
    if (d > 0.0009) moved++;
  }
  t.true(moved > a0.length / 2, `${moved} of ${a0.length} alphas moved by ~archLr`);
  const w1 = model.getTensor('classifier.weight').data as Float32Array;
  let maxW = 0;
  for (let i = 0; i < w0.length; i++) maxW = Math.max(maxW, Math.abs(w1[i] - w0[i]));
  t.true(maxW > 0.009 && maxW <= 0.01 + 1e-6, `classifier moved by at most lr: ${maxW}`);
  const state = trainer.optimizerState();
  t.is(Number((state['arch.alphas_normal.step'].data as BigInt64Array)[0]), 1);
  t.is(Number((state['weights.classifier.weight.step'].data as BigInt64Array)[0]), 1);
  t.falsy(state['weights.alphas_normal.step']);
});

test.serial('restoring weights, optimizer state and RNG state continues bit-identically (search with Gumbel sampling and drop path)', async (t) => {
  const build = () => {
    const m = new native.Model({ kind: 'search', C: 2, layers: 3, numClasses: 4 }, { seed: 11 });
    m.setDropPathProb(0.2);
    return m;
  };
  const B = 2, T = 40, F = 33;
  const xs = new Float32Array(B * T * F).map((_, i) => Math.sin(i * 0.37));
  const ys = new Int32Array([1, 3]);
  const s: [number, number, number] = [B, T, F];
  const run = async (model: NativeModel, trainer: ReturnType<typeof mk>, n: number) => {
    for (let i = 0; i < n; i++) await trainer.step(xs, s, ys, xs, s, ys);
  };
  const mk = (m: NativeModel) => new native.Trainer(m);
  const a = build();
  const ta = mk(a);
  await run(a, ta, 2);
  const snapshot = {
    weights: a.stateDict().map((e) => [e.name, a.getTensor(e.name)] as [string, NativeTensor]),
    optim: ta.optimizerState(),
    rng: native.rngState(),
  };
  await run(a, ta, 2);
  const b = build();
  for (const [name, v] of snapshot.weights) b.setTensor(name, v.data, v.shape);
  const tb = mk(b);
  tb.loadOptimizerState(snapshot.optim);
  native.setRngState(snapshot.rng);
  await run(b, tb, 2);
  for (const e of a.stateDict()) t.deepEqual(b.getTensor(e.name).data, a.getTensor(e.name).data, e.name);
});

test.serial('embedUtterances averages window embeddings per utterance, matching single forwards', async (t) => {
  const model = derived();
  const trainer = new native.Trainer(model);
  const one = 300 * 257;
  const data = x.data as Float32Array;
  const windows = new Float32Array(3 * one);
  windows.set(data.subarray(0, one), 0);
  windows.set(data.subarray(one, 2 * one), one);
  windows.set(data.subarray(0, one), 2 * one);
  const r = await trainer.embedUtterances(windows, [3, 300, 257], new Int32Array([2, 1]), 2);
  t.deepEqual(r.shape, [2, 128]);
  const e = await model.forward(data, shape, { mode: 'eval' });
  const emb = e.embedding!.data as Float32Array;
  const out = r.data as Float32Array;
  for (let d = 0; d < 128; d++) {
    t.true(Math.abs(out[d] - (emb[d] + emb[128 + d]) / 2) < 1e-5);
    t.true(Math.abs(out[128 + d] - emb[d]) < 1e-5);
  }
  t.throws(() => trainer.embedUtterances(windows, [3, 300, 257], new Int32Array([2, 2])), { message: /sum to 4/ });
  // Any MAX_BATCH gives exactly what forwarding each utterance's windows as one batch gives (the
  // reference's loop), one-window utterances included.
  const counts = [1, 3, 1, 5, 2, 1];
  const total = counts.reduce((a, b) => a + b, 0);
  const many = new Float32Array(total * one);
  for (let w = 0; w < total; w++) many.set(data.subarray((w % 2) * one, (w % 2 + 1) * one).map((v) => v * (1 + w / 16)), w * one);
  const alone: Float32Array[] = [];
  let at = 0;
  for (const c of counts) {
    const u = await trainer.embedUtterances(many.subarray(at * one, (at + c) * one), [c, 300, 257], new Int32Array([c]), c);
    alone.push(u.data as Float32Array);
    at += c;
  }
  for (const maxBatch of [1, 2, 3, 4, 8, 64]) {
    const r2 = await trainer.embedUtterances(many, [total, 300, 257], Int32Array.from(counts), maxBatch);
    counts.forEach((_, u) => t.deepEqual((r2.data as Float32Array).slice(u * 128, (u + 1) * 128), alone[u], `maxBatch ${maxBatch}, utterance ${u}`));
  }
  t.throws(() => trainer.embedUtterances(windows, [3, 300, 257], new Int32Array([3, 0])), { message: />= 1/ });
});

test.serial('the search supernet embeds one utterance per forward (its eval-mode Gumbel draws and RNG use match the reference loop)', async (t) => {
  const m = new native.Model({ kind: 'search', C: 2, layers: 3, numClasses: 4 }, { seed: 2 });
  const tr = new native.Trainer(m);
  const T = 40, F = 33, one = T * F;
  const counts = [2, 3, 1, 2];
  const total = counts.reduce((a, b) => a + b, 0);
  const xs = Float32Array.from({ length: total * one }, (_, i) => Math.sin(i * 0.017) + 0.2 * Math.cos(i * 0.23));
  native.manualSeed(11);
  const all = await tr.embedUtterances(xs, [total, T, F], Int32Array.from(counts), 8);
  const stateAll = native.rngState();
  native.manualSeed(11);
  let at = 0;
  for (const [u, c] of counts.entries()) {
    const r = await tr.embedUtterances(xs.subarray(at * one, (at + c) * one), [c, T, F], new Int32Array([c]), 8);
    t.deepEqual((all.data as Float32Array).slice(u * r.shape[1], (u + 1) * r.shape[1]), r.data as Float32Array, `utterance ${u}`);
    at += c;
  }
  t.deepEqual(native.rngState(), stateAll, 'the same draws from the generator');
});

test.serial('second-order (unrolled) architect is a named option: finite, different alpha update, weights restored before the weight step', async (t) => {
  const B = 2, T = 40, F = 33;
  const xs = new Float32Array(B * T * F).map((_, i) => Math.cos(i * 0.11));
  const ys = new Int32Array([0, 2]);
  const s: [number, number, number] = [B, T, F];
  const run = async (secondOrderArch: boolean) => {
    const m = new native.Model({ kind: 'search', C: 2, layers: 3, numClasses: 4, mixing: 'softmax' }, { seed: 5 });
    const tr = new native.Trainer(m, { secondOrderArch });
    const stats = await tr.step(xs, s, ys, xs, s, ys);
    return { stats, alphas: m.getTensor('alphas_normal').data as Float32Array, w: m.getTensor('classifier.weight').data as Float32Array };
  };
  const first = await run(false);
  const second = await run(true);
  t.true(Number.isFinite(second.stats.loss));
  t.notDeepEqual(second.alphas, first.alphas);
  for (const v of second.alphas) t.true(Number.isFinite(v));
  t.throws(() => new native.Trainer(new native.Model({ kind: 'resnet', depth: 18, numClasses: 3 }), { secondOrderArch: true }), { message: /only the search supernet/ });
});

test.serial('fast search mode (only the sampled op in the weight step) keeps every weight bit-identical to exact mode', async (t) => {
  const B = 2, T = 40, F = 33;
  const xs = new Float32Array(B * T * F).map((_, i) => Math.sin(i * 0.05) + 0.1 * Math.cos(i * 1.7));
  const ys = new Int32Array([1, 2]);
  const s: [number, number, number] = [B, T, F];
  const run = async (fastSearch: boolean) => {
    const m = new native.Model({ kind: 'search', C: 2, layers: 3, numClasses: 4 }, { seed: 21 });
    m.setDropPathProb(0.1);
    const tr = new native.Trainer(m, { fastSearch });
    native.manualSeed(99);
    const losses = [];
    for (let i = 0; i < 4; i++) losses.push((await tr.step(xs, s, ys, xs, s, ys)).loss);
    return { m, losses };
  };
  const exact = await run(false);
  const fast = await run(true);
  t.deepEqual(fast.losses, exact.losses);
  for (const e of exact.m.stateDict().filter((e) => e.kind === 'parameter'))
    t.deepEqual(fast.m.getTensor(e.name).data, exact.m.getTensor(e.name).data, e.name);
});

test.serial('skipping the gradients a search step throws away (each half, and through unsampled ops) keeps every update bit-identical', async (t) => {
  const B = 2, T = 40, F = 33;
  const xs = new Float32Array(B * T * F).map((_, i) => Math.sin(i * 0.031) - 0.3 * Math.cos(i * 0.7));
  const ys = new Int32Array([3, 0]);
  const s: [number, number, number] = [B, T, F];
  const run = async (skipUnusedGrads: boolean, sampledBackwardOnly: boolean) => {
    const m = new native.Model({ kind: 'search', C: 2, layers: 3, numClasses: 4 }, { seed: 8 });
    m.setDropPathProb(0.1);
    const tr = new native.Trainer(m, { skipUnusedGrads, sampledBackwardOnly });
    native.manualSeed(5);
    const stats = [];
    for (let i = 0; i < 3; i++) { const { phasesMs, ...rest } = await tr.step(xs, s, ys, xs, s, ys); t.true(phasesMs['weight backward'] > 0); stats.push(rest); }
    return { m, tr, stats };
  };
  const full = await run(false, false); // the reference's full autograd graph
  for (const [skip, sampled] of [[true, true], [true, false], [false, true]]) {
    const r = await run(skip, sampled);
    const what = `skipUnusedGrads ${skip}, sampledBackwardOnly ${sampled}`;
    t.deepEqual(r.stats, full.stats, what);
    // weights, alphas and every BN running statistic
    for (const e of full.m.stateDict()) t.deepEqual(r.m.getTensor(e.name).data, full.m.getTensor(e.name).data, `${what}: ${e.name}`);
    const a = r.tr.optimizerState(), b = full.tr.optimizerState();
    t.deepEqual(Object.keys(a).sort(), Object.keys(b).sort());
    for (const k of Object.keys(b)) t.deepEqual(a[k].data, b[k].data, `${what}: optimizer ${k}`);
  }
});

test.serial('the exact native kernels (depthwise convolutions, max pool, batch norm and its backward, fused and shared ReLUs, fused Adam) keep every update bit-identical to ATen\'s', async (t) => {
  const cases = [
    // the README genotype (dil_conv_3x3/5x5, sep_conv_3x3, max_pool_3x3 in normal and reduction
    // cells) at the reference's crop size: maps of 150x129 down to 10x9, where ATen's kernels
    // change strategy by size and layout; without drop path a BN's gradient is a channel slice of
    // the cell's concat, on which ATen's BN backward takes its strided path
    { spec: { kind: 'network' as const, C: 8, layers: 5, numClasses: 4, genotype: README_GENOTYPE }, B: 2, T: 300, F: 257, steps: 2, dropPath: 0 },
    { spec: { kind: 'network' as const, C: 8, layers: 5, numClasses: 4, genotype: README_GENOTYPE }, B: 4, T: 48, F: 41, steps: 3, dropPath: 0.2 },
    { spec: { kind: 'search' as const, C: 2, layers: 3, numClasses: 4 }, B: 4, T: 48, F: 41, steps: 3, dropPath: 0.2 },
  ];
  const run = async (c: (typeof cases)[number], nativeKernels: boolean) => {
    const xs = new Float32Array(c.B * c.T * c.F).map((_, i) => Math.sin(i * 0.043) + 0.2 * Math.cos(i * 1.3));
    const ys = Int32Array.from({ length: c.B }, (_, i) => (i * 3 + 1) % 4);
    const s: [number, number, number] = [c.B, c.T, c.F];
    native.setNativeKernels(nativeKernels);
    try {
      const m = new native.Model(c.spec, { seed: 4 });
      m.setDropPathProb(c.dropPath);
      const tr = new native.Trainer(m, {});
      native.manualSeed(17);
      const stats = [];
      for (let i = 0; i < c.steps; i++) {
        const { phasesMs, ...rest } = c.spec.kind === 'search' ? await tr.step(xs, s, ys, xs, s, ys) : await tr.step(xs, s, ys);
        stats.push(rest);
      }
      return { m, tr, stats };
    } finally {
      native.setNativeKernels(true);
    }
  };
  for (const c of cases) {
    const what = `${c.spec.kind} ${c.B}x${c.T}x${c.F}`;
    const aten = await run(c, false);
    const ours = await run(c, true);
    t.deepEqual(ours.stats, aten.stats, what);
    for (const e of aten.m.stateDict()) t.deepEqual(ours.m.getTensor(e.name).data, aten.m.getTensor(e.name).data, `${what}: ${e.name}`);
    const a = ours.tr.optimizerState(), b = aten.tr.optimizerState();
    for (const k of Object.keys(b)) t.deepEqual(a[k].data, b[k].data, `${what}: optimizer ${k}`);
  }
  t.regex(native.info().nativeDepthwise, /forward: native \(verified\).*dilated gradients: native \(verified\)/);
  t.regex(native.info().nativeBatchNorm, /^native \(verified/);
  t.regex(native.info().nativeBatchNormBackward, /contiguous gradient: native \(verified.*concat-slice gradient: native \(verified\)/);
});
