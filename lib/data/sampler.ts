// The reference's data semantics (DeepSpeakerDataset + transforms) over the feature store:
//  - training crop: T <= P: frame-repeat x2 until T >= P, start 0; else start uniform in [0, T - P)
//    (numpy randint, upper bound exclusive); then normalise, then time-reverse with p 0.5;
//  - test windows: frame-repeat x2 while T <= P (note: <=), then windows of P frames at hop P // 2,
//    remainder dropped; normalised, no time reversal;
//  - labels: index of the speaker in the sorted speaker list of the sub dir.
// One seeded PRNG drives shuffling, crops and flips; its state is checkpointed for exact resume.
// The crops and windows themselves are assembled natively (native/data/feature_reader.*); the
// same semantics written plainly in TypeScript are in test/helpers/reference_semantics.ts, the
// specification the native reader is tested against.
import { UserError } from '../errors.ts';
import { Prng, type PrngState } from '../util/prng.ts';
import type { FeatureStore, StoreIndex } from './store.ts';

/** Start frame of the training crop for an utterance of T frames (null = repeated, start 0). */
export function cropStart(frames: number, P: number, rng: Prng): number {
  return frames <= P ? 0 : rng.int(0, frames - P);
}

export type SubDir = 'merged' | 'dev' | 'test';
export type Partition = 'train' | 'val' | 'test' | undefined;

/** Utterance indices of a sub dir (+ iden partition) and their labels in the reference's order. */
export function selectUtterances(index: StoreIndex, subDir: SubDir, partition: Partition): { items: number[]; labels: number[]; speakers: string[] } {
  const inSub = (part: string) => subDir === 'merged' || part === subDir || (part === 'wav' && subDir !== 'test');
  const speakers = [...new Set(index.utterances.filter((u) => inSub(u.part)).map((u) => u.speaker))].sort();
  const label = new Map(speakers.map((s, i) => [s, i]));
  const want = partition === 'train' ? 1 : partition === 'val' ? 2 : partition === 'test' ? 3 : 0;
  const items: number[] = [];
  index.utterances.forEach((u, i) => {
    if (inSub(u.part) && (want === 0 || u.iden === want)) items.push(i);
  });
  if (items.length === 0) throw new UserError(`no utterances for sub dir '${subDir}'${partition ? `, partition '${partition}'` : ''} (check iden_split.txt)`);
  return { items, labels: items.map((i) => label.get(index.utterances[i].speaker)!), speakers };
}

export interface Batch { x: Float32Array; y: Int32Array; shape: [number, number, number] }

export interface BatcherState { rng: PrngState; order: number[]; position: number; epoch: number }

/** A batch being assembled on the native prefetch thread, and the generator state before it was planned. */
interface Pending { kind: 'next' | 'fresh'; rngBefore: PrngState; batch: Promise<Batch> }

/**
 * Shuffled, drop_last batches of normalised, randomly cropped and flipped training items. The
 * random choices (permutation, crop starts, flips) are drawn here in the order the reference's
 * loader makes them; the crops are assembled natively from the memory-mapped shards, and the next
 * batch is planned and assembled while the caller's step runs. A planned-but-unused batch is
 * discarded with its draws rewound, so the sequence never depends on prefetching.
 */
/** This process's share of a data-parallel job's global batch. */
export interface BatchShard { rank: number; worldSize: number }

/**
 * In a data-parallel job (`shard`), every rank runs the sampler of the global batch (batchSize x
 * worldSize: the same permutation, the same crop and flip draws for every item, in the same order)
 * and assembles only its share, items rank * batchSize .. (rank + 1) * batchSize - 1 of each global
 * batch: N ranks of batch B see exactly what one process of batch N x B sees, step for step, and
 * the state a checkpoint records is that of the global sampler (a resume may use another number
 * of processes with the same global batch).
 */
export class TrainBatcher {
  private rng: Prng;
  /** items per step over all ranks */
  readonly globalBatch: number;
  private readonly shard: BatchShard;
  private order: number[] = [];
  private position = 0;
  private pending?: Pending;
  epoch = -1;

