// EfficientTDNN training data (sugar's loadWAV + LabeledUtterance + a shuffled drop_last
// DataLoader) over a logmel (waveform) store:
//  - min_samples = max(48000, num_samples); a file of at most min_samples samples is wrap-padded
//    (np.pad mode 'wrap': sample i is audio[i % n]) to min_samples + 1;
//  - training crop: start = max(0, int64(random() * (size - num_samples))), num_samples samples;
//  - evaluation: the whole (padded) utterance (num_samples 0).
// The LogMelFbanks of each crop are computed natively inside the training step. One seeded
// Python-semantics generator (random.Random: MT19937, shuffle, random) draws the epoch's
// permutation and every crop start, and its state goes into checkpoints, so a resumed run reads
// exactly the crops an uninterrupted one does. (The reference's own order comes from torch's
// DataLoader and worker processes and cannot be reproduced; this is the same distribution.)
import type { BatchShard } from '../data/sampler.ts';
import { UserError } from '../errors.ts';
import type { FeatureStore } from '../data/store.ts';
import { type LogMel, loadNative } from '../native.ts';
import { type MtState, PythonRandom } from './python_random.ts';

/** sugar's loadWAV default min_samples. */
export const MIN_SAMPLES = 48000;

/** min_samples as loadWAV resolves it: max(min_samples, num_samples). */
export function effectiveMinSamples(numSamples: number, minSamples = MIN_SAMPLES): number {
  return minSamples >= numSamples ? minSamples : numSamples;
}

/** Length after loadWAV's wrap padding: n, or min_samples + 1 when n <= min_samples. */
export function paddedLength(n: number, numSamples: number, minSamples = MIN_SAMPLES): number {
  const m = effectiveMinSamples(numSamples, minSamples);
  return n <= m ? m + 1 : n;
}

/** np.pad(audio, (0, len - n), mode='wrap'), any length >= n. */
export function wrapPad(audio: Float32Array, length: number): Float32Array {
  if (audio.length === 0) throw new UserError('wrapPad: an empty waveform cannot be padded');
  const out = new Float32Array(length);
  for (let i = 0; i < length; i += audio.length) out.set(audio.subarray(0, Math.min(audio.length, length - i)), i);
  return out;
}

/** The training crop's start for an utterance of n samples, from one random() draw. */
export function cropStart(n: number, numSamples: number, u: number, minSamples = MIN_SAMPLES): number {
  const size = paddedLength(n, numSamples, minSamples);
  return Math.max(0, Math.trunc(u * (size - numSamples)));
}

/** loadWAV(mode_eval=False): the crop of `numSamples` samples at `start` of the wrap-padded audio. */
export function cropWave(audio: Float32Array, numSamples: number, start: number, minSamples = MIN_SAMPLES, out = new Float32Array(numSamples)): Float32Array {
  const n = audio.length;
  const size = paddedLength(n, numSamples, minSamples);
  if (start < 0 || start + numSamples > size) throw new RangeError(`cropWave: [${start}, ${start + numSamples}) is outside the padded length ${size}`);
  for (let j = 0; j < numSamples; j++) out[j] = audio[(start + j) % n];
  return out;
}

/** loadWAV(num_samples=0): the whole utterance, wrap-padded to min_samples + 1 when shorter. */
export function evalWave(audio: Float32Array, minSamples = MIN_SAMPLES): Float32Array {
  return audio.length <= minSamples ? wrapPad(audio, minSamples + 1) : audio;
}

/**
 * Evaluation features of stored utterance i: LogMelFbanks(melBins) of the whole utterance (wrap-padded
 * to min_samples + 1 when shorter), (melBins, T) channel-first. The store holds int16-range samples,
 * so no scaling (the reference never divides by 32768).
 */
export function evalFeatures(store: FeatureStore, i: number, melBins = 80, minSamples = MIN_SAMPLES): LogMel {
  if (store.frontend !== 'logmel') throw new UserError(`${store.dir} is a ${store.frontend} store; TDNN features come from a logmel (waveform) store`);
  return loadNative().logmel(evalWave(store.read(i), minSamples), { melBins, scale: 1 });
}

