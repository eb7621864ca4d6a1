// sugar's loadWAV rules for the TDNN training data (lib/tdnn/wave_batcher.ts): min_samples =
// max(48000, num), wrap padding of files of at most min_samples samples to min_samples + 1, the
// crop start max(0, int64(random() * (size - num))), the full padded utterance for evaluation;
// Python's random.shuffle order; and the batcher over a real logmel store (crops equal to the
// rules applied to the stored waveform, exact resume of its generator). Expected values marked
// "numpy" / "Python" were printed once by numpy 1.24 and CPython 3.11 (np.pad(mode='wrap'),
// random.Random(seed).shuffle / .random()).
import test from 'ava';

import { preprocess, FeatureStore } from '../lib/data/store.ts';
import { logmel } from '../lib/data/features.ts';
import { selectUtterances } from '../lib/data/sampler.ts';
import { PythonRandom } from '../lib/tdnn/python_random.ts';
import { MIN_SAMPLES, WaveBatcher, cropStart, cropWave, effectiveMinSamples, evalFeatures, evalWave, paddedLength, pythonShuffle, wrapPad } from '../lib/tdnn/wave_batcher.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';
import { join } from 'node:path';
import { existsSync } from 'node:fs';

test('min_samples is max(48000, num_samples); files up to it are padded to it + 1', (t) => {
  t.is(MIN_SAMPLES, 48000);
  t.is(effectiveMinSamples(32000), 48000);
  t.is(effectiveMinSamples(48000), 48000);
  t.is(effectiveMinSamples(64000), 64000);
  t.is(paddedLength(1000, 32000), 48001);
  t.is(paddedLength(48000, 32000), 48001);
  t.is(paddedLength(48001, 32000), 48001);
  t.is(paddedLength(50000, 32000), 50000);
  t.is(paddedLength(64000, 64000), 64001);
  t.is(paddedLength(64001, 64000), 64001);
});

test('wrapPad is np.pad(mode="wrap"), also when the pad is longer than the signal (numpy)', (t) => {
  t.deepEqual([...wrapPad(Float32Array.from([1, 2, 3]), 11)], [1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2]);
  t.deepEqual([...wrapPad(Float32Array.from([5]), 3)], [5, 5, 5]);
  t.throws(() => wrapPad(new Float32Array(0), 4));
});

test('crop start: int64(random() * (size - num)), at least 0 (Python random + numpy)', (t) => {
  const r = new PythonRandom(7);
  const u = r.random();
  t.is(u, 0.32383276483316237);
  t.is(cropStart(1000, 32000, u), 5181); // padded to 48001
  t.is(cropStart(100000, 32000, 0), 0);
  t.is(cropStart(100000, 32000, 1 - 2 ** -53), 100000 - 32000 - 1);
  t.is(cropStart(48001, 48000, 0.999), 0); // size - num = 1: the only start is 0
});

test('cropWave reads the wrap-padded signal; evalWave pads only up to min_samples + 1', (t) => {
  const audio = Float32Array.from({ length: 20000 }, (_, i) => i);
  const start = 30000;
  const crop = cropWave(audio, 16000, start, 48000);
  const padded = wrapPad(audio, 48001);
  t.deepEqual([...crop], [...padded.subarray(start, start + 16000)]);
  t.throws(() => cropWave(audio, 16000, 48001 - 16000 + 1, 48000), { instanceOf: RangeError });
  t.is(evalWave(audio).length, 48001);
  t.is(evalWave(new Float32Array(48000)).length, 48001);
  const long = new Float32Array(48001);
  t.is(evalWave(long), long);
});

test('pythonShuffle is random.shuffle (Python)', (t) => {
  t.deepEqual(pythonShuffle(Array.from({ length: 10 }, (_, i) => i), new PythonRandom(5)), [2, 3, 1, 0, 8, 7, 6, 5, 4, 9]);
});

test('the batcher over a logmel store: crops follow the rules, exact resume of its generator', async (t) => {
  const data = await tinyDemoSet();
  const dir = join(data, 'store_logmel');
  if (!existsSync(join(dir, 'index.json'))) await preprocess(data, dir, { frontend: 'logmel' });
  const store = new FeatureStore(dir);
  t.is(store.frontend, 'logmel');
  t.is(store.index.bins, 1);
  t.throws(() => store.meanStd(), { message: /no global mean\/std/ });
  const s = selectUtterances(store.index, 'dev', undefined);
  const L = 32000, B = 4;
  const mk = () => new WaveBatcher(store, s.items, s.labels, B, L, 11);
  const a = mk();
  a.startEpoch();
  const first = await a.next();
  t.deepEqual(first.shape, [B, L]);
  // Replay the draws: one shuffle, then one random() per crop, in batch order.
  const rng = new PythonRandom(11);
  const order = pythonShuffle(Array.from({ length: s.items.length }, (_, i) => i), rng);
  for (let b = 0; b < B; b++) {
    const i = s.items[order[b]];
    const audio = store.read(i);
    const want = cropWave(audio, L, cropStart(audio.length, L, rng.random()));
    t.deepEqual(first.x.subarray(b * L, (b + 1) * L), want, `row ${b}`);
    t.is(first.y[b], s.labels[order[b]]);
    // int16-range samples, as scipy reads them
    t.true(audio.every((v) => Number.isInteger(v) && v >= -32768 && v <= 32767));
  }
  const saved = JSON.parse(JSON.stringify(a.state()));
  const next = await a.next();
  const b2 = mk();
  b2.restore(saved);
  const again = await b2.next();
  t.deepEqual(again.x, next.x);
  t.deepEqual(again.y, next.y);
  // Evaluation: the full utterance's LogMelFbanks, as `features --frontend logmel` gives them for the wav.
  const i = s.items[0];
  const full = store.read(i);
  const f = evalFeatures(store, i);
  t.is(f.frames, 1 + Math.floor(Math.max(full.length, 48001) / 160));
  t.deepEqual(f.data, logmel(evalWave(full).map((v) => v / 32768)).data);
  store.close();
});
