// BN recalibration of an EfficientTDNN subnet (lib/tdnn/bn_recalibration.ts on the clone of
// lib/tdnn/subnet_model.ts) against a direct computation of the EMA: on a small freshly built
// supernet with random running statistics, the clone starts from the supernet's slices (first-k,
// per-group mid indices, the [mean | std] bnpool layout), and after train-mode forwards over a few
// batches every BN holds running = 0.9 running + 0.1 batch statistic (unbiased variance), computed
// here in float64 from the BN inputs (layer1's conv + ReLU by hand, bnpool's and bnembed's from the
// native trace); eval mode then normalises with those statistics. Also the crop/padding rules.
import test from 'ava';

import { loadConfig } from '../lib/config/index.ts';
import { UserError } from '../lib/errors.ts';
import { buildModel } from '../lib/models/build.ts';
import { type NativeModel, loadNative } from '../lib/native.ts';
import { type Batch, pyShuffle, recalibrateBn, recalibrationBatches, trainingCrop, wrapPad } from '../lib/tdnn/bn_recalibration.ts';
import { PythonRandom } from '../lib/tdnn/python_random.ts';
import { cloneSubnet } from '../lib/tdnn/subnet_model.ts';
import { Prng } from '../lib/util/prng.ts';

const F = 20, E = 12, C = 48, CAT = 96, BLOCKS = 3;
const cfg = loadConfig('exps/tdnn/supernet.yaml', ['MODEL.IN_FEATS', String(F), 'MODEL.EMBED_DIM', String(E), 'MODEL.CHANNELS', String(C),
  'MODEL.CAT_CHANNELS', String(CAT), 'MODEL.NUM_BLOCKS', String(BLOCKS), 'MODEL.KERNEL_SIZE', '3', 'MODEL.NUM_CLASSES', '5', 'THREADS', '1', 'SEED', '4']);
// Reduced everywhere: block first_conv.bn and bnpool are index-list selections in the supernet.
const subnet = { depth: 2, channels: [32, 16, 40], kernels: [3, 1, 3], cat: 72 };
const f32 = (m: NativeModel, name: string) => m.getTensor(name).data as Float32Array;

/** A supernet whose BN running statistics are random (so "from the copied slice" is visible). */
function supernet(): NativeModel {
  const model = buildModel(cfg).model;
  const rng = new Prng(21);
  for (const e of model.stateDict()) {
    if (!/running_(mean|var)$/.test(e.name)) continue;
    const n = e.shape.reduce((a, b) => a * b, 1);
    const v = Float32Array.from({ length: n }, () => (e.name.endsWith('var') ? 0.5 + rng.next() : rng.next() - 0.5));
    model.setTensor(e.name, v, e.shape);
  }
  return model;
}

function batches(count: number, B = 4, T = 31): Batch[] {
  const rng = new Prng(8);
  return Array.from({ length: count }, () => ({ data: Float32Array.from({ length: B * F * T }, () => 2 * rng.next() - 1), shape: [B, F, T] as [number, number, number] }));
}

/** Per-channel mean and unbiased variance of x laid out (B, Ch, T) (T = 1 for (B, Ch)). */
function stats(x: ArrayLike<number>, B: number, ch: number, T: number): { mean: number[]; var: number[] } {
  const mean: number[] = [], variance: number[] = [];
  const n = B * T;
  for (let c = 0; c < ch; c++) {
    let s = 0;
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) s += x[(b * ch + c) * T + t];
    const m = s / n;
    let q = 0;
    for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) q += (x[(b * ch + c) * T + t] - m) ** 2;
    mean.push(m);
    variance.push(q / (n - 1));
  }
  return { mean, var: variance };
}

/** relu(conv1d(x, w, padding (k-1)/2)), float64: layer1's BN input. */
function layer1Input(x: Float32Array, [B, Fin, T]: number[], w: Float32Array, out: number, k: number): Float64Array {
  const y = new Float64Array(B * out * T);
  const p = (k - 1) / 2;
  for (let b = 0; b < B; b++)
    for (let o = 0; o < out; o++)
      for (let t = 0; t < T; t++) {
        let s = 0;
        for (let i = 0; i < Fin; i++)
          for (let j = 0; j < k; j++) {
            const u = t + j - p;
            if (u >= 0 && u < T) s += w[(o * Fin + i) * k + j] * x[(b * Fin + i) * T + u];
          }
        y[(b * out + o) * T + t] = Math.max(0, s);
      }
  return y;
}

const ema = (start: ArrayLike<number>, values: number[][]) => {
  const r = Array.from(start, Number);
  for (const v of values) for (let i = 0; i < r.length; i++) r[i] = 0.9 * r[i] + 0.1 * v[i];
  return r;
};

function close(t: any, got: ArrayLike<number>, want: ArrayLike<number>, what: string, tol = 2e-5) {
  t.is(got.length, want.length, what);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]) / Math.max(1, Math.abs(want[i])));
  t.true(worst <= tol, `${what}: worst relative error ${worst}`);
}

