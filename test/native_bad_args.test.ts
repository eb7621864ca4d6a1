// Bad arguments at every native entry point come back as JS errors, never a crash (an uncaught
// c10::Error would abort the process and fail the whole test file).
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadNative } from '../lib/native.ts';
import type { ModelSpec } from '../lib/native.ts';
import { README_GENOTYPE } from './helpers/fixtures.ts';

const native = loadNative();
const tiny: ModelSpec = { kind: 'network', C: 4, layers: 3, numClasses: 5, genotype: README_GENOTYPE };

test('system functions reject bad arguments', (t) => {
  const n = native as any;
  for (const bad of [[], [0], [-1], [1.5], ['2'], [NaN], [1e9]]) t.throws(() => n.setThreads(...bad), { instanceOf: TypeError });
  for (const bad of [[], [-1], [0.5], ['x'], [NaN]]) t.throws(() => n.manualSeed(...bad), { instanceOf: TypeError });
  t.throws(() => n.softmax(), { instanceOf: TypeError });
  t.throws(() => n.softmax(new Float32Array(4), [2, 3]), { message: /4 elements but its shape needs 6/ });
  t.throws(() => n.softmax(new Float32Array(4), [4]), { message: /\[rows, cols\]/ });
  t.throws(() => n.softmax([1, 2], [1, 2]), { message: /Float32Array/ });
  t.throws(() => n.softmax(new Float64Array(2), [1, 2]), { message: /Float32Array/ });
  t.throws(() => n.softmax(new Float32Array(2), [1, -2]), { message: /non-negative integer/ });
  t.throws(() => n.softmax(new Float32Array(2), 'shape'), { message: /array/ });
  t.is(n.getThreads(), native.getThreads());
});

test('model specs with unknown kinds, ops, negative or impossible sizes are errors', (t) => {
  const { Model } = native as any;
  const cases: [unknown, RegExp][] = [
    [undefined, /spec/],
    [42, /spec must be an object/],
    [{}, /spec.kind must be a string/],
    [{ kind: 'transformer' }, /kind must be 'network', 'search', 'resnet' or 'tdnn'/],
    [{ kind: 'network', C: 4, layers: 3, numClasses: 5 }, /needs a genotype/],
    [{ ...tiny, C: -4 }, /INIT_CHANNELS/],
    [{ ...tiny, C: 3 }, /even number/],
    [{ ...tiny, C: 1.5 }, /spec.C must be an integer/],
    [{ ...tiny, layers: 0 }, /LAYERS/],
    [{ ...tiny, numClasses: 0 }, /NUM_CLASSES/],
    [{ ...tiny, numClasses: 'many' }, /numClasses must be an integer/],
    [{ ...tiny, genotype: { ...README_GENOTYPE, normal: [['sep_conv_9x9', 0], ['skip_connect', 1]] } }, /unknown operation 'sep_conv_9x9'/],
    [{ ...tiny, genotype: { ...README_GENOTYPE, normal: [['skip_connect', 0], ['skip_connect', 2]] } }, /out of range/],
    [{ ...tiny, genotype: { ...README_GENOTYPE, normal: [['skip_connect', 0]] } }, /even/],
    [{ ...tiny, genotype: { ...README_GENOTYPE, normalConcat: [2, 9] } }, /concat index 9/],
    [{ ...tiny, genotype: { ...README_GENOTYPE, reduce: 'nope' } }, /\[op, index\] pairs/],
    [{ ...tiny, genotype: { ...README_GENOTYPE, reduce: [[1, 0], ['skip_connect', 1]] } }, /op name/],
    [{ kind: 'search', C: 0 }, /INIT_CHANNELS/],
    [{ kind: 'search', C: 2, layers: 3, numClasses: 4, primitives: ['none', 'conv_9'] }, /unknown operation 'conv_9'/],
    [{ kind: 'search', C: 2, layers: 3, numClasses: 4, primitives: [] }, /primitive list is empty/],
    [{ kind: 'search', C: 2, layers: 3, numClasses: 4, mixing: 'argmax' }, /mixing must be/],
    [{ kind: 'resnet', depth: 50 }, /depth must be 18 or 34/],
  ];
  for (const [spec, message] of cases) t.throws(() => new Model(spec), { message }, JSON.stringify(spec));
  t.throws(() => new Model(tiny, { device: 'cuda:0' }), { message: /no CUDA|only 0 CUDA/ });
  t.throws(() => new Model(tiny, { device: 'tpu' }), { message: /DEVICE must be cpu, cuda or cuda:N/ });
});

