// Training from scratch (reference train_identification.py / train_verification.py) and the ResNet
// baselines: Adam(LR), cosine schedule with the per-epoch offset, drop path MODEL.DROP_PATH_PROB * e /
// END_EPOCH for derived nets, validation every VAL_FREQ epochs and at the last epoch: test-split
// top-1 for identification (SUB_DIR merged), EER on the trial list for verification (SUB_DIR dev).
import { join } from 'node:path';

import type { Config } from './config/index.ts';
import { evaluateIdentification, evaluateVerification } from './evaluate.ts';
import { formatGenotype } from './genotype/index.ts';
import { batcher, openStore, split, subDir } from './job/data.ts';
import type { Job } from './job/job.ts';
import { runLoop } from './job/loop.ts';
import { buildModel } from './models/build.ts';
import { currentDist, distLine } from './dist/context.ts';
import { type NativeModel, loadNative } from './native.ts';
import { loadInitFrom, resolveInitFrom } from './train/init_from.ts';
import { isValidationEpoch, scratchDropPath } from './train/schedule.ts';

export interface TrainResult { runDir: string; best: number | null; history: Record<string, unknown>[]; params: number; genotype?: string }

/**
 * A binary-weight network's share of latent weights outside the STE's clip (|W| > 1: no
 * straight-through gradient with BINARY_STE clip), per epoch in the log, metrics.jsonl and
 * TensorBoard (ste_masked_fraction), as bnn.md §3.1 asks.
 */
function logMaskedFraction(job: Job, model: NativeModel, epoch: number, step: number): void {
  const layers = model.binaryLayers();
  if (!layers.length) return;
  const weights = layers.reduce((a, l) => a + l.shape.reduce((x, y) => x * y, 1), 0);
  const fraction = layers.reduce((a, l) => a + l.clipped, 0) / weights;
  job.log(`epoch ${epoch}: ${(100 * fraction).toFixed(4)} % of the ${weights} binarised latent weights have |W| > 1 (masked by the STE clip)`);
  job.metrics.write({ step, epoch, ste_masked_fraction: fraction });
  job.scalars(step, { ste_masked_fraction: fraction });
}

export async function runTraining(cfg: Config, job: Job, textArch?: string): Promise<TrainResult> {
  const native = loadNative();
  native.manualSeed(cfg.SEED);
  const store = openStore(cfg);
  const norm = store.meanStd(cfg.DATASET.MEAN_STD);
  const verification = subDir(cfg) === 'dev';
  const trainSplit = split(store, cfg, verification ? undefined : 'train');
  const testSplit = verification ? null : split(store, cfg, 'test');
  const { model, genotype } = buildModel(cfg, textArch);
  if (cfg.TRAIN.INIT_FROM && !job.resuming) {
    const init = resolveInitFrom(cfg, job.opts.root, model.kind === 'resnet' ? 'train-baseline' : 'train')!;
    loadInitFrom(model, init);
    job.log(`initial weights from TRAIN.INIT_FROM ${init.checkpoint} (a ${init.kind} run at global step ${init.globalStep}, sha256 ${init.sha256.slice(0, 16)})`);
  }
  const dist = currentDist();
  const trainer = new native.Trainer(model, {
    weights: { lr: cfg.TRAIN.LR, weightDecay: cfg.TRAIN.APPLY_WD ? cfg.TRAIN.WD : 0 }, labelSmoothing: cfg.TRAIN.LABEL_SMOOTHING,
    distributed: !!dist, syncBn: !!dist && cfg.MODEL.SYNC_BN,
  });
  const train = batcher(store, cfg, trainSplit, cfg.SEED, norm);
  // The features' normalisation travels with the weights: `autospeech embed` needs it.
  job.attach('norm/mean', { data: norm.mean, shape: [norm.mean.length], dtype: 'float32' });
  job.attach('norm/std', { data: norm.std, shape: [norm.std.length], dtype: 'float32' });
  const kind = model.kind === 'resnet' ? 'baseline' : 'scratch';
  const genotypeText = genotype ? formatGenotype(genotype) : undefined;
  job.log(`${kind}: ${trainSplit.items.length} training utterances, ${trainSplit.speakers.length} speakers, ${model.paramCounts().total} parameters${genotypeText ? `\nselected architecture: ${genotypeText}` : ''}${distLine(cfg)}`);
  const meta = await runLoop(cfg, job, model, trainer, train, null, {
    kind,
    dropPath: (e) => (kind === 'scratch' ? scratchDropPath(e, cfg.MODEL.DROP_PATH_PROB, cfg.TRAIN.END_EPOCH) : 0),
    onEpochEnd: async (e, lastStep) => {
      logMaskedFraction(job, model, e, lastStep);
      if (!isValidationEpoch(e, cfg.VAL_FREQ, cfg.TRAIN.END_EPOCH, kind === 'scratch')) return null;
      if (verification) {
        const r = await evaluateVerification(trainer, store, cfg, norm, job.isMain ? join(job.paths.log, `scores_${e}.txt`) : undefined);
        job.log(`epoch ${e}: EER ${(100 * r.eer).toFixed(3)} % on ${r.trials} trials, ${Object.entries(r.minDcf).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}`);
        // best = lowest EER: report its negative as the "higher is better" metric. The EER point's
        // threshold goes into the checkpoint's history: `autospeech verify` decides with it.
        return { metric: -r.eer, record: { valid_eer: r.eer, ...r.minDcf, ...(r.eerThreshold !== null ? { valid_eer_threshold: r.eerThreshold } : {}) } };
      }
      const r = await evaluateIdentification(trainer, store, testSplit!, cfg, norm);
      job.log(`epoch ${e}: test top-1 ${(100 * r.top1).toFixed(2)} % (window-weighted, reference), ${(100 * r.top1PerUtterance).toFixed(2)} % per utterance`);
      return { metric: r.top1, record: { valid_top1: r.top1, valid_top5: r.top5, valid_top1_per_utterance: r.top1PerUtterance } };
    },
    genotype: () => genotypeText,
  });
  store.close();
  job.close();
  return { runDir: job.paths.prefix, best: meta.best, history: meta.history, params: model.paramCounts().total, genotype: genotypeText };
}
