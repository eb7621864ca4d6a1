// The native memory-mapped reader against the TypeScript statement of the reference semantics
// (test/sampler.test.ts checks those on hand-computed cases), and the prefetching batcher against
// a plain sequential replay of the same draws.
import test from 'ava';
import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BINS } from '../lib/data/features.ts';
import { TrainBatcher, cropStart } from '../lib/data/sampler.ts';
import { FeatureStore, STORE_VERSION, type StoreIndex } from '../lib/data/store.ts';
import { loadNative } from '../lib/native.ts';
import { Prng } from '../lib/util/prng.ts';
import { normalize, testWindows, timeReverse, trainCrop } from './helpers/reference_semantics.ts';

const P = 300;
const LENGTHS = [120, 299, 300, 301, 450, 451];

/** A store of utterances with the given lengths and random values, in two shards. */
function makeStore(lengths: number[]): { store: FeatureStore; feats: Float32Array[] } {
  const dir = mkdtempSync(join(tmpdir(), 'reader-'));
  const rng = new Prng(11);
  const feats = lengths.map((T) => Float32Array.from({ length: T * BINS }, () => rng.uniform(0, 4)));
  const index: StoreIndex = { version: STORE_VERSION, bins: BINS, utterances: [], skipped: [], errors: [] };
  const shards: Float32Array[][] = [[], []];
  const offsets = [0, 0];
  feats.forEach((f, i) => {
    const s = i % 2;
    index.utterances.push({ path: `id${i}/v/00001.wav`, speaker: `id${i % 3}`, part: 'dev', iden: 1, shard: s, offset: offsets[s], frames: lengths[i] });
    shards[s].push(f);
    offsets[s] += lengths[i];
  });
  shards.forEach((parts, s) => writeFileSync(join(dir, `shard_000${s}.f32`), Buffer.concat(parts.map((p) => Buffer.from(p.buffer)))));
  writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
  return { store: new FeatureStore(dir), feats };
}

const stats = () => {
  const rng = new Prng(5);
  return { mean: Float32Array.from({ length: BINS }, () => rng.uniform(0, 2)), std: Float32Array.from({ length: BINS }, () => rng.uniform(0.5, 3)) };
};

test('native crops equal the reference semantics for T = 120, 299, 300, 301, 450, 451 (every start, both flips)', async (t) => {
  const { store, feats } = makeStore(LENGTHS);
  const { mean, std } = stats();
  for (let i = 0; i < LENGTHS.length; i++) {
    const T = LENGTHS[i], u = store.index.utterances[i];
    t.deepEqual(store.read(i), feats[i]);
    const starts = T <= P ? [0] : Array.from({ length: T - P }, (_, s) => s);
    for (const start of starts) for (const flip of [0, 1]) {
      const x = await store.reader.trainBatch(Int32Array.from([u.shard, u.offset, T, start, flip]), P, mean, std);
      const fixed = { int: () => start } as unknown as Prng; // trainCrop draws the start through rng.int
      let want = normalize(trainCrop(feats[i], T, P, fixed), mean, std);
      if (flip) want = timeReverse(want, P);
      if (!x.every((v, k) => v === want[k])) { t.fail(`T = ${T}, start ${start}, flip ${flip}`); return; }
    }
    const w = await store.reader.windows(Int32Array.from([u.shard, u.offset, T]), P, mean, std);
    const ref = testWindows(normalize(feats[i].slice(), mean, std), T, P);
    t.is(w.counts[0], ref.count, `T = ${T}`);
    t.deepEqual(w.data, ref.data, `windows, T = ${T}`);
  }
  // several utterances in one call: stacked in order
  const plan = Int32Array.from(store.index.utterances.flatMap((u) => [u.shard, u.offset, u.frames]));
  const all = await store.reader.windows(plan, P, mean, std);
  t.deepEqual([...all.counts], [2, 2, 3, 1, 2, 2]);
  store.close();
});

