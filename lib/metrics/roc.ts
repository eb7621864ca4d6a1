// sklearn.metrics.roc_curve semantics (0.22 .. 1.2 agree): scores sorted descending with a stable
// mergesort of the ascending order reversed, one point per distinct score (the last index of each
// tie run), integer tps/fps, collinear interior points dropped when drop_intermediate (the default),
// (0, 0) prepended, fpr = fps / fps[-1], tpr = tps / tps[-1].
export interface Roc { fps: number[]; tps: number[]; fpr: number[]; tpr: number[]; thresholds: number[] }

export function rocCurve(rawScores: ArrayLike<number>, labels: ArrayLike<number>, dropIntermediate = true): Roc {
  const n = rawScores.length;
  // sklearn refuses NaN scores; here a NaN score is always wrong: a target trial's is rejected at
  // every threshold (-inf), a non-target's accepted at every one (+inf). A diverged model's NaN
  // scores then give the worst EER, never the perfect one a constant score would.
  const scores = Array.from(rawScores, (v, i) => (Number.isNaN(v) ? (labels[i] ? -Infinity : Infinity) : v));
  if (n !== labels.length) throw new Error(`roc: ${n} scores but ${labels.length} labels`);
  // np.argsort(y_score, kind="mergesort")[::-1]: stable ascending, then reversed.
  const asc = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b] || a - b);
  const order = asc.reverse();
  const s = order.map((i) => scores[i]);
  const y = order.map((i) => (labels[i] ? 1 : 0));
  const tpsAll: number[] = [], fpsAll: number[] = [], thr: number[] = [];
  let tp = 0;
  for (let i = 0; i < n; i++) {
    tp += y[i];
    if (i === n - 1 || s[i + 1] !== s[i]) {
      tpsAll.push(tp);
      fpsAll.push(i + 1 - tp);
      thr.push(s[i]);
    }
  }
  let keep = tpsAll.map((_, i) => i);
  if (dropIntermediate && tpsAll.length > 2) {
    keep = [0];
    for (let i = 1; i < tpsAll.length - 1; i++) {
      const d2f = fpsAll[i - 1] - 2 * fpsAll[i] + fpsAll[i + 1];
      const d2t = tpsAll[i - 1] - 2 * tpsAll[i] + tpsAll[i + 1];
      if (d2f !== 0 || d2t !== 0) keep.push(i);
    }
    keep.push(tpsAll.length - 1);
  }
  const fps = [0, ...keep.map((i) => fpsAll[i])];
  const tps = [0, ...keep.map((i) => tpsAll[i])];
  const thresholds = [Infinity, ...keep.map((i) => thr[i])];
  const fLast = fps[fps.length - 1], tLast = tps[tps.length - 1];
  return { fps, tps, thresholds, fpr: fps.map((v) => v / fLast), tpr: tps.map((v) => v / tLast) };
}
