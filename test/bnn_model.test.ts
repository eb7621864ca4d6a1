// The binary-weight ResNet (bnn.md §3.2, §3.5; test plan T2, T3, T6, T10, T11): which convs are
// binary, the state_dict of the fp32 twin (latent weights under the same keys, the same init
// draws), forward bit-identical to the fp32 twin holding the materialised W_b, the optimiser
// updating the latent weights, checkpoints round-tripping, latentClip, and the memory numbers of the
// 1,211-class model (model-info --json).
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { binarisedCounts, memoryReport, paramGroups } from '../lib/bnn/memory.ts';
import { loadConfig } from '../lib/config/index.ts';
import type { NpyDType } from '../lib/io/npy.ts';
import { modelSpecFromConfig } from '../lib/models/spec.ts';
import { loadWeights, modelTensorsOf } from '../lib/models/weights.ts';
import { type ModelSpec, type NativeModel, loadNative } from '../lib/native.ts';
import { type CheckpointTensor, loadCheckpoint, saveCheckpoint } from '../lib/run/checkpoint.ts';
import { Prng } from '../lib/util/prng.ts';
import { cliJson } from './helpers/cli.ts';

const native = loadNative();
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const bitsOf = (a: ArrayLike<number>) => Buffer.from(Float32Array.from(a).buffer);
const sameBits = (a: ArrayLike<number>, b: ArrayLike<number>) => a.length === b.length && bitsOf(a).equals(bitsOf(b));

// A small twin pair (8-16-32-64 channels) for the numeric checks.
const SMALL: ModelSpec = { kind: 'resnet', depth: 34, numClasses: 6, widthMult: 0.125 };
const bwnOf = (spec: ModelSpec, extra: Partial<ModelSpec> = {}): ModelSpec => ({ ...spec, binarize: ['blocks', 'shortcuts'], ...extra });
const input = (B: number, T: number, F: number, seed = 1) => {
  const rng = new Prng(seed);
  return Float32Array.from({ length: B * T * F }, () => rng.next() * 2 - 1);
};

/** Copies every state_dict tensor of `from` into `to`, with the materialised W_b for binary keys. */
function copyInto(to: NativeModel, from: NativeModel, materialised = true): void {
  const wb = new Map(materialised ? from.binaryLayers({ materialize: true }).map((l) => [l.key, l.wb!]) : []);
  for (const e of from.stateDict()) {
    const t = wb.get(e.name) ?? from.getTensor(e.name);
    to.setTensor(e.name, t.data, t.shape);
  }
}

