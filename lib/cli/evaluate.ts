// `autospeech evaluate identification|verification --cfg ... --load_path <ckpt>`: the reference's
// evaluate_*.py on a checkpoint of ours.
import type { Command } from 'commander';
import { join } from 'node:path';

import { evaluateIdentification, evaluateVerification } from '../evaluate.ts';
import { UserError } from '../errors.ts';
import { openStore, split } from '../job/data.ts';
import { buildModel } from '../models/build.ts';
import { loadWeights, modelTensorsOf } from '../models/weights.ts';
import { type NativeModel, loadNative } from '../native.ts';
import { isBwnFile, modelFromBwn } from '../bnn/load.ts';
import { loadCheckpoint } from '../run/checkpoint.ts';
import { type CfgOptions, resolveConfig, withConfig } from './common.ts';
import { emit } from './output.ts';

interface EvalOptions extends CfgOptions { load_path: string; scores?: string }

async function evaluate(kind: 'identification' | 'verification', overrides: string[], opts: EvalOptions) {
  const cfg = resolveConfig(opts, overrides);
  let model: NativeModel;
  if (isBwnFile(opts.load_path)) {
    // a .bwn: the fp32 twin holding W_b, embeddings bit-identical to the BWN's eval mode
    const bwn = modelFromBwn(cfg, opts.load_path);
    if (kind === 'identification' && !bwn.withClassifier) throw new UserError(`${opts.load_path} holds no classifier (export it with --with-classifier for identification)`);
    model = bwn.model;
  } else {
    const ckpt = loadCheckpoint<{ genotype?: string }>(opts.load_path);
    const textArch = opts.text_arch ?? (cfg.MODEL.NAME === 'model' ? ckpt.meta.genotype : undefined);
    if (cfg.MODEL.NAME === 'model' && !textArch) throw new UserError(`${opts.load_path} holds no genotype: pass --text_arch`);
    model = buildModel(cfg, textArch).model;
    loadWeights(model, modelTensorsOf(ckpt.tensors), opts.load_path);
  }
  model.setDropPathProb(0);
  const bad = model.nonFiniteTensors();
  if (bad.length) process.stderr.write(`warning: ${bad.length} tensor(s) of ${opts.load_path} hold NaN or inf (a diverged run?), e.g. ${bad[0]}; NaN scores count as errors\n`);
  const trainer = new (loadNative().Trainer)(model);
  const store = openStore(cfg);
  const norm = store.meanStd(cfg.DATASET.MEAN_STD);
  if (kind === 'identification') {
    const r = await evaluateIdentification(trainer, store, split(store, cfg, 'test'), cfg, norm);
    emit(r, opts.json, (x) => `top-1 ${(100 * x.top1).toFixed(2)} % / top-5 ${(100 * x.top5).toFixed(2)} % (window-weighted, reference); per utterance ${(100 * x.top1PerUtterance).toFixed(2)} % / ${(100 * x.top5PerUtterance).toFixed(2)} %; ${x.utterances} utterances`);
  } else {
    const r = await evaluateVerification(trainer, store, cfg, norm, opts.scores ?? (isBwnFile(opts.load_path) ? opts.load_path.replace(/\.bwn$/, '_scores.txt') : join(opts.load_path, '..', '..', 'Log', 'scores_eval.txt')));
    emit({ eer: r.eer, ...r.minDcf, trials: r.trials, skipped: r.skipped, eer_threshold: r.eerThreshold, scores: r.scoresFile }, opts.json, (x) =>
      `EER ${(100 * x.eer).toFixed(3)} % on ${x.trials} trials (${x.skipped} skipped), ${Object.entries(r.minDcf).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(', ')}; ` +
      `EER threshold ${x.eer_threshold === null ? 'none' : x.eer_threshold.toPrecision(6)} (verify --threshold); scores in ${x.scores}`);
  }
  store.close();
}

export function register(program: Command): void {
  const cmd = program.command('evaluate').description('evaluate a checkpoint (reference evaluate_identification.py / evaluate_verification.py)');
  for (const kind of ['identification', 'verification'] as const) {
    withConfig(cmd.command(kind))
      .description(kind === 'identification' ? 'top-1/top-5 on the identification test split' : 'EER and minDCF on the trial list')
      .requiredOption('--load_path <ckpt>', 'a checkpoint file (.ckpt) of a run, or a binary-weight ResNet exported as .bwn')
      .option('--text_arch <genotype>', 'genotype (default: the one stored in the checkpoint)')
      .option('--scores <file>', 'verification: where to write the trial scores')
      .option('--json', 'machine-readable output')
      .action((overrides: string[], opts: EvalOptions) => evaluate(kind, overrides, opts));
  }
}