/** random.shuffle(x): for i from n-1 down to 1, swap x[i] with x[randbelow(i + 1)]. */
export function pythonShuffle<T>(x: T[], rng: PythonRandom): T[] {
  for (let i = x.length - 1; i > 0; i--) {
    const j = rng.randbelow(i + 1);
    [x[i], x[j]] = [x[j], x[i]];
  }
  return x;
}

export interface WaveBatch { x: Float32Array; y: Int32Array; shape: [number, number] }
export interface WaveBatcherState { mt: MtState; order: number[]; position: number; epoch: number }

/** Shuffled, drop_last batches of wrap-padded random waveform crops (B, numSamples) with labels. */
export class WaveBatcher {
  private rng: PythonRandom;
  private order: number[] = [];
  private position = 0;
  epoch = -1;
  /** items per step over all ranks: a data-parallel rank draws for all of them and reads its share (see TrainBatcher) */
  readonly globalBatch: number;
  private readonly shard: BatchShard;

  constructor(private store: FeatureStore, private items: number[], private labels: number[], readonly batchSize: number,
    readonly numSamples: number, seed: number, readonly minSamples = MIN_SAMPLES, shard?: BatchShard) {
    this.shard = shard ?? { rank: 0, worldSize: 1 };
    this.globalBatch = batchSize * this.shard.worldSize;
    if (store.frontend !== 'logmel') throw new UserError(`${store.dir} is a ${store.frontend} store; the TDNN trains on waveforms: run \`autospeech preprocess --frontend logmel\``);
    if (!Number.isInteger(numSamples) || numSamples < 400) throw new UserError(`the training crop must be at least 400 samples, got ${numSamples}`);
    if (items.length < this.globalBatch) throw new UserError(`only ${items.length} training utterances for a batch size of ${batchSize}${this.shard.worldSize > 1 ? ` per process x ${this.shard.worldSize} processes` : ''}`);
    this.rng = new PythonRandom(seed);
  }

  get batchesPerEpoch(): number {
    return Math.floor(this.items.length / this.globalBatch);
  }

  startEpoch(): void {
    this.order = pythonShuffle(Array.from({ length: this.items.length }, (_, i) => i), this.rng);
    this.position = 0;
    this.epoch++;
  }

  hasNext(): boolean {
    return this.position + this.globalBatch <= this.order.length;
  }

  /** The next batch; crop starts drawn in batch order, one random() per utterance. */
  async next(): Promise<WaveBatch> {
    if (!this.hasNext()) throw new Error('WaveBatcher: epoch exhausted');
    const B = this.batchSize, L = this.numSamples, first = this.shard.rank * B;
    const x = new Float32Array(B * L);
    const y = new Int32Array(B);
    for (let g = 0; g < this.globalBatch; g++) {
      const k = this.order[this.position + g];
      const u = this.store.index.utterances[this.items[k]];
      const start = cropStart(u.frames, L, this.rng.random(), this.minSamples);
      const b = g - first;
      if (b < 0 || b >= B) continue; // another rank's item: its draw is made, its crop not read
      const row = x.subarray(b * L, (b + 1) * L);
      try {
        if (start + L <= u.frames) row.set(this.store.reader.read(u.shard, u.offset + start, L)); // no padding needed: read the crop only
        else cropWave(this.store.read(this.items[k]), L, start, this.minSamples, row);
      } catch (err) {
        throw new UserError(`${this.store.dir}: cannot read utterance ${u.path}: ${(err as Error).message}`);
      }
      y[b] = this.labels[k];
    }
    this.position += this.globalBatch;
    return { x, y, shape: [B, L] };
  }

  state(): WaveBatcherState {
    return { mt: this.rng.getState(), order: [...this.order], position: this.position, epoch: this.epoch };
  }

  restore(s: WaveBatcherState): void {
    if (!s || !s.mt || !Array.isArray(s.order) || !Number.isInteger(s.position) || !Number.isInteger(s.epoch))
      throw new UserError('waveform batcher state: expected {mt, order, position, epoch}');
    this.rng.setState(s.mt);
    this.order = [...s.order];
    this.position = s.position;
    this.epoch = s.epoch;
  }
}
