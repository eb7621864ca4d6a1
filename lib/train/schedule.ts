// Learning-rate and drop-path schedules exactly as the reference scripts produce them.

/**
 * CosineAnnealingLR(T_max = endEpoch, eta_min) stepped with `scheduler.step(epoch)` at the END of
 * each epoch (torch 1.5 closed form): the lr in force DURING epoch e is lr for e = 0 and
 * lrMin + (lr - lrMin) * (1 + cos(pi * (e - 1) / endEpoch)) / 2 for e >= 1 (the one-epoch offset).
 */
export function cosineLr(epoch: number, lr: number, lrMin: number, endEpoch: number): number {
  if (epoch <= 0) return lr;
  return lrMin + ((lr - lrMin) * (1 + Math.cos((Math.PI * (epoch - 1)) / endEpoch))) / 2;
}

/** Search (search.py): DROPPATH_PROB * e / (END_EPOCH - 1), and exactly 0 when the key is 0. */
export function searchDropPath(epoch: number, prob: number, endEpoch: number): number {
  if (prob === 0 || endEpoch <= 1) return 0;
  return (prob * epoch) / (endEpoch - 1);
}

/** Training from scratch (train_*.py): MODEL.DROP_PATH_PROB * e / END_EPOCH. */
export function scratchDropPath(epoch: number, prob: number, endEpoch: number): number {
  return endEpoch > 0 ? (prob * epoch) / endEpoch : 0;
}

/** Epochs at which the reference validates: e % VAL_FREQ == 0, plus the last epoch for scratch runs. */
export function isValidationEpoch(epoch: number, valFreq: number, endEpoch: number, includeLast: boolean): boolean {
  return epoch % valFreq === 0 || (includeLast && epoch === endEpoch - 1);
}

/**
 * The AAM-softmax margin in force at training step `step` (0-based). sugar keeps it constant, the
 * default (`warmupSteps` 0). The named option `warmupSteps` N > 0 ramps it linearly from 0 to
 * `margin` over the first N steps (step / N * margin), then holds it.
 */
export function aamMargin(step: number, margin: number, options: { warmupSteps?: number } = {}): number {
  const n = options.warmupSteps ?? 0;
  if (!(n >= 0)) throw new RangeError(`aamMargin: warmupSteps must be >= 0, got ${n}`);
  if (n === 0 || step >= n) return margin;
  return (margin * Math.max(0, step)) / n;
}

export type CyclicMode = 'triangular' | 'triangular2' | 'exp_range';

export interface CyclicLrOptions {
  baseLr: number;
  maxLr: number;
  stepSizeUp: number;
  /** default: stepSizeUp */
  stepSizeDown?: number;
  mode?: CyclicMode;
  /** exp_range only */
  gamma?: number;
}

/**
 * torch.optim.lr_scheduler.CyclicLR's lr after `step` scheduler steps (step 0 = the lr in force for
 * the first batch: the constructor sets base_lr), in float64 exactly as its get_lr computes it:
 * cycle = floor(1 + step / total), x = 1 + step / total - cycle, scale = x / ratio while x <= ratio
 * else (x - 1) / (ratio - 1), lr = base + (max - base) * scale * f, where f is 1 (triangular),
 * 1 / 2^(cycle - 1) (triangular2) or gamma^step (exp_range). sugar steps it every batch with base
 * 1e-8, max 1e-3, triangular2 (scheduler/cycliclr.py).
 */
export function cyclicLr(step: number, o: CyclicLrOptions): number {
  if (!Number.isSafeInteger(step) || step < 0) throw new RangeError(`cyclicLr: step must be a non-negative integer, got ${step}`);
  const up = o.stepSizeUp, down = o.stepSizeDown ?? o.stepSizeUp;
  if (!(up > 0) || !(down >= 0)) throw new RangeError(`cyclicLr: stepSizeUp must be > 0 and stepSizeDown >= 0, got ${up}, ${down}`);
  const total = up + down;
  const ratio = up / total;
  const cycle = Math.floor(1 + step / total);
  const x = 1 + step / total - cycle;
  const scale = x <= ratio ? x / ratio : (x - 1) / (ratio - 1);
  const height = (o.maxLr - o.baseLr) * scale;
  const mode = o.mode ?? 'triangular';
  if (mode === 'triangular') return o.baseLr + height * 1.0;
  if (mode === 'triangular2') return o.baseLr + height * (1 / 2 ** (cycle - 1));
  return o.baseLr + height * (o.gamma ?? 1) ** step;
}
