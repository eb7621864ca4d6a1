// Features of one waveform through the native reference-exact spectrogram, and the reference's
// global mean/std (float32 sums accumulated frame by frame, file by file, in the given order).
import { loadNative, type FbankOptions, type LogMel } from '../native.ts';
import { WavError } from './wav.ts';

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
  finite: boolean;
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

export type Layout = 'time-major' | 'channel-first';

/** Each front end's own layout: the reference spectrogram and Kaldi fbank are (T, bins), EfficientTDNN's log-mel (bins, T). */
export const NATIVE_LAYOUT: Record<Frontend, Layout> = { stft: 'time-major', fbank: 'time-major', logmel: 'channel-first' };

export interface FeatureMatrix {
  data: Float32Array; // in NATIVE_LAYOUT[frontend]
  frames: number;
  bins: number;
  /** the reference spectrogram's level and gain (stft only) */
  level?: { dbfs: number; gain: number; gainApplied: boolean };
}

/**
 * One file's features, or a WavError naming what is wrong with the file: too short for the front
 * end, silent (all samples zero: the reference's -30 dBFS gain would be infinite and every
 * magnitude NaN), or features that are not finite for any other reason.
 */
export function fileFeatures(frontend: Frontend, samples: Float32Array, path: string, opts: { melBins?: number } = {}): FeatureMatrix {
  const least = frontend === 'fbank' ? 400 : LOGMEL_MIN_SAMPLES; // one 25 ms frame; the STFTs reflect-pad 256 on each side
  if (samples.length < least)
    throw new WavError(path, `${samples.length} samples; the ${frontend} front end needs at least ${least}${frontend === 'fbank' ? ' (one 25 ms frame)' : ' (its STFT reflect-pads 256 on each side)'}`);
  if (samples.every((v) => v === 0)) throw new WavError(path, 'silent: all samples zero');
  let m: FeatureMatrix;
  if (frontend === 'fbank') {
    const f = fbank(samples, { melBins: opts.melBins });
    m = { data: f.data, frames: f.frames, bins: f.melBins };
  } else if (frontend === 'logmel') {
    const f = logmel(samples, { melBins: opts.melBins });
    m = { data: f.data, frames: f.frames, bins: f.melBins };
  } else {
    const s = spectrogram(samples);
    if (!s.finite) throw new WavError(path, `features are not finite (level ${s.dbfs} dBFS, gain ${s.gain})`);
    return { data: s.data, frames: s.frames, bins: BINS, level: { dbfs: s.dbfs, gain: s.gain, gainApplied: s.gainApplied } };
  }
  for (let i = 0; i < m.data.length; i++) if (!Number.isFinite(m.data[i])) throw new WavError(path, `features are not finite (value ${m.data[i]} at element ${i})`);
  return m;
}

/**
 * fileFeatures with the |STFT| and log-mel front ends on the compute thread (the event loop runs
 * meanwhile; fbank stays synchronous): the same checks, errors and values.
 */
export async function fileFeaturesAsync(frontend: Frontend, samples: Float32Array, path: string, opts: { melBins?: number } = {}): Promise<FeatureMatrix> {
  if (frontend === 'fbank') return fileFeatures(frontend, samples, path, opts);
  if (samples.length < LOGMEL_MIN_SAMPLES)
    throw new WavError(path, `${samples.length} samples; the ${frontend} front end needs at least ${LOGMEL_MIN_SAMPLES} (its STFT reflect-pads 256 on each side)`);
  if (samples.every((v) => v === 0)) throw new WavError(path, 'silent: all samples zero');
  if (frontend === 'stft') {
    const s = await loadNative().spectrogramAsync(samples);
    if (!s.finite) throw new WavError(path, `features are not finite (level ${s.dbfs} dBFS, gain ${s.gain})`);
    return { data: s.data, frames: s.frames, bins: BINS, level: { dbfs: s.dbfs, gain: s.gain, gainApplied: s.gainApplied } };
  }
  const f = await loadNative().logmelAsync(samples, { melBins: opts.melBins, scale: 32768 });
  for (let i = 0; i < f.data.length; i++) if (!Number.isFinite(f.data[i])) throw new WavError(path, `features are not finite (value ${f.data[i]} at element ${i})`);
  return { data: f.data, frames: f.frames, bins: f.melBins };
}
