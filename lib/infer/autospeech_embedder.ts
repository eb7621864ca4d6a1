// AutoSpeech networks (derived cells, ResNet baselines) as the reference's verification evaluates
// one utterance: the reference |STFT| (T, 257), repeated x2 while T <= P, windows of P frames at
// hop P // 2 (remainder dropped), each normalised with the training set's mean/std, the eval-mode
// embedding averaged over the windows (lib/evaluate.ts does the same from the feature store; the
// window rules are lib/data/sampler.ts's). The store drops utterances under 300 frames; a file
// given here is embedded whatever its length, through the same repeat rule.
import { BINS, fileFeatures, fileFeaturesAsync } from '../data/features.ts';
import type { NativeModel, NativeTrainer } from '../native.ts';
import { loadNative } from '../native.ts';
import type { Embedder, ModelInfo, Prepared, RecordedThreshold } from './embedder.ts';
import type { LoadedInfo } from './load_model.ts';

export interface Norm { mean: Float32Array; std: Float32Array }

export interface WindowedInput extends Prepared {
  /** `cost` windows of P x 257, normalised */
  windows: Float32Array;
}

/** The reference's test windows of a (T, 257) matrix, normalised (float32 (x - mean) / std). */
export function testWindows(x: Float32Array, frames: number, P: number, norm: Norm): { data: Float32Array; count: number } {
  let k = 0;
  while (frames * 2 ** k <= P) k++; // np.repeat(x, 2, axis=0) while T <= P
  const length = frames * 2 ** k;
  const hop = Math.floor(P / 2);
  const count = Math.floor((length - P) / hop) + 1;
  const data = new Float32Array(count * P * BINS);
  for (let w = 0; w < count; w++) {
    for (let r = 0; r < P; r++) {
      const src = ((w * hop + r) >> k) * BINS; // row r of the repeated matrix is row r >> k of x
      const dst = (w * P + r) * BINS;
      for (let b = 0; b < BINS; b++) data[dst + b] = Math.fround(x[src + b] - norm.mean[b]) / norm.std[b]; // float32 ops (double rounding is exact here)
    }
  }
  return { data, count };
}

/** testWindows, the same values, yielding to the event loop after every few windows. */
export async function testWindowsAsync(x: Float32Array, frames: number, P: number, norm: Norm, windowsPerSlice = 4): Promise<{ data: Float32Array; count: number }> {
  let k = 0;
  while (frames * 2 ** k <= P) k++;
  const hop = Math.floor(P / 2);
  const count = Math.floor((frames * 2 ** k - P) / hop) + 1;
  const data = new Float32Array(count * P * BINS);
  for (let w = 0; w < count; w++) {
    if (w > 0 && w % windowsPerSlice === 0) await new Promise((r) => setImmediate(r));
    for (let r = 0; r < P; r++) {
      const src = ((w * hop + r) >> k) * BINS, dst = (w * P + r) * BINS;
      for (let b = 0; b < BINS; b++) data[dst + b] = Math.fround(x[src + b] - norm.mean[b]) / norm.std[b];
    }
  }
  return { data, count };
}

export class AutoSpeechEmbedder implements Embedder<WindowedInput> {
  readonly family = 'autospeech';
  readonly protocol: string;
  readonly batchCost: number;
  readonly info: ModelInfo;
  private readonly trainer: NativeTrainer;

  constructor(model: NativeModel, readonly description: string, private readonly P: number, private readonly maxBatch: number,
    private readonly norm: Norm, readonly threshold: RecordedThreshold | { none: string }, info: LoadedInfo) {
    model.setDropPathProb(0);
    this.trainer = new (loadNative().Trainer)(model);
    this.protocol = `reference |STFT| (T, 257), mean of the eval-mode embeddings of ${P}-frame windows at hop ${Math.floor(P / 2)} (x2 frame repeat while T <= ${P}), normalised with the training set's mean/std`;
    this.batchCost = maxBatch * 4;
    this.info = { family: this.family, ...info, description, protocol: this.protocol };
  }

  prepare(samples: Float32Array, path: string): WindowedInput {
    const m = fileFeatures('stft', samples, path);
    const w = testWindows(m.data, m.frames, this.P, this.norm);
    return { cost: w.count, windows: w.data };
  }

  async prepareAsync(samples: Float32Array, path: string): Promise<WindowedInput> {
    const m = await fileFeaturesAsync('stft', samples, path);
    const w = await testWindowsAsync(m.data, m.frames, this.P, this.norm);
    return { cost: w.count, windows: w.data };
  }

  async embed(items: WindowedInput[]): Promise<Float32Array[]> {
    if (items.length === 0) return [];
    const total = items.reduce((n, i) => n + i.cost, 0);
    let windows = items[0].windows;
    if (items.length > 1) {
      windows = new Float32Array(total * this.P * BINS);
      let at = 0;
      for (const i of items) { windows.set(i.windows, at); at += i.windows.length; }
    }
    const r = await this.trainer.embedUtterances(windows, [total, this.P, BINS], Int32Array.from(items, (i) => i.cost), this.maxBatch);
    const D = r.shape[1];
    const data = r.data as Float32Array;
    return items.map((_, u) => data.slice(u * D, (u + 1) * D));
  }
}
