// TRAIN.INIT_FROM: a training run (train, train-baseline) starts from another run's model weights
// (bnn.md §3.3 init 'fp32-checkpoint': a binary-weight ResNet whose latent weights are its trained
// fp32 twin's), loaded strictly (the same keys and shapes), with this run's fresh optimizer,
// schedule and samplers. Which initialisation a run used is recorded in its versions.json.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import type { Config } from '../config/index.ts';
import { loadWeights, modelTensorsOf } from '../models/weights.ts';
import type { NativeModel } from '../native.ts';
import { loadCheckpoint } from '../run/checkpoint.ts';
import { checkpointFile } from '../run/checkpoint_arg.ts';

export interface InitFrom {
  /** TRAIN.INIT_FROM as given */
  from: string;
  /** the checkpoint file it resolved to */
  checkpoint: string;
  sha256: string;
  /** the source run's kind and the epoch/step its checkpoint was written after */
  kind: string;
  epoch: number;
  globalStep: number;
}

/** What versions.json records as a run's initialisation. */
export type InitRecord = { init: 'checkpoint'; source: InitFrom } | { init: 'baseline' };

/** The resolved TRAIN.INIT_FROM (null when unset); `root` is where `latest:<name>` looks. */
export function resolveInitFrom(cfg: Config, root: string, command: string): InitFrom | null {
  if (!cfg.TRAIN.INIT_FROM) return null;
  const file = checkpointFile(cfg.TRAIN.INIT_FROM, 'TRAIN.INIT_FROM', root, command);
  const meta = loadCheckpoint<{ kind?: string; epoch?: number; globalStep?: number }>(file).meta;
  return {
    from: cfg.TRAIN.INIT_FROM, checkpoint: file, sha256: createHash('sha256').update(readFileSync(file)).digest('hex'),
    kind: meta.kind ?? '?', epoch: meta.epoch ?? 0, globalStep: meta.globalStep ?? 0,
  };
}

/** Copies the checkpoint's model weights into `model`: every key, shape and dtype must match. */
export function loadInitFrom(model: NativeModel, init: InitFrom): void {
  loadWeights(model, modelTensorsOf(loadCheckpoint(init.checkpoint).tensors), `TRAIN.INIT_FROM ${init.checkpoint}`);
}

export function initRecord(init: InitFrom | null): InitRecord {
  return init ? { init: 'checkpoint', source: init } : { init: 'baseline' };
}
