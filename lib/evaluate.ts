// Evaluation as the reference's validate_identification / validate_verification: eval-mode
// embeddings averaged over 300-frame windows (hop 150), the classifier on the mean embedding,
// window-weighted top-1/top-5; cosine scores of mean embeddings, EER (sklearn-exact) and minDCF.
// Each utterance is embedded once and cached (the reference re-embeds both sides of every trial).
import { join } from 'node:path';

import type { Config } from './config/index.ts';
import type { FeatureStore } from './data/store.ts';
import { readTrials, type Trial } from './data/voxceleb.ts';
import { writeFileAtomic } from './io/atomic.ts';
import { type Split, windowsOf } from './job/data.ts';
import { detSvg } from './metrics/det.ts';
import { computeEer, cosine, minDcf } from './metrics/eer.ts';
import { type IdentificationResult, identificationAccuracy } from './metrics/identification.ts';
import { type NativeTrainer, loadNative } from './native.ts';
import { currentDist } from './dist/context.ts';

type Norm = { mean: Float32Array; std: Float32Array };

/** Embeddings (and logits) of utterances, in groups of about `maxWindows` windows per native call. */
export async function embedUtterances(trainer: NativeTrainer, store: FeatureStore, items: number[], cfg: Config, norm: Norm, onProgress?: (done: number) => void):
  Promise<{ embeddings: Float32Array[]; logits: Float32Array[]; windows: number[] }> {
  const d = currentDist();
  // A data-parallel job shards the utterances over the ranks (contiguous blocks, in order) and
  // gathers the embeddings, so every rank ends with all of them. Not when the network samples in
  // eval mode (the hard-Gumbel supernet draws per forward): there every rank embeds everything,
  // which keeps the ranks' random streams equal to each other and to one process's.
  if (d && !(cfg.MODEL.NAME === 'model_search' && cfg.MODEL.MIXING === 'gumbel')) {
    const per = Math.ceil(items.length / d.worldSize);
    const mine = items.slice(d.rank * per, (d.rank + 1) * per);
    const part = mine.length ? await embedLocal(trainer, store, mine, cfg, norm, onProgress) : { embeddings: [], logits: [], windows: [] };
    // [windows, embedding (D), logits (K)] per utterance
    const pack = (r: typeof part) => {
      const D = r.embeddings[0]?.length ?? 0, K = r.logits[0]?.length ?? 0;
      const out = new Float32Array(2 + r.embeddings.length * (1 + D + K));
      out[0] = D; out[1] = K;
      r.embeddings.forEach((emb, u) => {
        const o = 2 + u * (1 + D + K);
        out[o] = r.windows[u];
        out.set(emb, o + 1);
        out.set(r.logits[u], o + 1 + D);
      });
      return out;
    };
    const all = await loadNative().distAllGather(pack(part));
    const out = { embeddings: [] as Float32Array[], logits: [] as Float32Array[], windows: [] as number[] };
    for (const a of all) {
      const D = a[0], K = a[1];
      for (let o = 2; o < a.length; o += 1 + D + K) {
        out.windows.push(a[o]);
        out.embeddings.push(a.slice(o + 1, o + 1 + D));
        out.logits.push(a.slice(o + 1 + D, o + 1 + D + K));
      }
    }
    if (out.embeddings.length !== items.length) throw new Error(`gathered ${out.embeddings.length} embeddings for ${items.length} utterances`);
    return out;
  }
  return embedLocal(trainer, store, items, cfg, norm, onProgress);
}

