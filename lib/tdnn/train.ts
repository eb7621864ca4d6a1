// One progressive-shrinking stage of the EfficientTDNN supernet (sugar's scripts/train_vox2_veri.py
// with --task <stage> --initial-weights <previous stage>): waveform crops from the logmel store,
// a new path from the stage's TDNNPath sampler for every train-mode forward (TRAIN.DYNAMIC_WALKS
// forwards per batch, gradients accumulated, one Adam step), Adam with L2 TRAIN.WD on every
// parameter and the AAM weight, CyclicLR stepped per batch (TRAIN.CYCLE_BASE_LR..TRAIN.LR, half
// cycle TRAIN.CYCLE_STEP). A stage starts from TRAIN.INIT_CHECKPOINT's supernet and AAM weights with
// a fresh optimizer, schedule and sampler, as the reference's --initial-weights does. The shared
// job machinery (run dir, metrics, checkpoints, exact resume) records the sampler and batcher
// states too, so a killed stage resumes exactly.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import type { Config } from '../config/index.ts';
import { FeatureStore, defaultStoreDir } from '../data/store.ts';
import { UserError } from '../errors.ts';
import type { NpyArray } from '../io/npy.ts';
import { split, subDir } from '../job/data.ts';
import type { Job } from '../job/job.ts';
import { currentDist, distLine } from '../dist/context.ts';
import { runLoop } from '../job/loop.ts';
import { buildModelFromSpec } from '../models/build.ts';
import { modelSpecFromConfig } from '../models/spec.ts';
import { loadWeights, modelTensorsOf } from '../models/weights.ts';
import { type NativeModel, type NativeTdnnTrainer, loadNative } from '../native.ts';
import { loadCheckpoint } from '../run/checkpoint.ts';
import { checkpointFile } from '../run/checkpoint_arg.ts';
import { type CyclicMode, cyclicLr } from '../train/schedule.ts';
import { type SamplerState, TDNNPath } from './sampler.ts';
import { namedSpace } from './space.ts';
import { formatSubnet, supernetDims } from './subnet.ts';
import { WaveBatcher } from './wave_batcher.ts';

export function waveStoreDir(cfg: Config): string {
  if (!cfg.DATASET.DATA_DIR) throw new UserError('DATASET.DATA_DIR is not set (the data root that `autospeech preprocess --frontend logmel` was run on)');
  return cfg.DATASET.LOGMEL_STORE_DIR || defaultStoreDir(cfg.DATASET.DATA_DIR, 'logmel');
}

export function openWaveStore(cfg: Config): FeatureStore {
  const dir = waveStoreDir(cfg);
  if (!existsSync(join(dir, 'index.json'))) throw new UserError(`no waveform store at ${dir}: run \`autospeech preprocess --frontend logmel ${cfg.DATASET.DATA_DIR || '<data dir>'}\` first`);
  const store = new FeatureStore(dir);
  if (store.frontend !== 'logmel') throw new UserError(`${dir} is a ${store.frontend} store; the TDNN trains on waveforms (preprocess --frontend logmel)`);
  return store;
}

/** The stage's space: TRAIN.STAGE names a stage (largest, kernel, depth, width1, width2) or a --task string. */
export function stageSpace(cfg: Config) {
  if (!cfg.TRAIN.STAGE) throw new UserError('TRAIN.STAGE is not set: largest, kernel, depth, width1, width2 or a task string such as supernet_kernel_depth');
  return namedSpace(supernetDims(cfg), cfg.TRAIN.STAGE);
}

/** Where `tdnn train` puts its run dirs. */
export const TDNN_RUN_ROOT = 'logs_tdnn';

/** The previous stage's supernet weights and AAM weight (sugar's --initial-weights). */
export function loadInitialWeights(cfg: Config, model: NativeModel, trainer: NativeTdnnTrainer): string {
  const file = checkpointFile(cfg.TRAIN.INIT_CHECKPOINT, 'TRAIN.INIT_CHECKPOINT', cfg.OUTPUT_DIR || TDNN_RUN_ROOT, 'tdnn train');
  const ckpt = loadCheckpoint(file);
  loadWeights(model, modelTensorsOf(ckpt.tensors), `TRAIN.INIT_CHECKPOINT ${file}`);
  const head: Record<string, NpyArray> = {};
  for (const [name, t] of ckpt.tensors) if (name.startsWith('head/')) head[name.slice('head/'.length)] = t;
  if (!head['aam.W']) throw new UserError(`TRAIN.INIT_CHECKPOINT ${file}: no AAM weight (head/aam.W); is it a tdnn train checkpoint?`);
  try {
    trainer.loadHeadState(head);
  } catch (err) {
    throw new UserError(`TRAIN.INIT_CHECKPOINT ${file}: ${(err as Error).message}`);
  }
  return file;
}

