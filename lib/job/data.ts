// The data a job reads: the feature store of DATASET.DATA_DIR, its normalisation and splits.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { Config } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { type Partition, type SubDir, TrainBatcher, selectUtterances } from '../data/sampler.ts';
import { currentDist } from '../dist/context.ts';
import { FeatureStore } from '../data/store.ts';

export function storeDir(cfg: Config): string {
  if (!cfg.DATASET.DATA_DIR) throw new UserError('DATASET.DATA_DIR is not set (the data root that `autospeech preprocess` was run on)');
  return cfg.DATASET.STORE_DIR || join(cfg.DATASET.DATA_DIR, 'store');
}

export function openStore(cfg: Config): FeatureStore {
  const dir = storeDir(cfg);
  if (!existsSync(cfg.DATASET.DATA_DIR)) throw new UserError(`DATASET.DATA_DIR ${cfg.DATASET.DATA_DIR} does not exist`);
  if (!existsSync(join(dir, 'index.json'))) throw new UserError(`no feature store at ${dir}: run \`autospeech preprocess ${cfg.DATASET.DATA_DIR}\` first`);
  return new FeatureStore(dir);
}

export function subDir(cfg: Config): SubDir {
  const s = cfg.DATASET.SUB_DIR;
  if (s !== 'merged' && s !== 'dev' && s !== 'test') throw new UserError(`DATASET.SUB_DIR must be merged, dev or test, got '${s}'`);
  return s;
}

export interface Split { items: number[]; labels: number[]; speakers: string[] }

export function split(store: FeatureStore, cfg: Config, partition: Partition): Split {
  const s = selectUtterances(store.index, subDir(cfg), partition);
  if (s.speakers.length > cfg.MODEL.NUM_CLASSES)
    throw new UserError(`the data has ${s.speakers.length} speakers in '${cfg.DATASET.SUB_DIR}' but MODEL.NUM_CLASSES is ${cfg.MODEL.NUM_CLASSES}`);
  return s;
}

export function batcher(store: FeatureStore, cfg: Config, s: Split, seed: number, norm: { mean: Float32Array; std: Float32Array }): TrainBatcher {
  const d = currentDist(); // a data-parallel rank takes its share of the global batch
  return new TrainBatcher(store, s.items, s.labels, cfg.TRAIN.BATCH_SIZE, cfg.DATASET.PARTIAL_N_FRAMES, norm.mean, norm.std, seed,
    d ? { rank: d.rank, worldSize: d.worldSize } : undefined);
}

/** Normalised test windows of several utterances stacked, with their window counts (native, off the main thread). */
export async function windowsOf(store: FeatureStore, items: number[], P: number, norm: { mean: Float32Array; std: Float32Array }): Promise<{ data: Float32Array; counts: Int32Array }> {
  const plan = new Int32Array(items.length * 3);
  items.forEach((i, k) => {
    const u = store.index.utterances[i];
    plan.set([u.shard, u.offset, u.frames], k * 3);
  });
  return store.reader.windows(plan, P, norm.mean, norm.std);
}