test('T10 the default BWN ResNet-34 (1,211 classes) binarises exactly the 35 block and shortcut convs; keys, init and parameter count are the fp32 twin\'s', (t) => {
  const cfg = loadConfig('exps/bnn/resnet34_bwn_veri.yaml');
  const bwn = new native.Model(modelSpecFromConfig(cfg), { seed: 3 });
  const fp32 = new native.Model(modelSpecFromConfig(loadConfig('exps/baseline/resnet34_veri.yaml')), { seed: 3 });
  const layers = bwn.binaryLayers();
  t.deepEqual(binarisedCounts(layers), { layers: 35, filters: 8448, weights: 21_258_240 });
  t.is(layers.filter((l) => /^layer\d\.\d\.conv[12]$/.test(l.name)).length, 32);
  t.deepEqual(layers.filter((l) => l.name.includes('downsample')).map((l) => l.key), ['layer2.0.downsample.0.weight', 'layer3.0.downsample.0.weight', 'layer4.0.downsample.0.weight']);
  t.false(layers.some((l) => l.key === 'conv1.weight' || l.key.startsWith('classifier') || l.key.includes('bn')));
  t.true(layers.every((l) => l.scale === 'channel' && l.ste === 'clip' && l.alphaGrad && l.latentClip === 0));
  t.deepEqual(fp32.binaryLayers(), []);
  t.deepEqual(bwn.stateDict(), fp32.stateDict());
  t.deepEqual(bwn.paramCounts(), fp32.paramCounts());
  t.deepEqual(bwn.paramCounts(), { total: 21_899_643, trainable: 21_899_643, alphas: 0 });
  t.deepEqual(paramGroups(bwn.stateDict()), { stem: 3136, blocks: 21_086_208, shortcuts: 172_032, bn: 17_024, prelu: 0, classifier: 621_243, other: 0 });
  // the same seed draws the same (latent) weights
  for (const key of ['conv1.weight', 'layer1.0.conv1.weight', 'layer4.2.conv2.weight', 'layer3.0.downsample.0.weight', 'classifier.weight'])
    t.true(sameBits(bwn.getTensor(key).data as Float32Array, fp32.getTensor(key).data as Float32Array), key);
  // T2 at model scale: each layer's alpha is the float64 mean |W| of its filter within 1e-6
  let worst = 0;
  for (const l of layers) {
    const w = bwn.getTensor(l.key).data as Float32Array, a = l.alpha!.data as Float32Array, n = w.length / l.shape[0];
    t.deepEqual(l.alpha!.shape, [l.shape[0]]);
    for (let o = 0; o < l.shape[0]; o++) {
      let s = 0;
      for (let j = o * n; j < (o + 1) * n; j++) s += Math.abs(w[j]);
      worst = Math.max(worst, Math.abs(a[o] - s / n) / (s / n));
    }
  }
  t.true(worst <= 1e-6, `alpha relative error ${worst}`);

  // T11: the memory table of bnn.md §2.3
  const mem = memoryReport(bwn.stateDict(), layers);
  t.is(mem.bitsBytes, 2_657_280);
  t.is(mem.alphaBytes, 33_792);
  t.deepEqual(mem.rows.map((r) => [r.fp32Bytes, r.bwnBytes, r.ratio.toFixed(2)]), [
    [85_032_960, 2_657_280, '32.00'], [85_032_960, 2_691_072, '31.60'], [85_113_600, 2_771_712, '30.71'], [85_181_696, 2_839_808, '30.00'], [87_598_572, 5_256_684, '16.66'],
  ]);
});

test('T10 each MODEL.BINARIZE group changes exactly its convs; PReLU and WIDTH_MULT keep the tree; bad values name the key', (t) => {
  const names = (binarize: string[]) => new native.Model(modelSpecFromConfig(loadConfig('exps/demo/resnet34_bwn_veri.yaml', ['MODEL.BINARIZE', `[${binarize.join(', ')}]`, 'MODEL.WIDTH_MULT', '0.0625'])))
    .binaryLayers().map((l) => l.name);
  const blocks = names(['blocks']), shortcuts = names(['shortcuts']), stem = names(['stem']);
  t.is(blocks.length, 32);
  t.deepEqual(shortcuts, ['layer2.0.downsample.0', 'layer3.0.downsample.0', 'layer4.0.downsample.0']);
  t.deepEqual(stem, ['conv1']);
  t.deepEqual(names([]), []);
  t.deepEqual(names(['stem', 'blocks', 'shortcuts']).sort(), [...stem, ...blocks, ...shortcuts].sort());
  // the fp32 names ignore the BWN keys
  t.deepEqual(new native.Model(modelSpecFromConfig(loadConfig('exps/demo/resnet34_veri.yaml', ['MODEL.BINARIZE', '[stem]']))).binaryLayers(), []);

  const prelu = new native.Model(bwnOf(SMALL, { activation: 'prelu' }));
  const plain = new native.Model(SMALL);
  const extra = prelu.stateDict().filter((e) => !plain.stateDict().some((p) => p.name === e.name));
  t.is(extra.length, 1 + 16); // the stem's and each of the 16 blocks' `relu` module
  t.deepEqual(extra.slice(0, 3).map((e) => [e.name, e.shape]), [['relu.weight', [8]], ['layer1.0.relu.weight', [8]], ['layer1.1.relu.weight', [8]]]);
  t.deepEqual([...(prelu.getTensor('layer4.2.relu.weight').data as Float32Array)], Array(64).fill(0.25));
  t.deepEqual(paramGroups(prelu.stateDict()).prelu, 8 + 3 * 8 + 4 * 16 + 6 * 32 + 3 * 64);
  t.deepEqual(plain.stateDict().find((e) => e.name === 'classifier.weight')!.shape, [6, 64]);

  const bad: [string[], RegExp][] = [
    [['MODEL.BINARIZE', '[wings]'], /MODEL.BINARIZE\[0\] must be one of 'stem', 'blocks', 'shortcuts', got 'wings'/],
    [['MODEL.BINARIZE', 'blocks'], /MODEL.BINARIZE must be a list/],
    [['MODEL.WIDTH_MULT', '0.3'], /MODEL.WIDTH_MULT must be a multiple of 0.015625, got 0.3/],
    [['MODEL.WIDTH_MULT', '0'], /MODEL.WIDTH_MULT must be in \(0, 64\]/],
    [['MODEL.ACTIVATION', 'gelu'], /MODEL.ACTIVATION must be one of 'relu', 'prelu'/],
    [['MODEL.BINARY_SCALE', 'filter'], /MODEL.BINARY_SCALE must be one of 'channel', 'layer', 'none'/],
    [['MODEL.BINARY_STE', 'tanh'], /MODEL.BINARY_STE must be one of 'clip', 'identity'/],
    [['MODEL.LATENT_CLIP', '-1'], /MODEL.LATENT_CLIP must be >= 0/],
  ];
  for (const [o, re] of bad) t.throws(() => loadConfig('exps/demo/resnet34_bwn_veri.yaml', o), { message: re }, o.join(' '));
  t.throws(() => modelSpecFromConfig(loadConfig('exps/demo/resnet34_bwn_veri.yaml', ['MODEL.BINARIZE', '[blocks, blocks]'])), { message: /MODEL.BINARIZE names 'blocks' twice/ });
  t.throws(() => new native.Model({ ...SMALL, binarize: ['wings' as never] }), { message: /binarize holds 'wings'/ });
  t.throws(() => new native.Model({ ...SMALL, widthMult: 0.3 }), { message: /widthMult 0.3.* whole number of channels/ });
});