test('reader errors: truncated shard, out-of-range rows, bad arguments, closed reader', async (t) => {
  const { store } = makeStore(LENGTHS);
  const { mean, std } = stats();
  const u = store.index.utterances[5];
  truncateSync(join(store.dir, 'shard_0001.f32'), (u.offset + 10) * BINS * 4);
  t.throws(() => store.read(5), { message: /cannot read utterance id5\/v\/00001\.wav: .*shard_0001\.f32: frames \[\d+, \d+\) lie beyond the shard's \d+ frames \(truncated shard\?\)/ });
  // Spans are checked on the JS thread before the job is queued: a synchronous error.
  t.throws(() => store.reader.trainBatch(Int32Array.from([u.shard, u.offset, u.frames, 0, 0]), P, mean, std), { message: /truncated shard/ });
  const v = store.index.utterances[4];
  await t.throwsAsync(store.reader.trainBatch(Int32Array.from([v.shard, v.offset, v.frames, 200, 0]), P, mean, std), { message: /start 200 outside \[0, 150\]/ });
  t.throws(() => store.reader.trainBatch(Int32Array.from([7, 0, 300, 0, 0]), P, mean, std), { message: /shard 7 out of range/ });
  t.throws(() => store.reader.trainBatch(Int32Array.from([0, 0, 300]), P, mean, std), { message: /5-value rows/ });
  t.throws(() => store.reader.windows(Int32Array.from([0, 0, 300]), P, mean.subarray(1), std), { message: /mean has 256 values, expected 257/ });
  const nan = std.slice();
  nan[3] = Number.NaN;
  t.throws(() => store.reader.windows(Int32Array.from([0, 0, 300]), P, mean, nan), { message: /NaN/ });
  const { FeatureReader } = loadNative();
  t.throws(() => new FeatureReader([join(store.dir, 'nope.f32')], BINS), { message: /nope\.f32: cannot open shard/ });
  const r = store.reader;
  store.close();
  t.throws(() => r.read(0, 0, 1), { message: /closed/ });
});

/** The batches a batcher must produce: the same draws made one by one, without prefetching. */
function replay(store: FeatureStore, items: number[], B: number, seed: number, script: ('epoch' | 'next' | 'fresh')[], mean: Float32Array, std: Float32Array) {
  const rng = new Prng(seed);
  let order: number[] = [], pos = 0;
  const out: Float32Array[] = [];
  const build = (picks: number[]) => {
    const x = new Float32Array(picks.length * P * BINS);
    picks.forEach((k, b) => {
      const i = items[k], T = store.index.utterances[i].frames;
      let crop = normalize(trainCrop(store.read(i), T, P, rng), mean, std);
      if (rng.next() < 0.5) crop = timeReverse(crop, P);
      x.set(crop, b * P * BINS);
    });
    return x;
  };
  for (const s of script) {
    if (s === 'epoch') { order = rng.permutation(items.length); pos = 0; }
    else if (s === 'next') { out.push(build(order.slice(pos, pos + B))); pos += B; }
    else out.push(build(rng.permutation(items.length).slice(0, B)));
  }
  return out;
}

test('the prefetching batcher yields exactly the sequential draws, across partial epochs, fresh samples and state restores', async (t) => {
  const lengths = Array.from({ length: 14 }, (_, i) => LENGTHS[i % LENGTHS.length] + i);
  const { store } = makeStore(lengths);
  const { mean, std } = stats();
  const items = lengths.map((_, i) => i);
  const labels = items.map((i) => i % 3);
  const B = 3;
  // 4 batches per epoch; the script stops epochs early (STEPS_PER_EPOCH) and mixes fresh samples.
  const script: ('epoch' | 'next' | 'fresh')[] = ['epoch', 'next', 'fresh', 'next', 'epoch', 'next', 'next', 'next', 'next', 'epoch', 'fresh', 'next', 'fresh', 'next'];
  const want = replay(store, items, B, 9, script, mean, std);
  const a = new TrainBatcher(store, items, labels, B, P, mean, std, 9);
  const got: Float32Array[] = [];
  const states = [];
  for (const s of script) {
    states.push(a.state());
    if (s === 'epoch') a.startEpoch();
    else got.push((s === 'next' ? await a.next() : await a.sampleFresh()).x);
  }
  t.is(got.length, want.length);
  got.forEach((x, k) => t.deepEqual(x, want[k], `batch ${k}`));
  // Resuming from the state saved before any scripted call replays the rest identically.
  for (const at of [2, 3, 6, 11]) {
    const b = new TrainBatcher(store, items, labels, B, P, mean, std, 1234);
    b.restore(states[at]);
    const rest: Float32Array[] = [];
    for (const s of script.slice(at)) {
      if (s === 'epoch') b.startEpoch();
      else rest.push((s === 'next' ? await b.next() : await b.sampleFresh()).x);
    }
    const skip = script.slice(0, at).filter((s) => s !== 'epoch').length;
    rest.forEach((x, k) => t.deepEqual(x, want[skip + k], `restored at ${at}, batch ${skip + k}`));
  }
  t.is(cropStart(300, P, new Prng(1)), 0);
  store.close();
});
