// Score normalisation as WeSpeaker's wespeaker/bin/score_norm.py computes it: each utterance's
// cosines with every cohort embedding (both L2-normalised), sorted in descending order, the top N
// kept; their mean and population standard deviation (np.std, ddof 0). A trial's normalised score
// is the mean of its two z-scores, 0.5 ((s - mu_e) / sd_e + (s - mu_t) / sd_t). S-norm is the
// same over the whole cohort; AS-norm keeps the top N (a top N beyond the cohort's size keeps it
// all, as numpy's slice does). Computed in float64 here (WeSpeaker: float32 embeddings, float32
// matmul and statistics), so values agree to float32 rounding.

export const NORM_METHODS = ['snorm', 'asnorm'] as const;
export type NormMethod = (typeof NORM_METHODS)[number];

/** (n, dim) rows of `data` scaled to unit length, in float64. */
export function unitRows(data: Float32Array, n: number, dim: number): Float64Array {
  const out = new Float64Array(n * dim);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += data[i * dim + k] * data[i * dim + k];
    const inv = 1 / Math.sqrt(s);
    for (let k = 0; k < dim; k++) out[i * dim + k] = data[i * dim + k] * inv;
  }
  return out;
}

export interface CohortStats { mean: number; std: number }

/** The mean and population std of the top `topN` cosines of one embedding with a unit-row cohort. */
export function cohortStats(emb: Float32Array, cohort: Float64Array, cohortSize: number, topN: number): CohortStats {
  const dim = emb.length;
  let s = 0;
  for (let k = 0; k < dim; k++) s += emb[k] * emb[k];
  const inv = 1 / Math.sqrt(s);
  const cos = new Float64Array(cohortSize);
  for (let j = 0; j < cohortSize; j++) {
    let d = 0;
    for (let k = 0; k < dim; k++) d += emb[k] * inv * cohort[j * dim + k];
    cos[j] = d;
  }
  cos.sort().reverse();
  const n = Math.min(topN, cohortSize);
  let mean = 0;
  for (let i = 0; i < n; i++) mean += cos[i];
  mean /= n;
  let v = 0;
  for (let i = 0; i < n; i++) v += (cos[i] - mean) ** 2;
  return { mean, std: Math.sqrt(v / n) };
}

/** 0.5 ((s - mu_e) / sd_e + (s - mu_t) / sd_t) */
export function normalizedScore(score: number, enrol: CohortStats, test: CohortStats): number {
  return 0.5 * ((score - enrol.mean) / enrol.std + (score - test.mean) / test.std);
}