test.serial('the clone starts from the supernet slices: first-k, per-group mid indices, [mean | std] bnpool halves', async (t) => {
  const sup = supernet();
  const clone = await cloneSubnet(cfg, sup, subnet);
  t.deepEqual(Array.from(f32(clone, 'layer1.bn.running_mean')), Array.from(f32(sup, 'layer1.bn.bn.running_mean').subarray(0, 32)));
  const g = C / 8, w = subnet.channels[1] / 8;
  const mid = Array.from({ length: 8 }, (_, grp) => Array.from({ length: w }, (_, j) => grp * g + j)).flat();
  const supMid = f32(sup, 'blocks.0.first_conv.bn.bn.running_var');
  t.deepEqual(Array.from(f32(clone, 'blocks.0.first_conv.bn.running_var')), mid.map((i) => supMid[i]));
  const supPool = f32(sup, 'bnpool.bn.running_mean');
  const poolIdx = [...Array.from({ length: subnet.cat }, (_, i) => i), ...Array.from({ length: subnet.cat }, (_, i) => CAT + i)];
  t.deepEqual(Array.from(f32(clone, 'bnpool.running_mean')), poolIdx.map((i) => supPool[i]));
});

test.serial('recalibration = a momentum-0.1 EMA of the batch statistics from the copied slice, on every BN; eval then uses it', async (t) => {
  const sup = supernet();
  const a = await cloneSubnet(cfg, sup, subnet);
  const b = await cloneSubnet(cfg, sup, subnet);
  const data = batches(3);
  const start = (m: NativeModel, n: string) => Array.from(f32(m, n));
  const names = a.stateDict().map((e) => e.name);
  const before = Object.fromEntries(names.filter((n) => /running_(mean|var)$/.test(n)).map((n) => [n, start(a, n)]));

  t.is(await recalibrateBn(a, data), 3);

  // The same forwards by hand on the twin, with the BN inputs traced.
  const native = loadNative();
  const c0 = subnet.channels[0], k0 = subnet.kernels[0];
  const w1 = f32(b, 'layer1.conv.weight');
  const l1: { mean: number[]; var: number[] }[] = [], pool: typeof l1 = [], emb: typeof l1 = [];
  for (const x of data) {
    const [B, , T] = x.shape;
    l1.push(stats(layer1Input(x.data, x.shape, w1, c0, k0), B, c0, T));
    const r = await native.tdnnForward(b, x.data, x.shape, { mode: 'train', trace: true });
    pool.push(stats(r.trace!.pooling.data as Float32Array, B, 2 * subnet.cat, 1));
    emb.push(stats(r.trace!.linear.data as Float32Array, B, E, 1));
  }
  for (const [bn, st] of [['layer1.bn', l1], ['bnpool', pool], ['bnembed', emb]] as const) {
    close(t, f32(a, `${bn}.running_mean`), ema(before[`${bn}.running_mean`], st.map((s) => s.mean)), `${bn}.running_mean`);
    close(t, f32(a, `${bn}.running_var`), ema(before[`${bn}.running_var`], st.map((s) => s.var)), `${bn}.running_var`);
  }
  // Every BN of the clone ran 3 times and moved (the index-list ones too: their update is not lost
  // on a clone); the twin holds the same buffers, bit for bit.
  for (const n of names.filter((n) => n.endsWith('num_batches_tracked'))) t.is(Number(a.getTensor(n).data[0]), 3, n);
  for (const n of Object.keys(before)) {
    t.notDeepEqual(start(a, n), before[n], `${n} moved`);
    t.deepEqual(start(a, n), start(b, n), n);
  }
  // Eval mode normalises bnembed's input with the recalibrated statistics.
  const x = data[0];
  const r = await native.tdnnForward(a, x.data, x.shape, { mode: 'eval', trace: true });
  const lin = r.trace!.linear.data as Float32Array, out = r.embedding.data as Float32Array;
  const [rm, rv, wt, bs] = ['running_mean', 'running_var', 'weight', 'bias'].map((k) => f32(a, `bnembed.${k}`));
  const want = Array.from(lin, (v, i) => ((v - rm[i % E]) / Math.sqrt(rv[i % E] + 1e-5)) * wt[i % E] + bs[i % E]);
  close(t, out, want, 'eval bnembed', 1e-5);
});

test('crops and padding follow loadWAV; shuffles are random.shuffle; drop_last batches', (t) => {
  const x = Float32Array.from({ length: 5 }, (_, i) => i + 1);
  t.deepEqual(Array.from(wrapPad(x, 12)), [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2]);
  t.is(wrapPad(x, 3), x);
  // A short file is wrap-padded to max(48000, n) + 1 before the crop; the crop is `samples` long.
  const short = Float32Array.from({ length: 30000 }, (_, i) => i);
  const r1 = new PythonRandom(4), r2 = new PythonRandom(4);
  const crop = trainingCrop(short, 32000, r1);
  const start = Math.floor(r2.random() * (48001 - 32000));
  t.is(crop.length, 32000);
  t.deepEqual(Array.from(crop.subarray(0, 3)), [start % 30000, (start + 1) % 30000, (start + 2) % 30000]);
  // random.shuffle: Fisher-Yates from the end with randbelow(i + 1).
  const rng = new PythonRandom(0);
  t.deepEqual(pyShuffle([0, 1, 2, 3, 4, 5, 6, 7, 8, 9], rng), [7, 8, 1, 5, 3, 4, 2, 0, 9, 6]);
  const pool = Array.from({ length: 5 }, (_, i) => ({ path: `s/v/${i}.wav`, speaker: 's', part: 'dev', file: `/nonexistent/${i}.wav` }));
  t.throws(() => [...recalibrationBatches(pool, { utterances: 5, batch: 8, samples: 32000, seed: 0 })], { instanceOf: UserError, message: /no full batch of --recalibrate-batch 8/ });
  t.throws(() => [...recalibrationBatches(pool, { utterances: 4, batch: 1, samples: 32000, seed: 0 })], { instanceOf: UserError, message: /--recalibrate-batch/ });
});
