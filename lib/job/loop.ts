// The epoch/step loop shared by search and training from scratch: per epoch the reference's lr and
// drop-path schedule, per step one native trainer step (plus the search's validation batch),
// metrics to JSONL and TensorBoard, periodic and epoch-end checkpoints, exact resume.
import type { Config } from '../config/index.ts';
import type { TrainBatcher } from '../data/sampler.ts';
import type { NativeModel, NativeTrainer, StepStats } from '../native.ts';
import { Progress } from '../run/progress.ts';
import { cosineLr } from '../train/schedule.ts';
import type { Job, JobMeta } from './job.ts';

export interface LoopHooks {
  kind: 'search' | 'scratch' | 'baseline';
  dropPath(epoch: number): number;
  /** Before an epoch's first step (the search logs its genotype here). */
  onEpochStart?(epoch: number): Promise<void> | void;
  /** After the epoch: validation; returns the metric (higher is better) or null when none ran. */
  onEpochEnd?(epoch: number): Promise<{ metric: number; record: Record<string, unknown> } | null>;
  genotype?(): string | undefined;
}

export async function runLoop(cfg: Config, job: Job, model: NativeModel, trainer: NativeTrainer, train: TrainBatcher,
  val: TrainBatcher | null, hooks: LoopHooks): Promise<JobMeta> {
  const batchers: Record<string, TrainBatcher> = val ? { train, val } : { train };
  const perEpoch = cfg.TRAIN.STEPS_PER_EPOCH > 0 ? Math.min(cfg.TRAIN.STEPS_PER_EPOCH, train.batchesPerEpoch) : train.batchesPerEpoch;
  const meta: JobMeta = job.restore(model, trainer, batchers) ?? {
    kind: hooks.kind, epoch: cfg.TRAIN.BEGIN_EPOCH, stepInEpoch: 0, globalStep: cfg.TRAIN.BEGIN_EPOCH * perEpoch, best: null, batchers: {}, history: [],
  };
  const state = (): JobMeta => ({ ...meta, batchers: Object.fromEntries(Object.entries(batchers).map(([k, b]) => [k, b.state()])), genotype: hooks.genotype?.() });
  for (; meta.epoch < cfg.TRAIN.END_EPOCH; meta.epoch++, meta.stepInEpoch = 0) {
    const epoch = meta.epoch;
    const lr = cosineLr(epoch, cfg.TRAIN.LR, cfg.TRAIN.LR_MIN, cfg.TRAIN.END_EPOCH);
    trainer.setLr(lr);
    model.setDropPathProb(hooks.dropPath(epoch));
    if (meta.stepInEpoch === 0) {
      train.startEpoch();
      await hooks.onEpochStart?.(epoch);
    }
    const progress = new Progress(`${hooks.kind} epoch ${epoch}`, perEpoch);
    let sums = { loss: 0, acc1: 0, n: 0 };
    while (meta.stepInEpoch < perEpoch) {
      const b = await train.next();
      let stats: StepStats;
      if (val) {
        const v = await val.sampleFresh();
        stats = await trainer.step(b.x, b.shape, b.y, v.x, v.shape, v.y);
      } else {
        stats = await trainer.step(b.x, b.shape, b.y);
      }
      meta.stepInEpoch++;
      meta.globalStep++;
      sums = { loss: sums.loss + stats.loss, acc1: sums.acc1 + stats.acc1, n: sums.n + 1 };
      const record: Record<string, number> = { lr, train_loss: stats.loss, train_acc1: stats.acc1, train_acc5: stats.acc5 };
      if (stats.archEntropy !== undefined) record.arch_entropy = stats.archEntropy;
      job.metrics.write({ step: meta.globalStep - 1, epoch, ...record });
      job.scalars(meta.globalStep - 1, record);
      progress.update(meta.stepInEpoch, `loss ${stats.loss.toFixed(4)} acc@1 ${stats.acc1.toFixed(1)}`);
      if (cfg.TRAIN.CHECKPOINT_STEPS > 0 && meta.globalStep % cfg.TRAIN.CHECKPOINT_STEPS === 0 && meta.stepInEpoch < perEpoch) {
        job.flush();
        job.save('last.ckpt', model, trainer, state());
      }
    }
    job.log(`${hooks.kind} epoch ${epoch}: lr ${lr.toPrecision(4)} loss ${(sums.loss / Math.max(sums.n, 1)).toFixed(4)} train acc@1 ${(sums.acc1 / Math.max(sums.n, 1)).toFixed(2)} %`);
    const result = await hooks.onEpochEnd?.(epoch);
    const done: JobMeta = { ...state(), epoch: epoch + 1, stepInEpoch: 0 };
    if (result) {
      const isBest = meta.best === null || result.metric > meta.best;
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