test('tensor access and forward reject wrong names, shapes, dtypes, NaN and bad options', async (t) => {
  const model = new native.Model(tiny) as any;
  const name = 'stem0.0.weight';
  const shape = model.stateDict().find((e: { name: string }) => e.name === name).shape;
  t.throws(() => model.getTensor('nope'), { message: /no tensor named 'nope'/ });
  t.throws(() => model.getTensor(3), { message: /name must be a string/ });
  t.throws(() => model.setTensor(name, new Float32Array(3), [3]), { message: /has shape \[2, 1, 3, 3\] in the model/ });
  t.throws(() => model.setTensor(name, new Float32Array(17), shape), { message: /17 elements/ });
  t.throws(() => model.setTensor(name, new Int32Array(18), shape), { message: /is float32 in the model, got int32/ });
  t.throws(() => model.setTensor(name, [1, 2], shape), { message: /typed array/ });
  t.throws(() => model.setDropPathProb(1.5), { message: /\[0, 1\)/ });
  t.throws(() => model.setDropPathProb(-0.1), { message: /\[0, 1\)/ });
  t.throws(() => model.setMixing('softmax'), { message: /only the search supernet/ });
  const x = new Float32Array(2 * 300 * 257);
  const s: [number, number, number] = [2, 300, 257];
  t.throws(() => model.forward(), { message: /needs input and shape/ });
  t.throws(() => model.forward(x, [2, 300]), { message: /\[batch, frames, bins\]/ });
  t.throws(() => model.forward(x, [0, 300, 257]), { message: /every size >= 1/ });
  t.throws(() => model.forward(x, [2, 300, 256]), { message: /elements but its shape needs/ });
  t.throws(() => model.forward(new Float64Array(x.length), s), { message: /Float32Array/ });
  const withNaN = new Float32Array(x.length);
  withNaN[7] = NaN;
  t.throws(() => model.forward(withNaN, s), { message: /NaN or infinite/ });
  t.throws(() => model.forward(x, s, { mode: 'test' }), { message: /mode must be 'eval' or 'train'/ });
  t.throws(() => model.forward(x, s, { mode: 'train', grads: true }), { message: /grads needs options.labels/ });
  t.throws(() => model.forward(x, s, { labels: new Float32Array(2) }), { message: /Int32Array or BigInt64Array/ });
  t.throws(() => model.forward(x, s, { labels: new Int32Array(3) }), { message: /3 elements/ });
  t.throws(() => model.forward(x, s, { gumbelNoise: [new Float32Array(112)] }), { message: /only the search supernet/ });
  t.throws(() => model.forward(x, s, 'train'), { message: /options must be an object/ });
  // Errors raised inside libtorch on the worker thread reject the promise.
  await t.throwsAsync(model.forward(x, s, { mode: 'train', labels: new Int32Array([0, 9]) }), { message: /labels must be in \[0, 5\)/ });
  // The model is still usable afterwards.
  const ok = await model.forward(x, s, { mode: 'train', labels: new Int32Array([0, 4]) });
  t.true(Number.isFinite(ok.loss));
});

test('search supernet: wrong Gumbel noise count or shape is an error, and noise never leaks to the next call', async (t) => {
  const model = new native.Model({ kind: 'search', C: 2, layers: 3, numClasses: 4 }) as any;
  const x = new Float32Array(1 * 40 * 40);
  const s: [number, number, number] = [1, 40, 40];
  t.throws(() => model.forward(x, s, { gumbelNoise: [new Float32Array(10), new Float32Array(112), new Float32Array(112)] }), { message: /gumbelNoise\[0\]/ });
  t.throws(() => model.forward(x, s, { gumbelNoise: 'noise' }), { message: /array of Float32Array/ });
  const noise = (v: number) => new Float32Array(112).fill(v);
  t.throws(() => model.forward(x, s, { gumbelNoise: [noise(0), noise(0), noise(0), noise(0)] }), { message: /has 4 entries but the network has 3 cells/ });
  // fewer than the cells would silently draw fresh noise for the rest: refused too
  t.throws(() => model.forward(x, s, { gumbelNoise: [noise(0), noise(0)] }), { message: /has 2 entries but the network has 3 cells/ });
  const r = await model.forward(x, s);
  t.is(r.mixingWeights.length, 3);
  // Diverged (NaN) alphas are reported from the worker thread as a rejected promise.
  model.setTensor('alphas_normal', new Float32Array(112).fill(NaN), [14, 8]);
  await t.throwsAsync(model.forward(x, s), { message: /alphas diverged/ });
});

