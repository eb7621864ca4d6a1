// Verification of an EfficientTDNN subnet as the reference's tutorials evaluate one (spec §8.3,
// §16): each trial utterance whole (loadWAV(num_samples=0): a file of at most 48000 samples is
// wrap-padded to 48001), its LogMelFbanks(80) computed natively, the eval-mode embedding of the
// standalone subnet, cosine scores over the trial list, EER and minDCF with the AutoSpeech part's
// metrics (lib/metrics/eer.ts). Features and embeddings are computed once per utterance: the
// features for the whole run (a search measures several subnets on the same trials), the
// embeddings per network.
import { join } from 'node:path';

import { UserError } from '../errors.ts';
import { fileFeatures } from '../data/features.ts';
import { type Trial, type Utterance, readTrials, scanVoxCeleb } from '../data/voxceleb.ts';
import { computeEer, cosine, minDcf } from '../metrics/eer.ts';
import { type NativeModel, loadNative } from '../native.ts';
import type { Config } from '../config/index.ts';
import { MIN_SAMPLES, readAudio, recalibrateBn, recalibrationBatches, wrapPad } from './bn_recalibration.ts';
import { supernetDims } from './subnet.ts';

export interface EvalSet {
  dataDir: string;
  trials: Trial[];
  /** every utterance of the set by its trial-list path */
  utterances: Map<string, Utterance>;
  /** the training utterances (dev part; all of them for a flat layout): recalibration data */
  train: Utterance[];
}

export function openEvalSet(dataDir: string, trialsFile: string): EvalSet {
  const { utterances } = scanVoxCeleb(dataDir);
  const byPath = new Map(utterances.map((u) => [u.path, u]));
  const trialsPath = join(dataDir, trialsFile);
  const trials = readTrials(trialsPath);
  const missing = trials.find((t) => !byPath.has(t.a) || !byPath.has(t.b));
  if (missing) throw new UserError(`${trialsPath}: trial '${missing.label} ${missing.a} ${missing.b}' names a file that is not under ${dataDir}`);
  if (trials.length === 0) throw new UserError(`${trialsPath}: no trials`);
  if (!trials.some((t) => t.label === 1) || !trials.some((t) => t.label === 0))
    throw new UserError(`${trialsPath}: needs both target (1) and non-target (0) trials for an EER`);
  const dev = utterances.filter((u) => u.part === 'dev');
  return { dataDir, trials, utterances: byPath, train: dev.length ? dev : utterances };
}

/** Full-utterance features (80, T) per path, computed on first use. */
export class FeatureCache {
  private readonly map = new Map<string, { data: Float32Array; frames: number }>();
  constructor(private readonly set: EvalSet, readonly melBins = 80) {}

  get(path: string): { data: Float32Array; frames: number } {
    let f = this.map.get(path);
    if (!f) {
      const u = this.set.utterances.get(path);
      if (!u) throw new UserError(`${path}: not an utterance of ${this.set.dataDir}`);
      const audio = readAudio(u.file);
      const x = audio.length <= MIN_SAMPLES ? wrapPad(audio, MIN_SAMPLES + 1) : audio;
      const m = fileFeatures('logmel', x, u.file, { melBins: this.melBins });
      f = { data: m.data, frames: m.frames };
      this.map.set(path, f);
    }
    return f;
  }
}

export interface VerificationScores {
  eer: number;
  minDcf: Record<string, number>;
  trials: number;
  utterances: number;
}

/** Eval-mode embeddings of the trial utterances (one forward per utterance: lengths differ). */
export async function embedTrials(model: NativeModel, set: EvalSet, features: FeatureCache): Promise<Map<string, Float32Array>> {
  const native = loadNative();
  const paths = [...new Set(set.trials.flatMap((t) => [t.a, t.b]))];
  const out = new Map<string, Float32Array>();
  for (const p of paths) {
    const f = features.get(p);
    const r = await native.tdnnForward(model, f.data, [1, features.melBins, f.frames], { mode: 'eval' });
    out.set(p, r.embedding.data as Float32Array);
  }
  return out;
}

export async function verifySubnet(model: NativeModel, set: EvalSet, features: FeatureCache, pTargets: readonly number[]): Promise<VerificationScores> {
  const emb = await embedTrials(model, set, features);
  const scores = set.trials.map((t) => cosine(emb.get(t.a)!, emb.get(t.b)!));
  const labels = set.trials.map((t) => t.label);
  const eer = computeEer(scores, labels).eer;
  const dcf = Object.fromEntries(pTargets.map((p) => [`minDCF_${p}`, minDcf(scores, labels, p)]));
  return { eer, minDcf: dcf, trials: set.trials.length, utterances: emb.size };
}

/** A measured subnet: EER and minDCF_<p> per EVAL.P_TARGETS (fractions), and the recalibration done. */
export type Measured = { eer: number; trials: number; recalibration: { batches: number; utterances: number } } & { [k: `minDCF_${string}`]: number };

/** Recalibration and measurement of standalone subnets on one data set, sharing the features. */
export class Measurer {
  readonly features: FeatureCache;
  constructor(readonly cfg: Config, readonly set: EvalSet, readonly recal: { utterances: number; batch: number; samples: number; seed: number }) {
    this.features = new FeatureCache(set, supernetDims(cfg).inFeats);
  }

  async measure(model: NativeModel): Promise<Measured> {
    let batches = 0;
    if (this.recal.utterances > 0) {
      const { utterances, batch, samples, seed } = this.recal;
      batches = await recalibrateBn(model, recalibrationBatches(this.set.train, { utterances, batch, samples, seed }, supernetDims(this.cfg).inFeats));
    }
    const v = await verifySubnet(model, this.set, this.features, this.cfg.EVAL.P_TARGETS);
    return { eer: v.eer, ...v.minDcf, trials: v.trials, recalibration: { batches, utterances: batches * this.recal.batch } };
  }
}