export interface TdnnTrainResult {
  runDir: string;
  stage: string;
  steps: number;
  params: number;
  lastLoss: number | null;
  /** mean wall time of a training step in this process (ms), features included */
  stepMs: number | null;
  lastSubnet: string | null;
}

export async function runTdnnTraining(cfg: Config, job: Job): Promise<TdnnTrainResult> {
  const native = loadNative();
  native.manualSeed(cfg.SEED);
  if (cfg.LOSS.NAME !== 'aam') throw new UserError(`LOSS.NAME ${cfg.LOSS.NAME}: the TDNN supernet trains with the AAM-softmax head (LOSS.NAME aam)`);
  const space = stageSpace(cfg);
  const store = openWaveStore(cfg);
  const s = split(store, cfg, subDir(cfg) === 'dev' ? undefined : 'train');
  const model = buildModelFromSpec(cfg, modelSpecFromConfig(cfg));
  const dist = currentDist();
  const trainer = new native.TdnnTrainer(model, {
    classes: cfg.MODEL.NUM_CLASSES, lr: cfg.TRAIN.LR, beta1: cfg.TRAIN.BETA1, beta2: cfg.TRAIN.BETA2, weightDecay: cfg.TRAIN.WD,
    margin: cfg.LOSS.MARGIN, scale: cfg.LOSS.SCALE, easyMargin: cfg.LOSS.EASY_MARGIN,
    distributed: !!dist, syncBn: !!dist && cfg.MODEL.SYNC_BN,
  });
  if (!cfg.TRAIN.INIT_CHECKPOINT && cfg.TRAIN.STAGE !== 'largest' && !job.resuming) job.log(`warning: stage ${cfg.TRAIN.STAGE} without TRAIN.INIT_CHECKPOINT starts from the initialisation, not from the previous stage`);
  if (cfg.TRAIN.INIT_CHECKPOINT && !job.resuming) job.log(`stage ${cfg.TRAIN.STAGE}: initial weights from ${loadInitialWeights(cfg, model, trainer)}`);
  let paths = new TDNNPath(space, cfg.TRAIN.PATH_SEED);
  const pathState = { state: () => paths.getState(), restore: (st: SamplerState) => { paths = TDNNPath.fromState(space, st); } };
  const batcher = new WaveBatcher(store, s.items, s.labels, cfg.TRAIN.BATCH_SIZE, cfg.DATASET.TRAIN_SAMPLES, cfg.SEED, cfg.DATASET.MIN_SAMPLES,
    dist ? { rank: dist.rank, worldSize: dist.worldSize } : undefined);
  const schedule = { baseLr: cfg.TRAIN.CYCLE_BASE_LR, maxLr: cfg.TRAIN.LR, stepSizeUp: cfg.TRAIN.CYCLE_STEP, mode: cfg.TRAIN.CYCLE_MODE as CyclicMode };
  const walks = cfg.TRAIN.DYNAMIC_WALKS;
  job.log(`tdnn stage ${cfg.TRAIN.STAGE}: ${s.items.length} training utterances, ${s.speakers.length} speakers, ${model.paramCounts().total} supernet parameters, ` +
    `crops of ${cfg.DATASET.TRAIN_SAMPLES} samples, ${walks} walk(s) per batch${distLine(cfg)}`);
  let steps = 0, stepMsSum = 0, lastLoss: number | null = null, lastSubnet: string | null = null;
  const meta = await runLoop(cfg, job, model, trainer, batcher, null, {
    kind: 'tdnn',
    stepLr: (g) => cyclicLr(g, schedule),
    step: async (b, lr) => {
      const subnets = Array.from({ length: walks }, () => paths.sample());
      const t0 = performance.now();
      const r = await trainer.step(b.x, b.shape, b.y, { subnets, lr });
      stepMsSum += performance.now() - t0;
      steps++;
      lastLoss = r.loss;
      lastSubnet = formatSubnet(subnets[subnets.length - 1]);
      return { loss: r.loss, acc1: r.acc1, acc5: r.acc5, extra: { path_draws: paths.draws } };
    },
    resumables: { paths: pathState },
  });
  store.close();
  job.close();
  return { runDir: job.paths.prefix, stage: cfg.TRAIN.STAGE, steps: meta.globalStep, params: model.paramCounts().total, lastLoss, stepMs: steps ? stepMsSum / steps : null, lastSubnet };
}
