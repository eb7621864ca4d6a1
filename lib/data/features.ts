// Features of one waveform through the native reference-exact spectrogram, and the reference's
// global mean/std (float32 sums accumulated frame by frame, file by file, in the given order).
import { loadNative, type FbankOptions, type LogMel } from '../native.ts';

export const BINS = 257;
/** The reference preprocessing drops utterances shorter than this many frames (3 s). */
export const MIN_FRAMES = 300;

export interface Spectrogram {
  data: Float32Array; // (frames, 257) row-major
  frames: number;
  rms: number;
  dbfs: number;
  gain: number;
  gainApplied: boolean;
}

export function spectrogram(samples: Float32Array): Spectrogram {
  return loadNative().spectrogram(samples);
}

/** The Kaldi-style 80-dim log-mel fbank front-end (no gain normalisation, as Kaldi). */
export function fbank(samples: Float32Array, opts?: FbankOptions): { data: Float32Array; frames: number; melBins: number } {
  return loadNative().fbank(samples, opts);
}

/**
 * The EfficientTDNN front end (sugar's LogMelFbanks(80)) of decoder samples in [-1, 1): scaled back
 * to the int16 range the reference feeds, (80, frames) channel-first, frames = 1 + n / 160.
 */
export function logmel(samples: Float32Array, opts: { melBins?: number } = {}): LogMel {
  return loadNative().logmel(samples, { ...opts, scale: 32768 });
}

/** Fewest samples logmel takes: the STFT reflect-pads 256 on each side. */
export const LOGMEL_MIN_SAMPLES = 257;

export const FRONTENDS = ['stft', 'fbank', 'logmel'] as const;
export type Frontend = (typeof FRONTENDS)[number];

/** compute_mean_std: float32 per-bin sums of x and x^2 over frames, then files. */
export class MeanStdAccumulator {
  private readonly sum = new Float32Array(BINS);
  private readonly sumSq = new Float32Array(BINS);
  private count = 0;

  add(features: Float32Array, frames: number): void {
    // This file's float32 sums over its frames (native, same order and rounding), then the totals.
    const { sum: s, sumSq: s2 } = loadNative().frameSums(features, frames, BINS);
    for (let k = 0; k < BINS; k++) {
      this.sum[k] = Math.fround(this.sum[k] + s[k]);
      this.sumSq[k] = Math.fround(this.sumSq[k] + s2[k]);
    }
    this.count += frames;
  }

  result(): { mean: Float32Array; std: Float32Array; frames: number } {
    const mean = new Float32Array(BINS);
    const std = new Float32Array(BINS);
    const n = Math.fround(this.count);
    for (let k = 0; k < BINS; k++) {
      mean[k] = Math.fround(this.sum[k] / n);
      std[k] = Math.fround(Math.sqrt(Math.fround(Math.fround(this.sumSq[k] / n) - Math.fround(mean[k] * mean[k]))));
    }
    return { mean, std, frames: this.count };
  }
}