test('T3 the BWN forward equals the fp32 twin holding W_b = alpha * s, bit for bit (eval embeddings, train logits), also after optimiser steps; W_b entries are +-alpha_o', async (t) => {
  for (const extra of [{}, { binaryScale: 'layer' as const }, { binaryScale: 'none' as const, activation: 'prelu' as const }]) {
    const bwn = new native.Model(bwnOf(SMALL, extra), { seed: 5 });
    const twin = new native.Model({ ...SMALL, activation: extra.activation }, { seed: 6 });
    const x = input(3, 40, 48);
    const labels = Int32Array.from([0, 4, 5]);
    const trainer = new native.Trainer(bwn, { weights: { lr: 0.01 } });
    for (let round = 0; round < 2; round++) {
      for (const l of bwn.binaryLayers({ materialize: true })) {
        const wb = l.wb!.data as Float32Array, n = wb.length / l.shape[0];
        const alpha = l.alpha ? (l.alpha.data as Float32Array) : null;
        const w = bwn.getTensor(l.key).data as Float32Array;
        let ok = true;
        for (let j = 0; j < wb.length && ok; j++) {
          const a = alpha ? alpha[l.scale === 'channel' ? Math.floor(j / n) : 0] : 1;
          ok = wb[j] === (w[j] >= 0 ? a : -a);
        }
        t.true(ok, `${JSON.stringify(extra)} ${l.name}: W_b = +-alpha by bin(W)`);
      }
      copyInto(twin, bwn);
      const a = await bwn.forward(x, [3, 40, 48], { mode: 'eval' });
      const b = await twin.forward(x, [3, 40, 48], { mode: 'eval' });
      t.true(sameBits(a.embedding!.data as Float32Array, b.embedding!.data as Float32Array), `${JSON.stringify(extra)} round ${round}: eval embedding`);
      copyInto(twin, bwn); // same BN statistics before the train-mode forwards
      const at = await bwn.forward(x, [3, 40, 48], { mode: 'train' });
      const bt = await twin.forward(x, [3, 40, 48], { mode: 'train' });
      t.true(sameBits(at.logits.data as Float32Array, bt.logits.data as Float32Array), `${JSON.stringify(extra)} round ${round}: train logits`);
      await trainer.step(x, [3, 40, 48], labels);
    }
  }
});

