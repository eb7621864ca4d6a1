// Identification accuracy as the reference's validate_identification reports it (each
// utterance's top-k correctness weighted by its number of windows) and the plain per-utterance
// accuracy beside it.
export interface IdentificationResult {
  top1: number; // reference: window-count-weighted, as a fraction
  top5: number;
  top1PerUtterance: number;
  top5PerUtterance: number;
  utterances: number;
}

export function identificationAccuracy(logits: Float32Array, classes: number, labels: ArrayLike<number>, windows: ArrayLike<number>): IdentificationResult {
  const n = labels.length;
  let w1 = 0, w5 = 0, wsum = 0, u1 = 0, u5 = 0;
  for (let i = 0; i < n; i++) {
    const row = logits.subarray(i * classes, (i + 1) * classes);
    const target = row[labels[i]];
    // rank = how many classes score strictly higher (torch.topk breaks ties by index). NaN is the
    // worst case for the target, as torch.topk (which sorts NaN first) makes it in effect: a NaN
    // target is never correct and a NaN elsewhere outranks it, so a diverged model cannot score 100 %.
    let higher = Number.isNaN(target) ? Infinity : 0;
    if (higher === 0) for (let k = 0; k < classes; k++) if (row[k] > target || (row[k] === target && k < labels[i]) || Number.isNaN(row[k])) higher++;
    const c1 = higher < 1 ? 1 : 0, c5 = higher < 5 ? 1 : 0;
    w1 += c1 * windows[i]; w5 += c5 * windows[i]; wsum += windows[i];
    u1 += c1; u5 += c5;
  }
  return { top1: w1 / wsum, top5: w5 / wsum, top1PerUtterance: u1 / n, top5PerUtterance: u5 / n, utterances: n };
}
