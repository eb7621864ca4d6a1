// Error measures used by the fixture README: |port - ref| <= tol * max|ref| per tensor.
export function maxAbsDiff(a: ArrayLike<number | bigint>, b: ArrayLike<number | bigint>): number {
  if (a.length !== b.length) throw new Error(`length mismatch ${a.length} vs ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(Number(a[i]) - Number(b[i]));
    if (!(d <= m)) m = d; // NaN propagates
  }
  return m;
}

export function maxAbs(a: ArrayLike<number | bigint>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(Number(a[i])));
  return m;
}

/** max|a - b| / max|b|; when b is all zeros, the plain max|a - b|. */
export function relErr(a: ArrayLike<number | bigint>, ref: ArrayLike<number | bigint>): number {
  const d = maxAbsDiff(a, ref);
  const s = maxAbs(ref);
  return s > 0 ? d / s : d;
}