test('a NaN latent weight is an error naming the layer and the index, at forward and in binaryLayers', async (t) => {
  const bwn = new native.Model(bwnOf(SMALL), { seed: 1 });
  const w = Float32Array.from(bwn.getTensor('layer2.1.conv2.weight').data as Float32Array);
  w[16 * 9 * 2 + 5] = NaN;
  bwn.setTensor('layer2.1.conv2.weight', w, [16, 16, 3, 3]);
  for (const mode of ['eval', 'train'] as const)
    await t.throwsAsync(bwn.forward(input(2, 40, 48), [2, 40, 48], { mode }), { message: /binary conv layer2\.1\.conv2: the latent weight holds NaN or infinity \(first at \[2, 0, 1, 2\] = nan\)/ });
  t.throws(() => bwn.binaryLayers({ materialize: true }), { message: /layer2\.1\.conv2: the latent weight holds NaN/ });
  // a non-binary fp32 conv with a NaN is no binarisation error (the divergence guards catch it)
  const fp32 = new native.Model(SMALL);
  fp32.setTensor('layer2.1.conv2.weight', w, [16, 16, 3, 3]);
  t.deepEqual(fp32.nonFiniteTensors(), ['layer2.1.conv2.weight']);
});

test('T6 the optimiser updates the latent weights (first Adam step = -lr g / (|g| + eps) with the STE gradient); checkpoints hold latent fp32 weights and reload to identical alphas and outputs', async (t) => {
  const spec = bwnOf(SMALL);
  const bwn = new native.Model(spec, { seed: 2 });
  const x = input(4, 40, 48, 2), y = Int32Array.from([0, 1, 2, 3]);
  const ref = new native.Model(spec, { seed: 9 });
  copyInto(ref, bwn, false);
  const grads = (await ref.forward(x, [4, 40, 48], { mode: 'train', labels: y, grads: true })).grads!;
  t.deepEqual(Object.keys(grads).sort(), bwn.stateDict().filter((e) => e.kind === 'parameter').map((e) => e.name).sort(), 'gradients for the parameters, no W_b parameter');
  const before = new Map(bwn.binaryLayers().map((l) => [l.key, Float32Array.from(bwn.getTensor(l.key).data as Float32Array)]));
  const trainer = new native.Trainer(bwn, { weights: { lr: 0.01 } });
  await trainer.step(x, [4, 40, 48], y);
  const lr = 0.01, b1 = 0.9, b2 = 0.999, eps = 1e-8;
  let worst = 0, moved = 0, total = 0;
  for (const [key, w0] of before) {
    const w1 = bwn.getTensor(key).data as Float32Array, g = grads[key].data as Float32Array;
    for (let i = 0; i < w0.length; i++) {
      const m = (1 - b1) * g[i], v = (1 - b2) * g[i] * g[i];
      const expected = w0[i] - (lr / (1 - b1)) * m / (Math.sqrt(v) / Math.sqrt(1 - b2) + eps);
      worst = Math.max(worst, Math.abs(w1[i] - expected));
      if (w1[i] !== w0[i]) moved++;
      total++;
    }
  }
  t.true(worst < 1e-6, `latent update off by ${worst}`);
  t.true(moved > 0.9 * total, `${moved} of ${total} latent weights moved`);

  // a checkpoint as Job.save writes it: latent weights (not +-alpha), reloaded bit for bit
  const dir = mkdtempSync(join(tmpdir(), 'bwn-ckpt-'));
  const tensors = new Map<string, CheckpointTensor>();
  for (const e of bwn.stateDict()) {
    const v = bwn.getTensor(e.name);
    tensors.set(`model/${e.name}`, { data: v.data as Float32Array, shape: v.shape, dtype: v.dtype as NpyDType });
  }
  saveCheckpoint(join(dir, 'a.ckpt'), { meta: {}, tensors });
  const ckpt = loadCheckpoint(join(dir, 'a.ckpt'));
  const layer = bwn.binaryLayers()[0];
  const stored = ckpt.tensors.get(`model/${layer.key}`)!.data as Float32Array;
  t.true(new Set(Array.from(stored, Math.abs)).size > 2, 'the stored weight is the latent one, not alpha * s');
  const reloaded = new native.Model(spec, { seed: 77 });
  loadWeights(reloaded, modelTensorsOf(ckpt.tensors), 'a.ckpt');
  const la = bwn.binaryLayers({ materialize: true }), lb = reloaded.binaryLayers({ materialize: true });
  for (let i = 0; i < la.length; i++) {
    t.true(sameBits(la[i].alpha!.data as Float32Array, lb[i].alpha!.data as Float32Array), `${la[i].name} alpha`);
    t.true(sameBits(la[i].wb!.data as Float32Array, lb[i].wb!.data as Float32Array), `${la[i].name} W_b`);
  }
  const ea = await bwn.forward(x, [4, 40, 48], { mode: 'eval' }), eb = await reloaded.forward(x, [4, 40, 48], { mode: 'eval' });
  t.true(sameBits(ea.embedding!.data as Float32Array, eb.embedding!.data as Float32Array));
});

