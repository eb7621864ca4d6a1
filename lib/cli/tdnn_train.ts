// `autospeech tdnn train --cfg exps/tdnn/<stage>.yaml [KEY VALUE ...]`: one progressive-shrinking
// stage of the EfficientTDNN supernet (lib/tdnn/train.ts) in the shared run-dir/checkpoint/resume
// machinery of `autospeech train`.
import type { Command } from 'commander';

import { Job } from '../job/job.ts';
import { loadNative } from '../native.ts';
import { expNameOf } from '../run/run_dir.ts';
import { TDNN_RUN_ROOT, openWaveStore, runTdnnTraining, stageSpace } from '../tdnn/train.ts';
import { UserError } from '../errors.ts';
import { isTdnnModel } from '../models/spec.ts';
import { split, subDir } from '../job/data.ts';
import { type CfgOptions, resolveConfig, withConfig } from './common.ts';
import { emit } from './output.ts';
import { launchIfAsked } from './train_commands.ts';
import { currentDist, finishDist, initDist, rankDevice } from '../dist/context.ts';
import { positiveInt } from './tdnn.ts';

interface Opts extends CfgOptions { resume?: string; resumeOverride?: boolean; dynamicWalks?: string; nproc?: string }

export function registerTrain(tdnn: Command): void {
  withConfig(tdnn.command('train'))
    .description("train one progressive-shrinking stage of the supernet (sugar's train_vox2_veri.py --task): TRAIN.STAGE largest|kernel|depth|width1|width2, TRAIN.INIT_CHECKPOINT the previous stage's checkpoint")
    .option('--dynamic-walks <n>', "paths (forward + backward each, gradients accumulated) per batch before the optimizer step (sugar's --dynamic-walks; sets TRAIN.DYNAMIC_WALKS)")
    .option('--resume <what>', "continue a killed run exactly: 'auto' (newest run of this config), a run dir, or a .ckpt file")
    .option('--resume-override', 'resume although the config changes keys that change the results (the changes are recorded in the run dir)')
    .option('--json', 'print the result as JSON')
    .option('--nproc <n>', 'data parallel: start N local worker processes (torchrun\'s RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT; TRAIN.BATCH_SIZE per process)')
    .action(async (overrides: string[], opts: Opts) => {
      const extra = opts.dynamicWalks !== undefined ? ['TRAIN.DYNAMIC_WALKS', String(positiveInt(opts.dynamicWalks, '--dynamic-walks'))] : [];
      const cfg = resolveConfig(opts, [...overrides, ...extra]);
      if (!isTdnnModel(cfg)) throw new UserError(`tdnn train needs a TDNN supernet (MODEL.NAME tdnn8m2g), got '${cfg.MODEL.NAME}'`);
      // Everything the inputs can get wrong, before a run directory exists.
      if (cfg.TRAIN.INIT_FROM) throw new UserError('TRAIN.INIT_FROM is for train and train-baseline; a tdnn stage starts from TRAIN.INIT_CHECKPOINT (the previous stage\'s checkpoint)');
      const check = () => {
        stageSpace(cfg);
        const store = openWaveStore(cfg);
        split(store, cfg, subDir(cfg) === 'dev' ? undefined : 'train');
        store.close();
      };
      check();
      if (await launchIfAsked(opts, check)) return;
      const native = loadNative();
      if (cfg.THREADS > 0) native.setThreads(cfg.THREADS);
      const dist = await initDist(cfg);
      const info = native.info();
      const job = await Job.create(cfg, { resume: opts.resume, resumeOverride: opts.resumeOverride, expName: expNameOf(opts.cfg!), root: cfg.OUTPUT_DIR || TDNN_RUN_ROOT, dist }, {
        libtorch: info.torchVersion, threads: native.getThreads(), seed: cfg.SEED, device: rankDevice(cfg, dist), stage: cfg.TRAIN.STAGE,
      });
      const r = await runTdnnTraining(cfg, job);
      await finishDist();
      if (currentDist()?.isMain !== false) emit(r, opts.json, (s) => `tdnn stage ${s.stage} done: ${s.runDir} (${s.steps} steps, last loss ${s.lastLoss?.toFixed(4) ?? '-'}, ${s.stepMs?.toFixed(0) ?? '-'} ms/step)`);
    });
}
