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
