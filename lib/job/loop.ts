// The epoch/step loop shared by search and training from scratch: per epoch the reference's lr and
// drop-path schedule, per step one native trainer step (plus the search's validation batch),
// metrics to JSONL and TensorBoard, periodic and epoch-end checkpoints, exact resume. The TDNN
// supernet's training uses the same loop with its own step (walks over sampled paths) and a
// per-step learning rate (CyclicLR), through the `step` and `stepLr` hooks.
import type { Config } from '../config/index.ts';
import type { Batch, TrainBatcher } from '../data/sampler.ts';
import type { NativeModel, NativeTrainer, StepStats } from '../native.ts';
import { currentDist } from '../dist/context.ts';
import { loadNative } from '../native.ts';
import { Progress } from '../run/progress.ts';
import { cosineLr } from '../train/schedule.ts';
import type { CheckpointedTrainer, Job, JobMeta, Resumable } from './job.ts';

/** What the loop needs of a training batcher. */
export interface LoopBatcher<B> extends Resumable {
  readonly batchesPerEpoch: number;
  startEpoch(): void;
  next(): Promise<B>;
}

/** A step's numbers the loop logs. */
export type LoopStepStats = Pick<StepStats, 'loss' | 'acc1' | 'acc5' | 'archLoss' | 'archEntropy' | 'gradientBuckets' | 'overlappedBuckets'> & { extra?: Record<string, number> };

/** A run that stopped because its loss or weights stopped being finite (exit 1). */
export class DivergedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DivergedError';
  }
}

export interface LoopHooks<B = Batch> {
  kind: 'search' | 'scratch' | 'baseline' | 'tdnn';
  /** the drop-path probability of an epoch (AutoSpeech networks) */
  dropPath?(epoch: number): number;
  /** the lr of a step (0-based global step), instead of the per-epoch cosine schedule */
  stepLr?(globalStep: number): number;
  /** one training step on a batch with the given lr, instead of trainer.step */
  step?(batch: B, lr: number): Promise<LoopStepStats>;
  /** further generators a checkpoint must record (e.g. the TDNN path sampler) */
  resumables?: Record<string, Resumable>;
  /** Before an epoch's first step (the search logs its genotype here). */
  onEpochStart?(epoch: number): Promise<void> | void;
  /** After the epoch (its last step's global step): validation; returns the metric (higher is better) or null when none ran. */
  onEpochEnd?(epoch: number, lastStep: number): Promise<{ metric: number; record: Record<string, unknown> } | null>;
  genotype?(): string | undefined;
}

