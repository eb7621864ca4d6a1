// The native fuzzer's child process: calls every exported addon function and class method with
// mutations of a valid call (wrong types, counts, shapes, values, NaN, shared and detached buffers),
// seeded, and prints one JSON line with what it did. A crash (signal) of this process is the failure
// the parent test looks for; a thrown JS error is the expected outcome of a bad call.
//
//   node --import=tsx test/helpers/native_fuzz.ts --seed 1 --calls 4000 [--dir <tmp dir>]
import { mkdtempSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { freePort } from '../../lib/dist/launcher.ts';
import { loadNative } from '../../lib/native.ts';
import { Prng } from '../../lib/util/prng.ts';
import { README_GENOTYPE } from './fixtures.ts';

type Value = unknown;
type Args = Value[];
/** A valid call: `make` builds fresh arguments (typed arrays are never shared between calls). */
interface Case { name: string; make: () => Args; call: (args: Args) => unknown }

const argv = process.argv.slice(2);
const opt = (k: string, d: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : d; };
const seed = Number(opt('--seed', '1'));
const totalCalls = Number(opt('--calls', '4000'));
const trace = argv.includes('--trace');
const describe = (args: Args) => args.map((a) => ArrayBuffer.isView(a) ? `${a.constructor.name}(${(a as Float32Array).length})`
  : typeof a === 'bigint' || typeof a === 'symbol' || typeof a === 'function' ? typeof a : JSON.stringify(a, (_k, v) => typeof v === 'bigint' ? `${v}n` : v)?.slice(0, 80)).join(', ');
const prng = new Prng(seed);
const rng = { int: (k: number) => prng.int(0, k), chance: (p: number) => prng.next() < p };
const dir = mkdtempSync(join(tmpdir(), 'autospeech-fuzz-'));

const n = loadNative() as any;
n.setThreads(1);

const f32 = (len: number, fill = (i: number) => Math.sin(i)) => Float32Array.from({ length: len }, (_, i) => fill(i));
const sharedF32 = (len: number) => new Float32Array(new SharedArrayBuffer(4 * len)).fill(0.5);
function detachedF32(len: number): Float32Array {
  const a = new Float32Array(len);
  structuredClone(a.buffer, { transfer: [a.buffer] });
  return a; // length 0 now, its memory gone
}

// Odd values every argument position may get.
const WEIRD: (() => Value)[] = [
  () => undefined, () => null, () => true, () => 0, () => -1, () => 1.5, () => NaN, () => Infinity, () => -Infinity,
  () => 2 ** 31, () => 2 ** 53, () => 1e300, () => -0, () => 1e9, () => '', () => 'x', () => 'native', () => [], () => [1, 2], () => [-1],
  () => [NaN], () => [2 ** 40, 2 ** 40], () => ({}), () => ({ kind: 1 }), () => (() => 1), () => 5n, () => Symbol('s'),
  () => new Float32Array(0), () => new Float64Array(4), () => new Int32Array(4), () => new BigInt64Array(4), () => new Uint8Array(3),
  () => new Int16Array(4), () => sharedF32(16), () => detachedF32(16), () => f32(16, () => NaN), () => new ArrayBuffer(16),
  () => new DataView(new ArrayBuffer(8)), () => ['a', 'b'], () => [[1]], () => new Date(0), () => new Map(),
];
const weird = () => WEIRD[rng.int(WEIRD.length)]();

function mutateNumber(x: number): Value {
  const r = rng.int(8);
  if (r === 0) return -x;
  if (r === 1) return x + 1;
  if (r === 2) return x - 1;
  if (r === 3) return x * 2 ** rng.int(40);
  if (r === 4) return 0;
  return weird();
}

function mutateTypedArray(a: ArrayLike<number | bigint> & { length: number; constructor: any }): Value {
  if (a.length === 0) return weird(); // possibly detached: nothing to copy
  const r = rng.int(7);
  const Ctor = a.constructor;
  if (r === 0) return new Ctor(Math.max(0, a.length - 1));
  if (r === 1) return new Ctor(a.length + 1);
  if (r === 2 && Ctor === Float32Array) { const b = Float32Array.from(a as Float32Array); b[rng.int(Math.max(1, b.length))] = rng.chance(0.5) ? NaN : Infinity; return b; }
  if (r === 3 && Ctor === Float32Array) { const b = sharedF32(a.length); b.set(a as Float32Array); return b; }
  if (r === 4) return Ctor === Float32Array ? new Float64Array(a.length) : new Float32Array(a.length);
  if (r === 5 && Ctor === Int32Array) { const b = Int32Array.from(a as Int32Array); b[rng.int(Math.max(1, b.length))] = rng.chance(0.5) ? -1 : 2 ** 31 - 1; return b; }
  return weird();
}

function mutateValue(v: Value, depth = 0): Value {
  if (rng.chance(0.25) || depth > 2) return weird();
  if (typeof v === 'number') return mutateNumber(v);
  if (ArrayBuffer.isView(v) && !(v instanceof DataView)) return mutateTypedArray(v as any);
  if (Array.isArray(v)) {
    const a = [...v];
    const r = rng.int(4);
    if (r === 0 && a.length) a.splice(rng.int(a.length), 1);
    else if (r === 1) a.push(a.length ? a[0] : 1);
    else if (a.length) { const i = rng.int(a.length); a[i] = mutateValue(a[i], depth + 1); }
    return a;
  }
  if (v && typeof v === 'object') {
    const o: Record<string, Value> = { ...(v as Record<string, Value>) };
    const keys = Object.keys(o);
    const r = rng.int(4);
    if (r === 0 && keys.length) delete o[keys[rng.int(keys.length)]];
    else if (r === 1) o[['device', 'mode', 'impl', 'kind', 'seed', 'scale', 'labels', 'grads', 'x'][rng.int(9)]] = weird();
    else if (keys.length) { const k = keys[rng.int(keys.length)]; o[k] = mutateValue(o[k], depth + 1); }
    return o;
  }
  return weird();
}

function mutateArgs(args: Args): Args {
  const a = [...args];
  const r = rng.int(10);
  if (r === 0) return a.slice(0, rng.int(a.length + 1)); // too few
  if (r === 1) return [...a, weird()]; // too many
  const edits = 1 + rng.int(2);
  for (let e = 0; e < edits && a.length; e++) {
    const i = rng.int(a.length);
    a[i] = mutateValue(a[i]);
  }
  return a;
}

// ---- valid calls, one per export and per class method ----
const shard = join(dir, 'shard.f32');
writeFileSync(shard, Buffer.from(f32(40 * 8).buffer)); // 40 frames x 8 bins
const tinySpec = { kind: 'network', C: 4, layers: 3, numClasses: 5, genotype: README_GENOTYPE };
const searchSpec = { kind: 'search', C: 2, layers: 2, numClasses: 3 };
const wav = (len: number) => f32(len, (i) => 3000 * Math.sin(i * 0.07) + 200 * Math.sin(i * 1.3));
const model = () => new n.Model(tinySpec, { seed: 1 });
const fixedModel = model();
const fixedSearch = new n.Model(searchSpec, { seed: 2 });
const tdnnSpec = { kind: 'tdnn', inFeats: 20, embedDim: 12, numBlocks: 2, channels: [32, 32, 32], kernels: [3, 3, 3], catChannels: 96, numClasses: 5 };
const tdnn = new n.Model(tdnnSpec, { seed: 3 });
const bwnSpec = { kind: 'resnet', depth: 18, numClasses: 3, widthMult: 0.0625, activation: 'prelu', binarize: ['blocks', 'shortcuts'], binaryScale: 'channel', binarySte: 'clip', binaryAlphaGrad: true, latentClip: 1 };
const bwn = new n.Model(bwnSpec, { seed: 6 });
const trainer = new n.Trainer(fixedModel, { weights: { lr: 0.01 } });
const reader = new n.FeatureReader([shard], 8);
const stem = fixedModel.stateDict()[0] as { name: string; shape: number[] };
const numel = (s: number[]) => s.reduce((p, d) => p * d, 1);
const predictor = new n.TdnnPredictor(48, { seed: 1, hidden: 16 });
const tdnnTrainer = new n.TdnnTrainer(new n.Model(tdnnSpec, { seed: 5 }), { classes: 5 });
const predictorKey = predictor.stateDict()[0] as { name: string; shape: number[] };

// The process group: a world of one rank on a loopback port (a larger world would wait for peers).
const distPort = await freePort();

const FUNCTIONS: Record<string, () => Args> = {
  setThreads: () => [1],
  getThreads: () => [],
  manualSeed: () => [3],
  softmax: () => [f32(6), [2, 3]],
  setDeterminism: () => [{ deterministic: false, cudnnBenchmark: true }],
  setHugePages: () => [false],
  info: () => [],
  computeThreadInfo: () => [],
  pool2d: () => [f32(2 * 36), [1, 2, 6, 6], { kind: 'max', kernel: 3, stride: 2, padding: 1, impl: 'native', gradOutput: f32(2 * 9) }],
  binaryConv: () => [f32(2 * 36), [1, 2, 6, 6], f32(3 * 18, (i) => Math.sin(i) * 1.5), [3, 2, 3, 3], f32(3 * 9), { stride: [2, 2], padding: [1, 1], scale: ['channel', 'layer', 'none'][rng.int(3)], ste: rng.chance(0.5) ? 'clip' : 'identity', alphaGrad: rng.chance(0.5), impl: rng.chance(0.5) ? 'fused' : 'aten' }],
  depthwiseConv: () => [f32(2 * 36), [1, 2, 6, 6], f32(18), [2, 1, 3, 3], f32(2 * 16), [1, 2, 4, 4], { stride: [1, 1], padding: [0, 0], dilation: [1, 1], impl: 'native' }],
  batchNormBackward: () => [f32(2 * 3 * 4), [2, 3, 2, 2], f32(2 * 4 * 4), [2, 4, 2, 2], { impl: 'native', weight: f32(3), channelOffset: 1, mask: [true, true, true] }],
  setNativeKernels: () => [true],
  nativeKernelChecks: () => [],
  opProfileStart: () => [{ shapes: rng.chance(0.5) }],
  opProfileStop: () => [],
  operationNames: () => [],
  rngState: () => [],
  setRngState: () => [n.rngState()],
  aamSoftmax: () => [f32(3 * 4), [3, 4], f32(4 * 5), [4, 5], Int32Array.from([0, 4, 2]), { margin: 0.2, scale: 30, easyMargin: false, soft: false }],
  distBackends: () => [],
  distInit: () => [{ backend: 'gloo', device: 'cpu', rank: 0, worldSize: 1, masterAddr: '127.0.0.1', masterPort: distPort, timeoutSeconds: 5 }],
  distInfo: () => [],
  distBroadcastBytes: () => [Uint8Array.from([1, 2, 3]), 0],
  distAllGather: () => [f32(5)],
  distAllReduce: () => [Float64Array.from([1, 2])],
  distBarrier: () => [],
  distBroadcastModel: () => [model(), 0],
  distDestroy: () => [],
  spectrogram: () => [wav(800)],
  spectrogramAsync: () => [wav(800)],
  logmelAsync: () => [wav(800), { melBins: 10, scale: 1, preemphasis: 0.97 }],
  fbank: () => [wav(800), { melBins: 10, lowFreq: 20, highFreq: 0, preemphasis: 0.97, scale: 1 }],
  logmel: () => [wav(800), { melBins: 10, scale: 1, preemphasis: 0.97, intermediates: rng.chance(0.5) }],
  frameSums: () => [f32(12), 3, 4],
  resample: () => [wav(64), 16000, 8000],
  tdnnForward: () => {
    const subnet = { depth: 2, channels: [32, 16, 32], kernels: [3, 1, 3], cat: 48 };
    const train = rng.chance(0.5);
    const loss = train ? { aamWeight: f32(12 * 5), aamShape: [12, 5], labels: Int32Array.from([0, 3]), margin: 0.2, scale: 30 } : {};
    return [tdnn, f32(2 * 20 * 30), [2, 20, 30], { mode: train ? 'train' : 'eval', subnet, ...loss, buffers: rng.chance(0.5), exportSubnet: rng.chance(0.5) }];
  },
};

const CLASSES: Record<string, { construct: () => Args; methods: Record<string, { target: () => any; args: () => Args }> }> = {
  Model: {
    construct: () => [[tinySpec, searchSpec, tdnnSpec, bwnSpec][rng.int(4)], { seed: 1 }],
    methods: {
      stateDict: { target: () => fixedModel, args: () => [] },
      getTensor: { target: () => fixedModel, args: () => [stem.name] },
      setTensor: { target: () => model(), args: () => [stem.name, f32(numel(stem.shape), () => 0.01), [...stem.shape]] },
      paramCounts: { target: () => fixedModel, args: () => [] },
      nonFiniteTensors: { target: () => fixedModel, args: () => [] },
      setDropPathProb: { target: () => fixedModel, args: () => [0.1] },
      setMixing: { target: () => fixedSearch, args: () => ['softmax'] },
      setChannelsLast: { target: () => fixedModel, args: () => [false] },
      forward: { target: () => fixedModel, args: () => [f32(2 * 16 * 32), [2, 16, 32], { mode: rng.chance(0.5) ? 'eval' : 'train', labels: Int32Array.from([1, 3]), grads: rng.chance(0.3) }] },
      binaryLayers: { target: () => bwn, args: () => [{ materialize: rng.chance(0.5) }] },
      kind: { target: () => fixedModel, args: () => [] }, // an accessor
    },
  },
  Trainer: {
    construct: () => [model(), { weights: { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0 }, labelSmoothing: 0.1 }],
    methods: {
      step: { target: () => trainer, args: () => [f32(2 * 16 * 32), [2, 16, 32], Int32Array.from([0, 4])] },
      setLr: { target: () => trainer, args: () => [0.01] },
      embedUtterances: { target: () => trainer, args: () => [f32(3 * 16 * 32), [3, 16, 32], Int32Array.from([2, 1]), 2] },
      optimizerState: { target: () => trainer, args: () => [] },
      loadOptimizerState: { target: () => trainer, args: () => [trainer.optimizerState()] },
    },
  },
  TdnnTrainer: {
    construct: () => [new n.Model(tdnnSpec, { seed: 4 }), { classes: 5, lr: 0.001, weightDecay: 2e-5, margin: 0.2, scale: 30 }],
    methods: {
      step: { target: () => tdnnTrainer, args: () => [f32(2 * 20 * 30), [2, 20, 30], Int32Array.from([0, 4]), { subnets: [{ depth: 2, channels: [32, 16, 32], kernels: [3, 1, 3], cat: 96 }], lr: 0.001 }] },
      optimizerState: { target: () => tdnnTrainer, args: () => [] },
      loadOptimizerState: { target: () => tdnnTrainer, args: () => [tdnnTrainer.optimizerState()] },
      headState: { target: () => tdnnTrainer, args: () => [] },
      loadHeadState: { target: () => tdnnTrainer, args: () => [tdnnTrainer.headState()] },
    },
  },
  TdnnPredictor: {
    construct: () => [48, { seed: 1, hidden: 16 }],
    methods: {
      inFeats: { target: () => predictor, args: () => [] }, // accessors
      hidden: { target: () => predictor, args: () => [] },
      stateDict: { target: () => predictor, args: () => [] },
      getTensor: { target: () => predictor, args: () => [predictorKey.name] },
      setTensor: { target: () => new n.TdnnPredictor(48, { seed: 2, hidden: 16 }), args: () => [predictorKey.name, f32(numel(predictorKey.shape)), [...predictorKey.shape]] },
      predict: { target: () => predictor, args: () => [f32(2 * 48, (i) => (i % 5 === 0 ? 1 : 0)), 2] },
      fit: { target: () => new n.TdnnPredictor(48, { seed: 3, hidden: 16 }), args: () => [f32(8 * 48, (i) => (i % 7 === 0 ? 1 : 0)), 8, f32(8, (i) => 1 + i / 8), { epochs: 2, batchSize: 4, lr: 0.001 }] },
    },
  },
  FeatureReader: {
    construct: () => [[shard], 8],
    methods: {
      read: { target: () => reader, args: () => [0, 2, 5] },
      trainBatch: { target: () => reader, args: () => [Int32Array.from([0, 0, 20, 3, 0, 0, 20, 10, 0, 1]), 8, f32(8, () => 0), f32(8, () => 1)] },
      windows: { target: () => reader, args: () => [Int32Array.from([0, 0, 20, 0, 20, 12]), 8, f32(8, () => 0), f32(8, () => 1)] },
      close: { target: () => new n.FeatureReader([shard], 8), args: () => [] },
    },
  },
};

// Every export needs a valid call here, so a new binding cannot escape the fuzzer.
const exported = Object.keys(n).sort();
const missing = exported.filter((k) => !(k in FUNCTIONS) && !(k in CLASSES));
const missingMethods = Object.keys(CLASSES).flatMap((c) =>
  Object.getOwnPropertyNames(n[c].prototype).filter((m) => m !== 'constructor' && !(m in CLASSES[c].methods)).map((m) => `${c}.${m}`));

// distInit's mutations keep a world of one rank on the loopback with a short timeout (values of
// the wrong type still go through): another world size or an unreachable host would wait for
// peers until the timeout.
function localWorld(a: Args): Args {
  const o = a[0];
  if (!o || typeof o !== 'object' || Array.isArray(o) || ArrayBuffer.isView(o)) return a;
  const v = { ...(o as Record<string, unknown>) };
  if (typeof v.worldSize === 'number' && v.worldSize !== 1) v.worldSize = 1;
  if (typeof v.masterAddr === 'string' && v.masterAddr !== '') v.masterAddr = '127.0.0.1';
  if (v.timeoutSeconds === undefined || (typeof v.timeoutSeconds === 'number' && v.timeoutSeconds > 5)) v.timeoutSeconds = 5;
  if (typeof v.masterPort === 'number') v.masterPort = distPort;
  return [v, ...a.slice(1)];
}

const cases: Case[] = [];
for (const [name, make] of Object.entries(FUNCTIONS)) if (name in n) cases.push({ name, make, call: (a) => n[name](...(name === 'distInit' ? localWorld(a) : a)) });
for (const [cls, def] of Object.entries(CLASSES)) {
  if (!(cls in n)) continue;
  cases.push({ name: `new ${cls}`, make: def.construct, call: (a) => new n[cls](...a) });
  for (const [m, { target, args }] of Object.entries(def.methods)) {
    const d = Object.getOwnPropertyDescriptor(n[cls].prototype, m)!;
    const fn = (d.value ?? d.get) as (...a: Args) => unknown;
    cases.push({ name: `${cls}.${m}`, make: args, call: (a) => fn.apply(target(), a) });
    // The method on a foreign receiver (another class's instance, a plain object).
    cases.push({ name: `${cls}.${m} (foreign this)`, make: args, call: (a) => fn.apply(rng.chance(0.5) ? {} : cls === 'FeatureReader' ? fixedModel : reader, a) });
  }
}

const stats = { calls: 0, threw: 0, returned: 0, validFailed: [] as string[], perCase: {} as Record<string, number> };
async function run(c: Case, args: Args, valid: boolean): Promise<void> {
  stats.calls++;
  // --trace: each call named before it runs (sync), so a crash's last line is the culprit.
  if (trace) writeSync(2, `call ${stats.calls} ${c.name} ${describe(args)}\n`);
  stats.perCase[c.name] = (stats.perCase[c.name] ?? 0) + 1;
  try {
    const r = c.call(args);
    if (r && typeof (r as Promise<unknown>).then === 'function') await r;
    stats.returned++;
  } catch (e) {
    stats.threw++;
    if (!(e instanceof Error)) throw new Error(`${c.name} threw a non-Error: ${String(e)}`);
    if (valid && !c.name.includes('foreign')) stats.validFailed.push(`${c.name}: ${e.message.split('\n')[0]}`);
  }
}

// The valid call of each case first (so the baselines are known to reach the real work), then
// mutations, round-robin so every case gets its share.
for (const c of cases) await run(c, c.make(), true);
while (stats.calls < totalCalls) for (const c of cases) { if (stats.calls >= totalCalls) break; await run(c, mutateArgs(c.make()), false); }
// Calls again after all that: the process (threads, allocator, compute thread) still works.
const healthy = (await fixedModel.forward(f32(2 * 16 * 32), [2, 16, 32], { mode: 'eval' })).logits.shape.join('x');
reader.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify({ seed, ...stats, cases: cases.length, exported, missing, missingMethods, healthy }));