  constructor(private store: FeatureStore, private items: number[], private labels: number[], readonly batchSize: number,
    private P: number, private mean: Float32Array, private std: Float32Array, seed: number, shard?: BatchShard) {
    this.shard = shard ?? { rank: 0, worldSize: 1 };
    this.globalBatch = batchSize * this.shard.worldSize;
    if (items.length < this.globalBatch) throw new UserError(`only ${items.length} training utterances for a batch size of ${batchSize}${this.shard.worldSize > 1 ? ` per process x ${this.shard.worldSize} processes` : ''}`);
    this.rng = new Prng(seed);
  }

  get batchesPerEpoch(): number {
    return Math.floor(this.items.length / this.globalBatch);
  }

  /** Starts the next epoch with a fresh permutation (the DataLoader's shuffle=True). */
  startEpoch(): void {
    this.discard();
    this.order = this.rng.permutation(this.items.length);
    this.position = 0;
    this.epoch++;
  }

  hasNext(): boolean {
    return this.position + this.globalBatch <= this.order.length;
  }

  /** The epoch's next batch; the one after it starts assembling at once. */
  async next(): Promise<Batch> {
    if (!this.hasNext()) throw new Error('TrainBatcher: epoch exhausted');
    const batch = this.take('next') ?? this.planNext();
    this.position += this.globalBatch;
    if (this.hasNext()) this.prefetch('next');
    return batch;
  }

  /** A batch from a fresh permutation's first items: the search's next(iter(val_loader)). */
  async sampleFresh(): Promise<Batch> {
    const batch = this.take('fresh') ?? this.planFresh();
    this.prefetch('fresh');
    return batch;
  }

  /** The batch at the current position (the caller advances the position when it takes it). */
  private planNext(): Promise<Batch> {
    return this.build(this.order.slice(this.position, this.position + this.globalBatch));
  }

  private planFresh(): Promise<Batch> {
    return this.build(this.rng.permutation(this.items.length).slice(0, this.globalBatch));
  }

  private prefetch(kind: Pending['kind']): void {
    const rngBefore = this.rng.state();
    const batch = kind === 'next' ? this.planNext() : this.planFresh();
    batch.catch(() => {}); // surfaced when taken
    this.pending = { kind, rngBefore, batch };
  }

  private take(kind: Pending['kind']): Promise<Batch> | undefined {
    if (this.pending?.kind === kind) {
      const b = this.pending.batch;
      this.pending = undefined;
      return b;
    }
    this.discard();
    return undefined;
  }

  /** Forgets a planned batch and rewinds the draws made for it. */
  private discard(): void {
    if (!this.pending) return;
    this.rng = new Prng(this.pending.rngBefore);
    this.pending = undefined;
  }

  /** Draws each pick's crop start and flip (in the reference's order) and assembles natively. */
  // async: a span the reader refuses synchronously (a shard truncated under us) still arrives as a rejection.
  // The draws are made for every pick of the global batch; only this rank's share is assembled.
  private async build(picks: number[]): Promise<Batch> {
    const P = this.P;
    const first = this.shard.rank * this.batchSize, n = this.shard.worldSize > 1 ? this.batchSize : picks.length;
    const plan = new Int32Array(n * 5);
    const y = new Int32Array(n);
    picks.forEach((k, g) => {
      const u = this.store.index.utterances[this.items[k]];
      const start = cropStart(u.frames, P, this.rng), flip = this.rng.next() < 0.5 ? 1 : 0;
      const b = g - first;
      if (b < 0 || b >= n) return;
      plan.set([u.shard, u.offset, u.frames, start, flip], b * 5);
      y[b] = this.labels[k];
    });
    const bins = this.store.index.bins;
    return this.store.reader.trainBatch(plan, P, this.mean, this.std).then((x) => ({ x, y, shape: [n, P, bins] }));
  }

  state(): BatcherState {
    const rng = this.pending ? this.pending.rngBefore : this.rng.state();
    return { rng, order: [...this.order], position: this.position, epoch: this.epoch };
  }

  restore(s: BatcherState): void {
    this.pending = undefined;
    this.rng = new Prng(s.rng);
    this.order = [...s.order];
    this.position = s.position;
    this.epoch = s.epoch;
  }
}
