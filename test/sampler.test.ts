// Crop and window semantics on hand-computed cases (reference DeepSpeakerDataset / transforms):
// the specification in helpers/reference_semantics.ts, and the crop-start draw of lib/data/sampler.ts.
import test from 'ava';

import { BINS } from '../lib/data/features.ts';
import { cropStart } from '../lib/data/sampler.ts';
import { Prng } from '../lib/util/prng.ts';
import { normalize, testWindows, timeReverse, trainCrop, windowStarts } from './helpers/reference_semantics.ts';

const P = 300;
/** frames whose every bin holds the frame number */
const ramp = (T: number) => Float32Array.from({ length: T * BINS }, (_, i) => Math.floor(i / BINS));
const frameIds = (x: Float32Array) => Array.from({ length: x.length / BINS }, (_, t) => x[t * BINS]);

test('training crops: frame-repeat for T <= 300, random start in [0, T - 300) otherwise', (t) => {
  const rng = new Prng(1);
  // T = 120: repeated twice (x4 per frame) -> frames 0..74, each 4 times
  t.deepEqual(frameIds(trainCrop(ramp(120), 120, P, rng)), Array.from({ length: 300 }, (_, i) => Math.floor(i / 4)));
  // T = 299: repeated once -> frames 0..149, each twice
  t.deepEqual(frameIds(trainCrop(ramp(299), 299, P, rng)), Array.from({ length: 300 }, (_, i) => Math.floor(i / 2)));
  // T = 300: no repeat, the whole utterance
  t.deepEqual(frameIds(trainCrop(ramp(300), 300, P, rng)), Array.from({ length: 300 }, (_, i) => i));
  // T = 301: randint(0, 1) is always 0
  for (let k = 0; k < 50; k++) t.is(cropStart(301, P, rng), 0);
  // T = 450 / 451: every start in [0, 150) / [0, 151) occurs, nothing outside
  for (const [T, hi] of [[450, 150], [451, 151]]) {
    const seen = new Set<number>();
    for (let k = 0; k < 20000; k++) seen.add(cropStart(T, P, rng));
    t.is(Math.min(...seen), 0);
    t.is(Math.max(...seen), hi - 1);
    t.is(seen.size, hi);
  }
  const x = trainCrop(ramp(451), 451, P, new Prng(7));
  const s = cropStart(451, P, new Prng(7));
  t.deepEqual(frameIds(x), Array.from({ length: 300 }, (_, i) => s + i));
});

test('test windows: repeat while T <= 300, hop 150, remainder dropped', (t) => {
  const cases: [number, number[]][] = [[120, [0, 150]], [299, [0, 150]], [300, [0, 150, 300]], [301, [0]], [450, [0, 150]], [451, [0, 150]]];
  for (const [T, starts] of cases) {
    t.deepEqual(windowStarts(T, P).starts, starts, `T = ${T}`);
    const w = testWindows(ramp(T), T, P);
    t.is(w.count, starts.length);
  }
  // T = 300 is repeated to 600 (the reference's <=): the third window is frames 150..299, each twice
  const w = testWindows(ramp(300), 300, P);
  t.deepEqual(frameIds(w.data.subarray(2 * P * BINS)), Array.from({ length: 300 }, (_, i) => 150 + Math.floor(i / 2)));
  // T = 451: windows at 0 and 150 of the original frames
  const v = testWindows(ramp(451), 451, P);
  t.deepEqual(frameIds(v.data.subarray(P * BINS, 2 * P * BINS)), Array.from({ length: 300 }, (_, i) => 150 + i));
});

test('normalise in float32 and time reversal', (t) => {
  const mean = new Float32Array(BINS).fill(0.5);
  const std = new Float32Array(BINS).fill(3);
  const x = normalize(Float32Array.from({ length: 2 * BINS }, (_, i) => i % 7), mean, std);
  t.is(x[3], Math.fround(Math.fround(3 - 0.5) / 3));
  t.deepEqual(frameIds(timeReverse(ramp(5), 5)), [4, 3, 2, 1, 0]);
});
