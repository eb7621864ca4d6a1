// `data check`: counts and durations of a preprocessed set, and a training-free baseline that says
// how hard it is: per utterance the mean and std of 20 MFCCs (40 mel bands over the stored
// magnitude spectrogram), cosine scoring of the trial list (EER), and nearest-centroid
// identification on the iden test split with centroids from the train split.
import { join } from 'node:path';
import { existsSync } from 'node:fs';

import { computeEer, cosine } from '../metrics/eer.ts';
import { BINS } from './features.ts';
import type { FeatureStore } from './store.ts';
import { readTrials } from './voxceleb.ts';

const MELS = 40, CEPS = 20, RATE = 16000;

function melMatrix(): Float64Array {
  const hz2mel = (f: number) => 2595 * Math.log10(1 + f / 700);
  const mel2hz = (m: number) => 700 * (10 ** (m / 2595) - 1);
  const top = hz2mel(RATE / 2);
  const edges = Array.from({ length: MELS + 2 }, (_, i) => mel2hz((top * i) / (MELS + 1)));
  const fb = new Float64Array(MELS * BINS);
  for (let m = 0; m < MELS; m++)
    for (let k = 0; k < BINS; k++) {
      const f = (k * RATE) / 512;
      const up = (f - edges[m]) / (edges[m + 1] - edges[m]), down = (edges[m + 2] - f) / (edges[m + 2] - edges[m + 1]);
      fb[m * BINS + k] = Math.max(0, Math.min(up, down));
    }
  return fb;
}

/** 2 x 20 dims: mean and std of the MFCCs over the frames. */
export function mfccStats(x: Float32Array, frames: number, fb = melMatrix()): Float32Array {
  const sum = new Float64Array(CEPS), sq = new Float64Array(CEPS);
  const logmel = new Float64Array(MELS);
  for (let t = 0; t < frames; t++) {
    for (let m = 0; m < MELS; m++) {
      let e = 0;
      for (let k = 0; k < BINS; k++) { const v = x[t * BINS + k]; e += fb[m * BINS + k] * v * v; }
      logmel[m] = Math.log(e + 1e-10);
    }
    for (let c = 0; c < CEPS; c++) {
      let v = 0;
      for (let m = 0; m < MELS; m++) v += logmel[m] * Math.cos((Math.PI * c * (m + 0.5)) / MELS);
      sum[c] += v;
      sq[c] += v * v;
    }
  }
  const out = new Float32Array(2 * CEPS);
  for (let c = 0; c < CEPS; c++) {
    const mean = sum[c] / frames;
    out[c] = mean;
    out[CEPS + c] = Math.sqrt(Math.max(0, sq[c] / frames - mean * mean));
  }
  return out;
}

export interface DataReport {
  utterances: number; speakers: number; hours: number; minSeconds: number; meanSeconds: number; maxSeconds: number;
  parts: Record<string, { utterances: number; speakers: number }>;
  iden: Record<string, number>;
  skipped: number; errors: number;
  baseline: { eer: number | null; trials: number; top1: number | null; testUtterances: number };
}

export function checkData(store: FeatureStore, root: string, trialsFile = 'veri_test.txt'): DataReport {
  const u = store.index.utterances;
  const secs = u.map((x) => (x.frames - 1) / 100);
  const parts: DataReport['parts'] = {};
  for (const p of new Set(u.map((x) => x.part))) {
    const items = u.filter((x) => x.part === p);
    parts[p] = { utterances: items.length, speakers: new Set(items.map((x) => x.speaker)).size };
  }
  const iden: Record<string, number> = { train: 0, val: 0, test: 0, none: 0 };
  for (const x of u) iden[['none', 'train', 'val', 'test'][x.iden]]++;
  // standardised MFCC statistics
  const fb = melMatrix();
  const feats = u.map((x, i) => mfccStats(store.read(i), x.frames, fb));
  const dim = feats[0].length;
  const mean = new Float64Array(dim), sd = new Float64Array(dim);
  for (const f of feats) f.forEach((v, d) => { mean[d] += v / feats.length; });
  for (const f of feats) f.forEach((v, d) => { sd[d] += (v - mean[d]) ** 2 / feats.length; });
  const z = feats.map((f) => Float32Array.from(f, (v, d) => (v - mean[d]) / Math.sqrt(sd[d] + 1e-12)));
  let eer: number | null = null, trials = 0;
  if (existsSync(join(root, trialsFile))) {
    const byPath = new Map(u.map((x, i) => [x.path, i]));
    const usable = readTrials(join(root, trialsFile)).filter((t) => byPath.has(t.a) && byPath.has(t.b));
    if (usable.some((t) => t.label === 1) && usable.some((t) => t.label === 0)) {
      eer = computeEer(usable.map((t) => cosine(z[byPath.get(t.a)!], z[byPath.get(t.b)!])), usable.map((t) => t.label)).eer;
      trials = usable.length;
    }
  }
  let top1: number | null = null, testUtterances = 0;
  const train = u.map((x, i) => [x, i] as const).filter(([x]) => x.iden === 1);
  const test = u.map((x, i) => [x, i] as const).filter(([x]) => x.iden === 3);
  if (train.length && test.length) {
    const centroids = new Map<string, Float64Array>();
    for (const [x, i] of train) {
      const c = centroids.get(x.speaker) ?? new Float64Array(dim);
      z[i].forEach((v, d) => { c[d] += v; });
      centroids.set(x.speaker, c);
    }
    let right = 0;
    for (const [x, i] of test) {
      let best = '', bestScore = -Infinity;
      for (const [spk, c] of centroids) {
        const s = cosine(z[i], Float32Array.from(c));
        if (s > bestScore) { bestScore = s; best = spk; }
      }
      if (best === x.speaker) right++;
    }
    top1 = right / test.length;
    testUtterances = test.length;
  }
  return {
    utterances: u.length, speakers: new Set(u.map((x) => x.speaker)).size, hours: secs.reduce((a, b) => a + b, 0) / 3600,
    minSeconds: Math.min(...secs), meanSeconds: secs.reduce((a, b) => a + b, 0) / secs.length, maxSeconds: Math.max(...secs),
    parts, iden, skipped: store.index.skipped.length, errors: store.index.errors.length,
    baseline: { eer, trials, top1, testUtterances },
  };
}
