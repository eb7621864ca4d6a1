// EER exactly as the reference's utils.compute_eer: fpr[nanargmin(|(1 - tpr) - fpr|)] on sklearn's
// roc_curve (drop_intermediate=True): no interpolation, the first minimising point, fpr reported.
import { rocCurve } from './roc.ts';

export function computeEer(scores: ArrayLike<number>, labels: ArrayLike<number>, dropIntermediate = true): { eer: number; index: number } {
  const roc = rocCurve(scores, labels, dropIntermediate);
  let best = Infinity, index = -1;
  for (let i = 0; i < roc.fpr.length; i++) {
    const d = Math.abs(1 - roc.tpr[i] - roc.fpr[i]);
    if (Number.isNaN(d)) continue;
    if (d < best) { best = d; index = i; }
  }
  if (index < 0) throw new Error('EER undefined: every point is NaN (a single class of trials?)');
  return { eer: roc.fpr[index], index };
}

/** Normalised minimum detection cost (c_miss = c_fa = 1) over every threshold. */
export function minDcf(scores: ArrayLike<number>, labels: ArrayLike<number>, pTarget: number, cMiss = 1, cFa = 1): number {
  const roc = rocCurve(scores, labels, false);
  let best = Infinity;
  for (let i = 0; i < roc.fpr.length; i++) {
    const cost = cMiss * (1 - roc.tpr[i]) * pTarget + cFa * roc.fpr[i] * (1 - pTarget);
    if (cost < best) best = cost;
  }
  return best / Math.min(cMiss * pTarget, cFa * (1 - pTarget));
}

/** torch 1.5 F.cosine_similarity: dot / sqrt(max(|a|^2 |b|^2, 1e-16)) (in float64 here). */
export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < a.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  return dot / Math.sqrt(Math.max(na * nb, 1e-16));
}
