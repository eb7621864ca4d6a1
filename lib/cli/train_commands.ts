// `autospeech search | train | train-baseline`: the reference's three training scripts.
import type { Command } from 'commander';

import type { Config } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { loadGenotypeArg } from '../genotype/index.ts';
import { openStore, split, subDir } from '../job/data.ts';
import { Job } from '../job/job.ts';
import { buildModel } from '../models/build.ts';
import { memoryRefusal } from '../models/memory_estimate.ts';
import { isResnetModel, modelSpecFromConfig } from '../models/spec.ts';
import { loadNative } from '../native.ts';
import { expNameOf } from '../run/run_dir.ts';
import { runSearch } from '../search.ts';
import { runTraining } from '../train.ts';
import { type InitFrom, initRecord, loadInitFrom, resolveInitFrom } from '../train/init_from.ts';
import { type CfgOptions, resolveConfig, withConfig } from './common.ts';
import { emit } from './output.ts';
import { currentDist, finishDist, initDist, rankDevice } from '../dist/context.ts';
import { readDistEnv } from '../dist/env.ts';
import { launchWorkers, withoutNproc } from '../dist/launcher.ts';

interface TrainOptions extends CfgOptions { resume?: string; load_path?: string; resumeOverride?: boolean; force?: boolean; nproc?: string }

/**
 * Everything that can be wrong with the inputs is checked before a run directory is created,
 * TRAIN.INIT_FROM included (loaded strictly into the configured network, unless resuming).
 */
function preflight(cfg: Config, command: string, root: string, opts: TrainOptions): InitFrom | null {
  if (cfg.TRAIN.INIT_CHECKPOINT) throw new UserError(`TRAIN.INIT_CHECKPOINT is tdnn train's previous-stage checkpoint; ${command} starts from another run's weights with TRAIN.INIT_FROM`);
  if (cfg.TRAIN.INIT_FROM && command === 'search') throw new UserError('TRAIN.INIT_FROM: search starts from its own initialisation (TRAIN.INIT_FROM is for train and train-baseline)');
  const refusal = memoryRefusal(cfg);
  if (refusal && !opts.force) throw new UserError(refusal);
  const store = openStore(cfg);
  split(store, cfg, subDir(cfg) === 'dev' ? undefined : 'train');
  store.close();
  modelSpecFromConfig(cfg, opts.text_arch !== undefined ? loadGenotypeArg(opts.text_arch) : undefined);
  const init = resolveInitFrom(cfg, root, command);
  if (init && !(opts.resume ?? opts.load_path)) loadInitFrom(buildModel(cfg, opts.text_arch).model, init);
  return init;
}

async function job(cfg: Config, opts: TrainOptions, command: string, defaultRoot: string): Promise<Job> {
  const root = cfg.OUTPUT_DIR || defaultRoot;
  const init = preflight(cfg, command, root, opts);
  const native = loadNative();
  if (cfg.THREADS > 0) native.setThreads(cfg.THREADS);
  const dist = await initDist(cfg);
  const info = native.info();
  return Job.create(cfg, { resume: opts.resume ?? opts.load_path, resumeOverride: opts.resumeOverride, expName: expNameOf(opts.cfg!), root, dist }, {
    libtorch: info.torchVersion, cuda: info.cudaAvailable, threads: native.getThreads(), seed: cfg.SEED, device: rankDevice(cfg, dist),
    ...(command === 'search' ? {} : initRecord(init)),
  });
}

/**
 * `--nproc N` (N > 1, outside a worker): starts N workers of this command and supervises them;
 * returns true when it did (the caller is done). Inside a worker (WORLD_SIZE set) it is ignored.
 */
