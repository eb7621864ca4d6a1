// EER exactly as the reference's utils.compute_eer: fpr[nanargmin(|(1 - tpr) - fpr|)] on sklearn's
// roc_curve (drop_intermediate=True): no interpolation, the first minimising point, fpr reported;
// its threshold is that ROC point's (accept when score >= threshold). The interpolated crossing
// that WeSpeaker/SpeechBrain-style recipes report, brentq(lambda x: 1 - x - interp1d(fpr, tpr)(x),
// 0, 1) on the same ROC, is computeEerInterp.
import { rocCurve } from './roc.ts';

export const EER_METHODS = ['reference', 'interp'] as const;
export type EerMethod = (typeof EER_METHODS)[number];

export interface EerResult {
  eer: number;
  /** the ROC point of the reference's argmin */
  index: number;
  /** the score threshold of that point: a trial is accepted when score >= threshold (sklearn's convention) */
  threshold: number;
}

export function computeEer(scores: ArrayLike<number>, labels: ArrayLike<number>, dropIntermediate = true): EerResult {
  const roc = rocCurve(scores, labels, dropIntermediate);
  let best = Infinity, index = -1;
  for (let i = 0; i < roc.fpr.length; i++) {
    const d = Math.abs(1 - roc.tpr[i] - roc.fpr[i]);
    if (Number.isNaN(d)) continue;
    if (d < best) { best = d; index = i; }
  }
  if (index < 0) throw new Error('EER undefined: every point is NaN (a single class of trials?)');
  return { eer: roc.fpr[index], index, threshold: roc.thresholds[index] };
}

/**
 * np.interp(x, xp, fp) for sorted xp (interp1d(kind='linear') delegates to it for float64 data):
 * the last j with xp[j] <= x, fp[j] where x hits a sample point (the last of equal xp values), else
 * the slope from j, retried from j + 1 when that gives NaN.
 */
export function npInterp(x: number, xp: ArrayLike<number>, fp: ArrayLike<number>): number {
  const n = xp.length;
  if (Number.isNaN(x)) return x;
  if (x < xp[0]) return fp[0];
  if (x > xp[n - 1]) return fp[n - 1];
  let lo = 0, hi = n; // bisection: first index with xp > x
  while (lo < hi) {
    const mid = lo + ((hi - lo) >> 1);
    if (x >= xp[mid]) lo = mid + 1;
    else hi = mid;
  }
  const j = lo - 1;
  if (j === n - 1 || xp[j] === x) return fp[j];
  const slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  let y = slope * (x - xp[j]) + fp[j];
  if (Number.isNaN(y)) {
    y = slope * (x - xp[j + 1]) + fp[j + 1];
    if (Number.isNaN(y) && fp[j] === fp[j + 1]) y = fp[j];
  }
  return y;
}

/** scipy.optimize.brentq (xtol 2e-12, rtol 4 eps, maxiter 100) as scipy's C implementation steps. */
export function brentq(f: (x: number) => number, xa: number, xb: number, xtol = 2e-12, rtol = 4 * Number.EPSILON, maxiter = 100): number {
  let xpre = xa, xcur = xb, xblk = 0, fblk = 0, spre = 0, scur = 0;
  let fpre = f(xpre), fcur = f(xcur);
  if (Number.isNaN(fpre) || Number.isNaN(fcur)) throw new Error(`brentq: the function is NaN at ${Number.isNaN(fpre) ? xpre : xcur}`);
  if (fpre * fcur > 0) throw new Error('brentq: f(a) and f(b) must have different signs');
  if (fpre === 0) return xpre;
  if (fcur === 0) return xcur;
  for (let i = 0; i < maxiter; i++) {
    if (fpre * fcur < 0) { xblk = xpre; fblk = fpre; spre = scur = xcur - xpre; }
    if (Math.abs(fblk) < Math.abs(fcur)) {
      xpre = xcur; xcur = xblk; xblk = xpre;
      fpre = fcur; fcur = fblk; fblk = fpre;
    }
    const delta = (xtol + rtol * Math.abs(xcur)) / 2;
    const sbis = (xblk - xcur) / 2;
    if (fcur === 0 || Math.abs(sbis) < delta) return xcur;
    if (Math.abs(spre) > delta && Math.abs(fcur) < Math.abs(fpre)) {
      let stry: number;
      if (xpre === xblk) stry = -fcur * (xcur - xpre) / (fcur - fpre); // interpolate
      else { // extrapolate
        const dpre = (fpre - fcur) / (xpre - xcur);
        const dblk = (fblk - fcur) / (xblk - xcur);
        stry = -fcur * (fblk * dblk - fpre * dpre) / (dblk * dpre * (fblk - fpre));
      }
      if (2 * Math.abs(stry) < Math.min(Math.abs(spre), 3 * Math.abs(sbis) - delta)) { spre = scur; scur = stry; } // good short step
      else { spre = sbis; scur = sbis; }
    } else {
      spre = sbis; scur = sbis;
    }
    xpre = xcur; fpre = fcur;
    xcur += Math.abs(scur) > delta ? scur : sbis > 0 ? delta : -delta;
    fcur = f(xcur);
  }
  throw new Error(`brentq: no convergence in ${maxiter} iterations`);
}

/**
 * The interpolated EER: where the ROC (sklearn roc_curve, drop_intermediate) linearly interpolated
 * crosses 1 - fpr = tpr, found by brentq on [0, 1], i.e.
 * brentq(lambda x: 1. - x - interp1d(fpr, tpr)(x), 0., 1.). Its threshold is interp1d(fpr,
 * thresholds)(eer), as those recipes compute it, or the reference's where that is not finite.
 */
export function computeEerInterp(scores: ArrayLike<number>, labels: ArrayLike<number>): EerResult {
  const roc = rocCurve(scores, labels, true);
  if (roc.fpr.some(Number.isNaN) || roc.tpr.some(Number.isNaN)) throw new Error('EER undefined: a single class of trials');
  const eer = brentq((x) => 1 - x - npInterp(x, roc.fpr, roc.tpr), 0, 1);
  const ref = computeEer(scores, labels);
  const thr = npInterp(eer, roc.fpr, roc.thresholds);
  return { eer, index: ref.index, threshold: Number.isFinite(thr) ? thr : ref.threshold };
}

export function eerBy(method: EerMethod, scores: ArrayLike<number>, labels: ArrayLike<number>): EerResult {
  return method === 'interp' ? computeEerInterp(scores, labels) : computeEer(scores, labels);
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
