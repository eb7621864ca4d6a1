// Architecture search (reference search.py): the supernet on the identification train split,
// one alpha step on a fresh validation batch before every weight step (first order by default),
// genotype derived at every epoch start, identification on the test split every VAL_FREQ epochs.
// Unlike the reference, the genotype after the last epoch is saved too (genotype.txt).
import { join } from 'node:path';

import type { Config } from './config/index.ts';
import { evaluateIdentification } from './evaluate.ts';
import { alphaHeatmapSvg, deriveFromAlphas, formatGenotype } from './genotype/index.ts';
import { writeFileAtomic } from './io/atomic.ts';
import { batcher, openStore, split } from './job/data.ts';
import { Job } from './job/job.ts';
import { runLoop } from './job/loop.ts';
import { buildModel } from './models/build.ts';
import { type NativeModel, loadNative } from './native.ts';
import { searchDropPath } from './train/schedule.ts';
import { currentDist, distLine } from './dist/context.ts';

export function currentGenotype(model: NativeModel): string {
  const a = (n: string) => model.getTensor(n).data as Float32Array;
  return formatGenotype(deriveFromAlphas(a('alphas_normal'), a('alphas_reduce'), loadNative().softmax));
}

export interface SearchResult { runDir: string; genotype: string; bestTop1: number | null; history: Record<string, unknown>[] }

export async function runSearch(cfg: Config, job: Job): Promise<SearchResult> {
  const native = loadNative();
  native.manualSeed(cfg.SEED);
  const store = openStore(cfg);
  const norm = store.meanStd(cfg.DATASET.MEAN_STD);
  const trainSplit = split(store, cfg, 'train');
  const valSplit = split(store, cfg, 'val');
  const testSplit = split(store, cfg, 'test');
  const { model } = buildModel(cfg);
  const dist = currentDist();
  const trainer = new native.Trainer(model, {
    weights: { lr: cfg.TRAIN.LR, weightDecay: cfg.TRAIN.APPLY_WD ? cfg.TRAIN.WD : 0 },
    arch: { lr: cfg.TRAIN.ARCH_LR, beta1: 0.5, beta2: 0.999, weightDecay: cfg.TRAIN.ARCH_WD },
    labelSmoothing: cfg.TRAIN.LABEL_SMOOTHING,
    secondOrderArch: cfg.TRAIN.ARCH_ORDER === 'second',
    fastSearch: cfg.TRAIN.FAST_SEARCH,
    distributed: !!dist, syncBn: !!dist && cfg.MODEL.SYNC_BN,
  });
  const train = batcher(store, cfg, trainSplit, cfg.SEED, norm);
  const val = batcher(store, cfg, valSplit, cfg.SEED + 1, norm);
  job.log(`search: ${trainSplit.items.length} train / ${valSplit.items.length} val / ${testSplit.items.length} test utterances, ${trainSplit.speakers.length} speakers, ${model.paramCounts().total} parameters${distLine(cfg)}`);
  const meta = await runLoop(cfg, job, model, trainer, train, val, {
    kind: 'search',
    dropPath: (e) => searchDropPath(e, cfg.TRAIN.DROPPATH_PROB, cfg.TRAIN.END_EPOCH),
    onEpochStart: (e) => {
      const g = currentGenotype(model);
      const sm = (n: string) => native.softmax(model.getTensor(n).data as Float32Array, model.getTensor(n).shape as [number, number]);
      if (job.isMain) writeFileAtomic(join(job.paths.log, `alphas_${e}.svg`), alphaHeatmapSvg(sm('alphas_normal'), sm('alphas_reduce'), `softmax(alphas) at the start of epoch ${e}`));
      job.log(`epoch ${e} genotype = ${g}`);
      job.metrics.write({ epoch: e, genotype: g });
    },
    onEpochEnd: async (e) => {
      if (e % cfg.VAL_FREQ !== 0) return null;
      const r = await evaluateIdentification(trainer, store, testSplit, cfg, norm);
      job.log(`epoch ${e}: test top-1 ${(100 * r.top1).toFixed(2)} % (window-weighted, reference), ${(100 * r.top1PerUtterance).toFixed(2)} % per utterance`);
      return { metric: r.top1, record: { valid_top1: r.top1, valid_top5: r.top5, valid_top1_per_utterance: r.top1PerUtterance } };
    },
    genotype: () => currentGenotype(model),
  });
  const genotype = currentGenotype(model);
  if (job.isMain) writeFileAtomic(join(job.paths.prefix, 'genotype.txt'), genotype + '\n');
  job.log(`final genotype = ${genotype}`);
  store.close();
  job.close();
  return { runDir: job.paths.prefix, genotype, bestTop1: meta.best, history: meta.history };
}
