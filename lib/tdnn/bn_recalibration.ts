// BatchNorm recalibration of a standalone subnet (sugar's batch_forward, spec §6.4): the network in
// train mode under no_grad, forwarded over batches of training crops, no loss. Each BN then does
// its plain PyTorch update, running = 0.9 running + 0.1 batch statistic (unbiased variance),
// starting from the statistics copied out of the supernet's slice: no reset, no cumulative
// average. The network is left in eval mode afterwards (tdnnForward sets the mode per call).
//
// Data as the reference's batchnorm_loader: N training utterances picked at random (random.shuffle
// of the list, then the first N), shuffled again by the loader, batches of B with drop_last, one
// random crop of `samples` (--second, 32000 = 2 s) per utterance through loadWAV's training rule: a
// file of at most max(48000, samples) samples is first wrap-padded to that length + 1, the start
// is int(random() * (n - samples)). Features are the LogMelFbanks(80) of each crop (the reference
// computes them inside the model, per crop). Randomness: Python's random.Random(seed).
// Not reproduced: the `v2+` augmentation (MUSAN noise/music/speech, simulated RIRs, speed, compand),
// which needs corpora this toolkit does not ship; crops are clean.
import { readFileSync } from 'node:fs';

import { UserError } from '../errors.ts';
import { loadAudio16k } from '../data/load_audio.ts';
import { fileFeatures } from '../data/features.ts';
import type { Utterance } from '../data/voxceleb.ts';
import { type NativeModel, loadNative } from '../native.ts';
import { PythonRandom } from './python_random.ts';

export interface RecalibrationOptions {
  /** utterances to draw (the reference's --num-statistics, 6000) */
  utterances: number;
  /** batch size (--batch-size-statistics, 128); incomplete batches are dropped */
  batch: number;
  /** crop length in samples (--second, 32000) */
  samples: number;
  seed: number;
}

export const RECALIBRATION_DEFAULTS = { batch: 128, samples: 32000, seed: 0 };

/** loadWAV's shortest-file rule: files of at most this many samples are wrap-padded to it + 1. */
export const MIN_SAMPLES = 48000;

/** np.pad(x, (0, n - len(x)), mode='wrap'): x repeated from its start up to n samples. */
export function wrapPad(x: Float32Array, n: number): Float32Array {
  if (x.length >= n) return x;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = x[i % x.length];
  return out;
}

/** random.shuffle(list): Fisher-Yates from the end with _randbelow(i + 1). */
export function pyShuffle<T>(items: T[], rng: PythonRandom): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = rng.randbelow(i + 1);
    [items[i], items[j]] = [items[j], items[i]];
  }
  return items;
}

/** One training crop of `samples` samples (loadWAV(num_samples=samples, min_samples=48000)). */
export function trainingCrop(audio: Float32Array, samples: number, rng: PythonRandom): Float32Array {
  const min = Math.max(MIN_SAMPLES, samples);
  const x = audio.length <= min ? wrapPad(audio, min + 1) : audio;
  const start = Math.max(0, Math.floor(rng.random() * (x.length - samples)));
  return x.slice(start, start + samples);
}

export function readAudio(file: string): Float32Array {
  return loadAudio16k(readFileSync(file), file).samples;
}

export interface Batch { data: Float32Array; shape: [number, number, number] }

/** The reference's recalibration batches over `pool` (the training utterances), lazily. */
export function* recalibrationBatches(pool: readonly Utterance[], o: RecalibrationOptions, melBins = 80): Generator<Batch> {
  if (!Number.isSafeInteger(o.utterances) || o.utterances < 1) throw new UserError(`--recalibrate ${o.utterances}: expected a positive number of utterances`);
  if (!Number.isSafeInteger(o.batch) || o.batch < 2) throw new UserError(`--recalibrate-batch ${o.batch}: expected an integer >= 2 (BatchNorm batch statistics)`);
  if (!Number.isSafeInteger(o.samples) || o.samples < 400) throw new UserError(`--recalibrate-samples ${o.samples}: expected at least 400 samples`);
  if (pool.length === 0) throw new UserError('BN recalibration: the data set has no training (dev) utterances');
  const rng = new PythonRandom(o.seed);
  const chosen = pyShuffle([...pool], rng).slice(0, o.utterances);
  const batches = Math.floor(chosen.length / o.batch);
  if (batches === 0)
    throw new UserError(`--recalibrate ${o.utterances}: ${chosen.length} utterance(s)${chosen.length < o.utterances ? ` (all the set has)` : ''} give no full batch of --recalibrate-batch ${o.batch} (incomplete batches are dropped, as the reference's drop_last)`);
  pyShuffle(chosen, rng);
  const frames = 1 + Math.floor(o.samples / 160);
  for (let b = 0; b < batches; b++) {
    const data = new Float32Array(o.batch * melBins * frames);
    for (let i = 0; i < o.batch; i++) {
      const u = chosen[b * o.batch + i];
      const crop = trainingCrop(readAudio(u.file), o.samples, rng);
      const f = fileFeatures('logmel', crop, u.file, { melBins });
      data.set(f.data, i * melBins * frames);
    }
    yield { data, shape: [o.batch, melBins, frames] };
  }
}

/** Train-mode forwards without a loss (no gradient): every BN's running statistics take the EMA. */
export async function recalibrateBn(model: NativeModel, batches: Iterable<Batch>, onBatch?: (done: number) => void): Promise<number> {
  const native = loadNative();
  let n = 0;
  for (const b of batches) {
    await native.tdnnForward(model, b.data, b.shape, { mode: 'train' });
    n++;
    onBatch?.(n);
  }
  return n;
}