export async function runLoop<B = Batch>(cfg: Config, job: Job, model: NativeModel, trainer: NativeTrainer | CheckpointedTrainer, train: LoopBatcher<B>,
  val: TrainBatcher | null, hooks: LoopHooks<B>): Promise<JobMeta> {
  const batchers: Record<string, Resumable> = { ...(val ? { train, val } : { train }), ...hooks.resumables };
  const perEpoch = cfg.TRAIN.STEPS_PER_EPOCH > 0 ? Math.min(cfg.TRAIN.STEPS_PER_EPOCH, train.batchesPerEpoch) : train.batchesPerEpoch;
  const meta: JobMeta = job.restore(model, trainer, batchers) ?? {
    kind: hooks.kind, epoch: cfg.TRAIN.BEGIN_EPOCH, stepInEpoch: 0, globalStep: cfg.TRAIN.BEGIN_EPOCH * perEpoch, best: null, batchers: {}, history: [],
  };
  // Data parallel: every rank starts from rank 0's parameters and buffers (as DDP does); the
  // optimizer state and samplers are the same on every rank (same seeds, or the same checkpoint).
  const dist = currentDist();
  if (dist) await loadNative().distBroadcastModel(model, 0);
  const stopOnNonFinite = cfg.TRAIN.STOP_ON_NONFINITE;
  const diverged = (what: string) => {
    const last = job.lastCheckpoint;
    return new DivergedError(
      `training diverged at step ${meta.globalStep - 1} (epoch ${meta.epoch}, batch ${meta.stepInEpoch - 1} of the epoch; steps count from 0 as in metrics.jsonl): ${what}. ` +
      `Nothing was saved from that step on; ${last ? `the last good checkpoint is ${last}` : 'no checkpoint had been written yet'}. ` +
      `Hint: lower TRAIN.LR (now ${cfg.TRAIN.LR}${val ? `, TRAIN.ARCH_LR ${cfg.TRAIN.ARCH_LR}` : ''}) and ${last ? `resume from ${last} with --resume-override, or start again` : 'start again'}; ` +
      'TRAIN.STOP_ON_NONFINITE False trains on regardless.');
  };
  // The names of non-finite tensors; throws when the run must stop on them.
  const nonFinite = (): string[] => {
    const bad = model.nonFiniteTensors();
    if (bad.length && stopOnNonFinite) throw diverged(`${bad.length} model tensor(s) hold NaN or inf (${bad.slice(0, 3).join(', ')}${bad.length > 3 ? ', ...' : ''})`);
    if (bad.length) job.log(`warning: ${bad.length} model tensor(s) hold NaN or inf; this checkpoint can never be the best`);
    return bad;
  };
  let reportedBuckets = false;
  const state = (): JobMeta => ({ ...meta, batchers: Object.fromEntries(Object.entries(batchers).map(([k, b]) => [k, b.state()])), genotype: hooks.genotype?.() });
  for (; meta.epoch < cfg.TRAIN.END_EPOCH; meta.epoch++, meta.stepInEpoch = 0) {
    const epoch = meta.epoch;
    const epochLr = cosineLr(epoch, cfg.TRAIN.LR, cfg.TRAIN.LR_MIN, cfg.TRAIN.END_EPOCH);
    if (!hooks.step) (trainer as NativeTrainer).setLr(epochLr);
    if (hooks.dropPath) model.setDropPathProb(hooks.dropPath(epoch));
    if (meta.stepInEpoch === 0) {
      train.startEpoch();
      await hooks.onEpochStart?.(epoch);
    }
    const progress = dist && !dist.isMain ? null : new Progress(`${hooks.kind} epoch ${epoch}`, perEpoch);
    let sums = { loss: 0, acc1: 0, n: 0 };
    while (meta.stepInEpoch < perEpoch) {
      const b = await train.next();
      const lr = hooks.stepLr ? hooks.stepLr(meta.globalStep) : epochLr;
      let stats: LoopStepStats;
      if (hooks.step) {
        stats = await hooks.step(b, lr);
      } else {
        const t = trainer as NativeTrainer, nb = b as Batch;
        if (val) {
          const v = await val.sampleFresh();
          stats = await t.step(nb.x, nb.shape, nb.y, v.x, v.shape, v.y);
        } else {
          stats = await t.step(nb.x, nb.shape, nb.y);
        }
      }
      if (stats.gradientBuckets !== undefined && !reportedBuckets) {
        reportedBuckets = true;
        job.log(`data parallel: gradients all-reduced in ${stats.gradientBuckets} bucket(s), ${stats.overlappedBuckets} of them launched during the backward`);
      }
      meta.stepInEpoch++;
      meta.globalStep++;
      if (stopOnNonFinite && (!Number.isFinite(stats.loss) || (stats.archLoss !== undefined && !Number.isFinite(stats.archLoss)))) {
        job.metrics.write({ step: meta.globalStep - 1, epoch, train_loss: String(stats.loss), ...(stats.archLoss !== undefined ? { arch_loss: String(stats.archLoss) } : {}) });
        job.flush();
        throw diverged(`the loss is ${stats.loss}${stats.archLoss !== undefined ? ` (alpha step loss ${stats.archLoss})` : ''}`);
      }
      sums = { loss: sums.loss + stats.loss, acc1: sums.acc1 + stats.acc1, n: sums.n + 1 };
      const record: Record<string, number> = { lr, train_loss: stats.loss, train_acc1: stats.acc1, train_acc5: stats.acc5 };
      if (stats.archEntropy !== undefined) record.arch_entropy = stats.archEntropy;
      Object.assign(record, stats.extra);
      job.metrics.write({ step: meta.globalStep - 1, epoch, ...record });
      job.scalars(meta.globalStep - 1, record);
      progress?.update(meta.stepInEpoch, `loss ${stats.loss.toFixed(4)} acc@1 ${stats.acc1.toFixed(1)}`);
      if (cfg.TRAIN.CHECKPOINT_STEPS > 0 && meta.globalStep % cfg.TRAIN.CHECKPOINT_STEPS === 0 && meta.stepInEpoch < perEpoch) {
        nonFinite();
        job.flush();
        job.save('last.ckpt', model, trainer, state());
      }
    }
    job.log(`${hooks.kind} epoch ${epoch}: lr ${(hooks.stepLr ? hooks.stepLr(Math.max(meta.globalStep - 1, 0)) : epochLr).toPrecision(4)} loss ${(sums.loss / Math.max(sums.n, 1)).toFixed(4)} train acc@1 ${(sums.acc1 / Math.max(sums.n, 1)).toFixed(2)} %`);
    const finite = nonFinite().length === 0;
    const result = await hooks.onEpochEnd?.(epoch, meta.globalStep - 1);
    const done: JobMeta = { ...state(), epoch: epoch + 1, stepInEpoch: 0 };
    if (result) {
      // A non-finite model is never the best, whatever its metric says.
      const isBest = finite && Number.isFinite(result.metric) && (meta.best === null || result.metric > meta.best);
      if (isBest) meta.best = result.metric;
      done.best = meta.best;
      meta.history.push({ epoch, ...result.record });
      done.history = meta.history;
      job.metrics.write({ step: meta.globalStep - 1, epoch, validation: result.record });
      job.scalars(meta.globalStep - 1, Object.fromEntries(Object.entries(result.record).filter(([, v]) => typeof v === 'number')) as Record<string, number>);
      job.save(`checkpoint_${epoch}.ckpt`, model, trainer, done);
      if (isBest) job.save('checkpoint_best.ckpt', model, trainer, done);
    }
    job.flush();
    job.save('last.ckpt', model, trainer, done);
  }
  return meta;
}