test('a second forward while one is running is refused, not raced', async (t) => {
  const model = new native.Model(tiny) as any;
  const x = new Float32Array(2 * 300 * 257);
  const first = model.forward(x, [2, 300, 257]);
  t.throws(() => model.forward(x, [2, 300, 257]), { message: /busy/ });
  t.throws(() => model.setTensor('classifier.bias', new Float32Array(5), [5]), { message: /busy/ });
  await first;
  await t.notThrowsAsync(model.forward(x, [2, 300, 257]));
});

test('trainer, RNG, allocator and feature entry points reject bad arguments', async (t) => {
  const n = native as any;
  t.throws(() => new n.Trainer(), { message: /model is required/ });
  t.throws(() => new n.Trainer({}), { message: /must be a Model/ });
  t.throws(() => new n.Trainer(new Float32Array(3)), { message: /must be a Model/ });
  const model = new native.Model(tiny);
  t.throws(() => new n.Trainer(model, { weights: { lr: -1 } }), { message: /lr >= 0/ });
  t.throws(() => new n.Trainer(model, { arch: { beta1: 1.5 } }), { message: /betas in \[0, 1\)/ });
  t.throws(() => new n.Trainer(model, { labelSmoothing: 2 }), { message: /labelSmoothing/ });
  const tr = new n.Trainer(model);
  const x = new Float32Array(2 * 300 * 257);
  t.throws(() => tr.step(x, [2, 300, 257]), { message: /needs x, shape and y/ });
  t.throws(() => tr.step(x, [2, 300, 257], new Float32Array(2)), { message: /Int32Array or BigInt64Array/ });
  t.throws(() => tr.step(x, [2, 300], new Int32Array(2)), { message: /\[batch, frames, bins\]/ });
  t.throws(() => tr.step(x, [2, 300, 257], new Int32Array(3)), { message: /3 elements/ });
  t.throws(() => tr.step(x, [2, 300, 257], new Int32Array(2), x, [2, 300, 257], new Int32Array(2)), { message: /only the search supernet takes a validation batch/ });
  await t.throwsAsync(tr.step(x, [2, 300, 257], new Int32Array([0, 99])), { message: /labels must be in \[0, 5\)/ });
  t.throws(() => tr.setLr(NaN), { message: /lr must be a finite number/ });
  t.throws(() => tr.setLr(0.1, 0.1), { message: /only the search supernet has an architecture optimizer/ });
  t.throws(() => tr.embedUtterances(x, [2, 300, 257], [1, 1]), { message: /counts must be an Int32Array/ });
  t.throws(() => tr.embedUtterances(x, [2, 300, 257], new Int32Array([1, 2])), { message: /sum to 3/ });
  t.throws(() => tr.embedUtterances(x, [2, 300, 257], new Int32Array([2]), 0), { message: /maxBatch must be >= 1/ });
  t.throws(() => tr.loadOptimizerState({}), { message: /missing 'weights\.stem0\.0\.weight\.step'/ });
  t.throws(() => tr.loadOptimizerState(42), { message: /must be an object/ });
  const state = tr.optimizerState();
  t.notThrows(() => tr.loadOptimizerState(state));
  t.throws(() => n.setRngState(new Float32Array(4)), { message: /Uint8Array from rngState/ });
  await t.throwsAsync(async () => n.setRngState(new Uint8Array(3)), { message: /.+/ });
  t.throws(() => n.setHugePages('yes'), { message: /must be a boolean/ });
  t.throws(() => n.spectrogram(new Float64Array(1000)), { message: /Float32Array/ });
  t.throws(() => n.spectrogram(new Float32Array(100)), { message: /at least 257/ });
  const nan = new Float32Array(1000);
  nan[5] = NaN;
  t.throws(() => n.spectrogram(nan), { message: /NaN or infinite/ });
  // still usable after all that
  t.is(n.spectrogram(new Float32Array(16000)).frames, 101);
});