async function embedLocal(trainer: NativeTrainer, store: FeatureStore, items: number[], cfg: Config, norm: Norm, onProgress?: (done: number) => void):
  Promise<{ embeddings: Float32Array[]; logits: Float32Array[]; windows: number[] }> {
  const P = cfg.DATASET.PARTIAL_N_FRAMES;
  const embeddings: Float32Array[] = [], logits: Float32Array[] = [], windows: number[] = [];
  const maxWindows = cfg.EVAL.MAX_BATCH * 4;
  // Groups of about maxWindows windows; the next group's windows are assembled on the prefetch
  // thread while the current one is embedded.
  const groups: number[][] = [];
  let group: number[] = [], groupWindows = 0;
  for (const i of items) {
    group.push(i);
    groupWindows += Math.max(1, Math.floor(store.index.utterances[i].frames / (P / 2)));
    if (groupWindows >= maxWindows) { groups.push(group); group = []; groupWindows = 0; }
  }
  if (group.length) groups.push(group);
  let next = groups.length ? windowsOf(store, groups[0], P, norm) : undefined;
  for (let g = 0; g < groups.length; g++) {
    const w = await next!;
    next = g + 1 < groups.length ? windowsOf(store, groups[g + 1], P, norm) : undefined;
    next?.catch(() => {}); // surfaced when awaited
    const bins = store.index.bins;
    const r = await trainer.embedUtterances(w.data, [w.data.length / (P * bins), P, bins], w.counts, cfg.EVAL.MAX_BATCH);
    const D = r.shape[1], K = r.logits.shape[1];
    for (let u = 0; u < groups[g].length; u++) {
      embeddings.push((r.data as Float32Array).slice(u * D, (u + 1) * D));
      logits.push((r.logits.data as Float32Array).slice(u * K, (u + 1) * K));
      windows.push(w.counts[u]);
    }
    onProgress?.(embeddings.length);
  }
  return { embeddings, logits, windows };
}

export async function evaluateIdentification(trainer: NativeTrainer, store: FeatureStore, test: Split, cfg: Config, norm: Norm): Promise<IdentificationResult> {
  const max = cfg.EVAL.MAX_UTTERANCES;
  if (max > 0 && max < test.items.length) {
    const pick = Array.from({ length: max }, (_, k) => Math.floor((k * test.items.length) / max));
    test = { ...test, items: pick.map((k) => test.items[k]), labels: pick.map((k) => test.labels[k]) };
  }
  const r = await embedUtterances(trainer, store, test.items, cfg, norm);
  const K = r.logits[0].length;
  const all = new Float32Array(r.logits.length * K);
  r.logits.forEach((l, i) => all.set(l, i * K));
  return identificationAccuracy(all, K, test.labels, r.windows);
}

export interface VerificationResult {
  eer: number;
  /** the score threshold at the reference's EER point (accept when score >= it); null when not finite */
  eerThreshold: number | null;
  minDcf: Record<string, number>;
  trials: number;
  skipped: number;
  scoresFile?: string;
}

export async function evaluateVerification(trainer: NativeTrainer, store: FeatureStore, cfg: Config, norm: Norm, scoresOut?: string): Promise<VerificationResult> {
  const trials: Trial[] = readTrials(join(cfg.DATASET.DATA_DIR, cfg.DATASET.TRIALS));
  const byPath = new Map(store.index.utterances.map((u, i) => [u.path, i]));
  const usable = trials.filter((t) => byPath.has(t.a) && byPath.has(t.b));
  if (usable.length === 0) throw new Error(`none of the ${trials.length} trials of ${cfg.DATASET.TRIALS} refers to a stored utterance`);
  const needed = [...new Set(usable.flatMap((t) => [byPath.get(t.a)!, byPath.get(t.b)!]))];
  const cache = new Map<number, Float32Array>();
  if (cfg.EVAL.CACHE_EMBEDDINGS) {
    const r = await embedUtterances(trainer, store, needed, cfg, norm);
    needed.forEach((i, k) => cache.set(i, r.embeddings[k]));
  }
  const scores: number[] = [], labels: number[] = [];
  for (const t of usable) {
    const a = byPath.get(t.a)!, b = byPath.get(t.b)!;
    let ea = cache.get(a), eb = cache.get(b);
    if (!ea || !eb) {
      // the reference's way: embed both sides again for every trial
      const r = await embedUtterances(trainer, store, [a, b], cfg, norm);
      [ea, eb] = r.embeddings;
    }
    scores.push(cosine(ea, eb));
    labels.push(t.label);
  }
  const { eer, threshold } = computeEer(scores, labels);
  const dcf = Object.fromEntries(cfg.EVAL.P_TARGETS.map((p) => [`minDCF_${p}`, minDcf(scores, labels, p)]));
  if (scoresOut) {
    writeFileAtomic(scoresOut, usable.map((t, i) => `${t.label} ${scores[i].toPrecision(9)} ${t.a} ${t.b}`).join('\n') + '\n');
    writeFileAtomic(scoresOut.replace(/\.txt$/, '') + '_det.svg', detSvg(scores, labels, eer, `DET, ${usable.length} trials`));
  }
  return { eer, eerThreshold: Number.isFinite(threshold) ? threshold : null, minDcf: dcf, trials: usable.length, skipped: trials.length - usable.length, scoresFile: scoresOut };
}