test('T6 latentClip clamps the binarised latent weights to [-c, c] after each step, nothing else; the count of |W| > 1 is reported', async (t) => {
  const c = 0.02;
  const clipped = new native.Model(bwnOf(SMALL, { latentClip: c }), { seed: 4 });
  const free = new native.Model(bwnOf(SMALL), { seed: 4 });
  const x = input(2, 40, 48, 4), y = Int32Array.from([1, 2]);
  const layers = clipped.binaryLayers();
  t.true(layers.every((l) => l.latentClip === c));
  const over = (m: NativeModel, key: string) => (m.getTensor(key).data as Float32Array).some((v) => Math.abs(v) > c);
  t.true(over(clipped, layers[0].key), 'before the step the init exceeds c');
  for (const m of [clipped, free]) await new native.Trainer(m, { weights: { lr: 0.01 } }).step(x, [2, 40, 48], y);
  for (const l of layers) t.false(over(clipped, l.key), `${l.name} within [-c, c]`);
  t.true(over(free, layers[0].key), 'without latentClip nothing is clamped');
  t.true(over(clipped, 'conv1.weight') && over(clipped, 'classifier.weight'), 'fp32 layers are not clamped');
  t.true(clipped.binaryLayers().every((l) => l.clipped === 0));
  // |W| > 1 is counted (the STE mask's complement)
  const m = new native.Model(bwnOf(SMALL), { seed: 4 });
  const w = Float32Array.from(m.getTensor('layer1.0.conv1.weight').data as Float32Array);
  w[0] = 1.5; w[1] = -2; w[2] = 1; // |W| = 1 is inside the clip
  m.setTensor('layer1.0.conv1.weight', w, [8, 8, 3, 3]);
  t.is(m.binaryLayers()[0].clipped, 2);
});

test('T11 model-info --json for exps/bnn/resnet34_bwn_veri.yaml: binarised counts and the memory table (bytes and ratios)', (t) => {
  const info = cliJson<{ binarised: unknown; memory: { bitsBytes: number; alphaBytes: number; rows: { fp32Bytes: number; bwnBytes: number; ratio: number }[] }; groups: unknown; params: { total: number } }>(
    ['model-info', '--cfg', 'exps/bnn/resnet34_bwn_veri.yaml', '--json']);
  t.deepEqual(info.binarised, { layers: 35, filters: 8448, weights: 21_258_240 });
  t.is(info.memory.bitsBytes, 2_657_280);
  t.is(info.memory.alphaBytes, 33_792);
  t.deepEqual(info.memory.rows.slice(0, 4).map((r) => r.ratio.toFixed(2)), ['32.00', '31.60', '30.71', '30.00']);
  t.is(info.params.total, 21_899_643);
  const fp32 = cliJson<{ binarised: unknown; memory?: unknown }>(['model-info', '--cfg', 'exps/baseline/resnet34_veri.yaml', '--json']);
  t.deepEqual(fp32.binarised, { layers: 0, filters: 0, weights: 0 });
  t.is(fp32.memory, undefined);
});
