// The reference's crop and window semantics written plainly, frame by frame: the specification
// test/sampler.test.ts checks on hand-computed cases and test/reader.test.ts holds the native
// reader to (lib/data/sampler.ts draws the random choices; native/data/feature_reader.* assembles).
import { BINS } from '../../lib/data/features.ts';
import { cropStart } from '../../lib/data/sampler.ts';
import type { Prng } from '../../lib/util/prng.ts';

/** np.repeat(x, 2, axis=0) */
function repeatFrames(x: Float32Array, frames: number): Float32Array {
  const out = new Float32Array(2 * frames * BINS);
  for (let t = 0; t < frames; t++) {
    const row = x.subarray(t * BINS, (t + 1) * BINS);
    out.set(row, 2 * t * BINS);
    out.set(row, (2 * t + 1) * BINS);
  }
  return out;
}

export function trainCrop(x: Float32Array, frames: number, P: number, rng: Prng): Float32Array {
  if (frames <= P) {
    let y = x, t = frames;
    while (t < P) { y = repeatFrames(y, t); t *= 2; }
    return y.slice(0, P * BINS);
  }
  const start = cropStart(frames, P, rng);
  return x.slice(start * BINS, (start + P) * BINS);
}

/** Start frames of the test windows (after the repeat rule) and the repeated length. */
export function windowStarts(frames: number, P: number): { starts: number[]; length: number } {
  let t = frames;
  while (t <= P) t *= 2;
  const starts: number[] = [];
  const shift = Math.floor(P / 2);
  for (let s = 0; s + P <= t; s += shift) starts.push(s);
  return { starts, length: t };
}

export function testWindows(x: Float32Array, frames: number, P: number): { data: Float32Array; count: number } {
  let y = x, t = frames;
  while (t <= P) { y = repeatFrames(y, t); t *= 2; }
  const { starts } = windowStarts(frames, P);
  const data = new Float32Array(starts.length * P * BINS);
  starts.forEach((s, i) => data.set(y.subarray(s * BINS, (s + P) * BINS), i * P * BINS));
  return { data, count: starts.length };
}

/** (x - mean) / std per bin, in float32 like numpy, in place. */
export function normalize(x: Float32Array, mean: Float32Array, std: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) {
    const k = i % BINS;
    x[i] = Math.fround(Math.fround(x[i] - mean[k]) / std[k]);
  }
  return x;
}

export function timeReverse(x: Float32Array, frames: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let t = 0; t < frames; t++) out.set(x.subarray(t * BINS, (t + 1) * BINS), (frames - 1 - t) * BINS);
  return out;
}