export async function launchIfAsked(opts: { nproc?: string }, check: () => void): Promise<boolean> {
  if (opts.nproc === undefined || readDistEnv()) return false;
  if (!/^\d+$/.test(opts.nproc) || Number(opts.nproc) < 1 || Number(opts.nproc) > 256) throw new UserError(`--nproc must be an integer in 1..256, got '${opts.nproc}'`);
  const n = Number(opts.nproc);
  if (n === 1) return false;
  check(); // config and data errors once, before any worker starts
  const code = await launchWorkers(n, withoutNproc(process.argv.slice(2)));
  if (code !== 0) throw new UserError(`${n} workers: see the messages above`, code);
  return true;
}

function common(cmd: Command): Command {
  return withConfig(cmd)
    .option('--resume <what>', "continue a killed run exactly: 'auto' (newest run of this config), a run dir, or a .ckpt file")
    .option('--load_path <dir>', 'the reference flag: a run dir to resume')
    .option('--force', 'train even when the preflight memory estimate exceeds this machine\'s RAM')
    .option('--resume-override', 'resume although the config changes keys that change the results (the changes are recorded in the run dir)')
    .option('--json', 'print the result as JSON')
    .option('--nproc <n>', 'data parallel: start N local worker processes (torchrun\'s RANK/WORLD_SIZE/MASTER_ADDR/MASTER_PORT; TRAIN.BATCH_SIZE per process)');
}

export function register(program: Command): void {
  common(program.command('search'))
    .description('architecture search (reference search.py): supernet, alpha step then weight step, genotype per epoch')
    .action(async (overrides: string[], opts: TrainOptions) => {
      const cfg = resolveConfig(opts, overrides);
      if (cfg.MODEL.NAME !== 'model_search') throw new UserError(`search needs MODEL.NAME model_search, got '${cfg.MODEL.NAME}'`);
      if (await launchIfAsked(opts, () => preflight(cfg, 'search', cfg.OUTPUT_DIR || 'logs_search', opts))) return;
      const r = await runSearch(cfg, await job(cfg, opts, 'search', 'logs_search'));
      await finishDist();
      if (currentDist()?.isMain !== false) emit(r, opts.json, (s) => `search done: ${s.runDir}\ngenotype = ${s.genotype}`);
    });
  common(program.command('train'))
    .description('train a derived network from scratch (reference train_identification.py / train_verification.py)')
    .option('--text_arch <genotype>', 'the genotype: Genotype(...) string, JSON, or a file (e.g. a search run\'s genotype.txt)')
    .action(async (overrides: string[], opts: TrainOptions) => {
      const cfg = resolveConfig(opts, overrides);
      if (cfg.MODEL.NAME !== 'model') throw new UserError(`train needs MODEL.NAME model (use train-baseline for ResNets), got '${cfg.MODEL.NAME}'`);
      if (!opts.text_arch) throw new UserError('train needs --text_arch "Genotype(...)"');
      if (await launchIfAsked(opts, () => preflight(cfg, 'train', cfg.OUTPUT_DIR || 'logs_scratch', opts))) return;
      const r = await runTraining(cfg, await job(cfg, opts, 'train', 'logs_scratch'), opts.text_arch);
      await finishDist();
      if (currentDist()?.isMain !== false) emit(r, opts.json, (s) => `training done: ${s.runDir} (best ${s.best})`);
    });
  common(program.command('train-baseline'))
    .description('train a ResNet-18/34 baseline (reference train_baseline_*.py; no ImageNet initialisation offline)')
    .action(async (overrides: string[], opts: TrainOptions) => {
      const cfg = resolveConfig(opts, overrides);
      if (!isResnetModel(cfg)) throw new UserError(`train-baseline needs MODEL.NAME resnet18, resnet34 or their binary-weight twins resnet18_bwn, resnet34_bwn, got '${cfg.MODEL.NAME}'`);
      if (await launchIfAsked(opts, () => preflight(cfg, 'train-baseline', cfg.OUTPUT_DIR || 'logs', opts))) return;
      const r = await runTraining(cfg, await job(cfg, opts, 'train-baseline', 'logs'));
      await finishDist();
      if (currentDist()?.isMain !== false) emit(r, opts.json, (s) => `training done: ${s.runDir} (best ${s.best})`);
    });
}