// Each of these crashed the process before (#17 items 12-13): SIGSEGV, SIGFPE, SIGSEGV, V8 OOM abort, hang.
test('pool2d takes a gradOutput on a SharedArrayBuffer; zero strides and dilations are errors for every implementation', (t) => {
  const n = native as any;
  const g = new Float32Array(new SharedArrayBuffer(4 * 4)).fill(1);
  const r = n.pool2d(new Float32Array(16).map((_, i) => i), [1, 1, 4, 4], { kind: 'max', kernel: 2, gradOutput: g });
  t.deepEqual(r.gradInput.shape, [1, 1, 4, 4]);
  t.is(Array.from(r.gradInput.data as Float32Array).reduce((a, b) => a + b, 0), 4);
  t.throws(() => n.pool2d(new Float32Array(16), [1, 1, 4, 4], { kind: 'max', kernel: 2, stride: 0 }), { message: /stride >= 1/ });
  t.throws(() => n.pool2d(new Float32Array(16), [1, 1, 4, 4], { kind: 'max', kernel: 9 }), { message: /larger than the padded input/ });
  t.throws(() => n.pool2d(new Float32Array(16), [1, 1, 4, 4], { kind: 'max', kernel: 2, gradOutput: new Float32Array(3) }), { message: /gradOutput has 3 elements/ });
  const C = 4, x = new Float32Array(C * 64).fill(1), w = new Float32Array(C * 9).fill(1), dy = new Float32Array(C * 36).fill(1);
  for (const impl of ['native', 'aten']) {
    for (const [key, value, message] of [['stride', [0, 0], /stride must be >= 1/], ['dilation', [0, 1], /dilation must be >= 1/], ['padding', [9, 9], /dy must be \[1, 4, 24, 24\]/]] as const)
      t.throws(() => n.depthwiseConv(x, [1, C, 8, 8], w, [C, 1, 3, 3], dy, [1, C, 6, 6], { impl, [key]: value }), { message }, `${impl} ${key}`);
    t.throws(() => n.depthwiseConv(x, [1, C, 8, 8], new Float32Array(C * 18), [C, 2, 3, 3], dy, [1, C, 6, 6], { impl }), { message: /w must be \[4, 1, kh, kw\]/ });
  }
});

test('methods called on another class instance, absurd sizes and empty spans are errors', async (t) => {
  const n = native as any;
  const model = new n.Model(tiny);
  const shard = join(mkdtempSync(join(tmpdir(), 'autospeech-reader-')), 'shard.f32');
  writeFileSync(shard, Buffer.alloc(4 * 8 * 10));
  const reader = new n.FeatureReader([shard], 8);
  const kindGetter = Object.getOwnPropertyDescriptor(n.Model.prototype, 'kind')!.get!;
  t.throws(() => kindGetter.call(reader), { message: /must be a Model instance|Illegal invocation/ });
  t.throws(() => n.Model.prototype.forward.call(reader, new Float32Array(4), [1, 2, 2]), { message: /must be a Model instance|Illegal invocation/ });
  t.throws(() => n.FeatureReader.prototype.read.call(model, 0, 0, 1), { message: /must be a FeatureReader instance|Illegal invocation/ });
  t.throws(() => new n.Trainer(reader), { message: /must be a Model/ });
  t.throws(() => n.frameSums(new Float32Array(12), 0, 2 ** 34), { message: /bins must be in \[1, 65536\]/ });
  t.throws(() => reader.read(0, 0, 1e12), { message: /beyond the shard/ });
  t.throws(() => reader.windows(Int32Array.from([0, 0, 0]), 8, new Float32Array(8), new Float32Array(8).fill(1)), { message: /needs frames >= 1/ });
  t.throws(() => reader.trainBatch(Int32Array.from([0, 0, 5, 0, 0]), 2 ** 28, new Float32Array(8), new Float32Array(8).fill(1)), { message: /P must be at most/ });
  t.throws(() => new n.Model({ kind: 'search', C: 2, layers: 2 ** 25, numClasses: 3 }), { message: /layers = 33554432 is beyond/ });
  t.throws(() => new n.Model({ ...tiny, C: 2048, layers: 1024 }), { message: /weights .* beyond this toolkit's limit/ });
  reader.close();
});
