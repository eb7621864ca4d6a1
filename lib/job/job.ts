// What every training job shares: the run directory, logs (JSONL + TensorBoard), checkpoints
// (model, optimizers, RNG states, sampler positions, written atomically) and exact resume.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { type Config, configToYaml } from '../config/index.ts';
import { UserError } from '../errors.ts';
import type { NpyData, NpyDType } from '../io/npy.ts';
import { loadWeights, modelTensorsOf } from '../models/weights.ts';
import { type NativeModel, type NativeTensor, type TypedArray, loadNative } from '../native.ts';
import { type Checkpoint, type CheckpointTensor, loadCheckpoint, saveCheckpoint } from '../run/checkpoint.ts';
import { type RunLock, acquireRunLock } from '../run/lock.ts';
import { checkResumeConfig } from '../run/resume_guard.ts';
import { MetricsLog } from '../run/metrics_log.ts';
import { type RunPaths, createRunDir, findLatestRun, runPaths, writeRunInfo } from '../run/run_dir.ts';
import { EventWriter } from '../run/tensorboard.ts';
import { type DistContext, broadcastJson } from '../dist/context.ts';
import { recordLaunch } from '../run/launches.ts';

export interface JobMeta {
  kind: string;
  epoch: number; // epoch in progress (or the next one when stepInEpoch = 0)
  stepInEpoch: number;
  globalStep: number;
  best: number | null;
  /** the state of every resumable generator of the run (batchers, the TDNN path sampler) */
  batchers: Record<string, unknown>;
  genotype?: string;
  history: Record<string, unknown>[];
  /** the run's resolved config (YAML), so a checkpoint alone says which network it holds */
  config?: string;
}

/** Something whose position a checkpoint records: a batcher, a path sampler. */
export interface Resumable {
  state(): unknown;
  restore(state: never): void;
}

/** What a checkpoint needs of a trainer: its optimizer state and, if it owns one, its loss head. */
export interface CheckpointedTrainer {
  optimizerState(): Record<string, NativeTensor>;
  loadOptimizerState(state: Record<string, { data: TypedArray; shape: number[] }>): void;
  headState?(): Record<string, NativeTensor>;
  loadHeadState?(state: Record<string, { data: TypedArray; shape: number[] }>): void;
}

export interface JobOptions {
  /** 'auto' = the newest run of this experiment with a checkpoint; or a run dir / checkpoint file */
  resume?: string;
  /** resume although the config changes keys that change the results (recorded in the run dir) */
  resumeOverride?: boolean;
  expName: string;
  root: string;
  quiet?: boolean;
  /**
   * A rank other than 0 of a data-parallel job: it uses the run directory and resume checkpoint
   * rank 0 resolved, and writes nothing (no lock, logs, TensorBoard or checkpoints).
   */
  follower?: { prefix: string; file: string | null };
  /** the data-parallel job this process is a rank of (recorded in the run directory) */
  dist?: DistContext | null;
}

/** What rank 0 tells the other ranks once it has resolved the run directory. */
type RunChoice = { prefix: string; file: string | null } | { error: string; exitCode: number };

/** What a run writes to Log/: the metrics log and TensorBoard, or nothing on a follower rank. */
type Metrics = Pick<MetricsLog, 'write' | 'sync' | 'truncateAfter'>;
type Events = Pick<EventWriter, 'scalar' | 'flush'>;
const NO_METRICS: Metrics = { write() {}, sync() {}, truncateAfter() {} };
const NO_EVENTS: Events = { scalar() {}, flush() {} };

function hasCheckpoint(prefix: string): boolean {
  const dir = join(prefix, 'Model');
  return existsSync(dir) && readdirSync(dir).some((f) => f.endsWith('.ckpt'));
}

export class Job {
  readonly paths: RunPaths;
  readonly metrics: Metrics;
  readonly events: Events;
  /** Whether this process writes the run directory (a single process, or rank 0). */
  readonly isMain: boolean;
  resumed: JobMeta | null = null;
  /** The newest checkpoint this run wrote or resumed from: the last good state. */
  lastCheckpoint: string | null = null;
  private resumeFrom: { file: string; ckpt: Checkpoint<JobMeta> } | null = null;
  private readonly lock: RunLock | null;
  /** Tensors every checkpoint of the run also holds (norm/mean, norm/std: what inference needs). */
  private readonly attached = new Map<string, CheckpointTensor>();

  /**
   * The job of this process: a plain Job, or in a data-parallel run rank 0's Job (which resolves
   * the run directory and resume checkpoint and tells the others) and the other ranks' followers.
   * An error rank 0 meets there is raised on every rank.
   */
  static async create(cfg: Config, opts: JobOptions, info: Record<string, unknown>): Promise<Job> {
    const d = opts.dist;
    if (!d) return new Job(cfg, opts, info);
    const withDist = { ...info, dist: { worldSize: d.worldSize, backend: d.backend, batchPerProcess: cfg.TRAIN.BATCH_SIZE, globalBatch: cfg.TRAIN.BATCH_SIZE * d.worldSize } };
    if (d.isMain) {
      let job: Job;
      try {
        job = new Job(cfg, opts, withDist);
      } catch (err) {
        await broadcastJson<RunChoice>({ error: (err as Error).message, exitCode: err instanceof UserError ? err.exitCode : 1 });
        throw err;
      }
      await broadcastJson<RunChoice>({ prefix: job.paths.prefix, file: job.resumeFrom?.file ?? null });
      return job;
    }
    const choice = await broadcastJson<RunChoice>(null);
    if ('error' in choice) throw new UserError(`rank 0: ${choice.error}`, choice.exitCode);
    return new Job(cfg, { ...opts, follower: choice }, withDist);
  }

  constructor(readonly cfg: Config, readonly opts: JobOptions, info: Record<string, unknown>) {
    if (opts.follower) {
      this.isMain = false;
      this.paths = runPaths(opts.follower.prefix);
      this.lock = null;
      if (opts.follower.file) this.resumeFrom = { file: opts.follower.file, ckpt: loadCheckpoint<JobMeta>(opts.follower.file) };
      this.metrics = NO_METRICS;
      this.events = NO_EVENTS;
      return;
    }
    this.isMain = true;
    let prefix: string | null = null;
    let file: string | null = null;
    if (opts.resume) {
      if (opts.resume === 'auto') prefix = findLatestRun(opts.root, opts.expName);
      else if (opts.resume.endsWith('.ckpt')) { file = opts.resume; prefix = join(opts.resume, '..', '..'); }
      else prefix = opts.resume;
      if (opts.resume !== 'auto' && !existsSync(prefix!)) throw new UserError(`--resume ${opts.resume}: no such run directory`);
      if (file && !existsSync(file)) throw new UserError(`--resume ${opts.resume}: no checkpoint at ${file}`);
      if (file && loadCheckpoint<{ kind?: string }>(file).meta.kind === 'import')
        throw new UserError(`--resume ${opts.resume}: an imported reference checkpoint (autospeech import) records no optimizer, schedule or sampler state to resume; start a run from its weights with TRAIN.INIT_FROM ${opts.resume} (a fresh optimizer)`);
      if (prefix && !file && !hasCheckpoint(prefix)) {
        if (opts.resume !== 'auto') throw new UserError(`--resume ${opts.resume}: no checkpoint in ${join(prefix, 'Model')}`);
        prefix = null;
      }
    }
    if (prefix) {
      this.paths = runPaths(prefix);
      const lock = acquireRunLock(prefix); // before reading anything another writer may be changing
      this.lock = lock;
      try {
        const changes = checkResumeConfig(prefix, cfg, !!opts.resumeOverride, opts.dist?.worldSize ?? 1);
        if (changes.length) this.log(`resume: config changes recorded in ${join(prefix, 'resume_overrides.jsonl')}: ${changes.map((c) => c.key).join(', ')}`);
        this.resumeFrom = file ? { file, ckpt: loadCheckpoint<JobMeta>(file) } : this.newestGoodCheckpoint();
      } catch (err) {
        lock.release();
        throw err;
      }
    } else {
      this.paths = createRunDir(opts.root, opts.expName);
      this.lock = acquireRunLock(this.paths.prefix);
      writeRunInfo(this.paths, configToYaml(cfg), info);
    }
    this.metrics = new MetricsLog(join(this.paths.log, 'metrics.jsonl'));
    this.events = new EventWriter(this.paths.log);
    recordLaunch(this.paths.prefix, cfg.TRAIN.BATCH_SIZE, opts.dist ?? null, this.resumeFrom?.file ?? null);
  }

  /**
   * Model/last.ckpt, or when it is missing or corrupt the newest checkpoint of the run (by step) that
   * verifies, saying which; a clear error when none does.
   */
  private newestGoodCheckpoint(): { file: string; ckpt: Checkpoint<JobMeta> } {
    const last = join(this.paths.model, 'last.ckpt');
    let why = 'missing';
    if (existsSync(last)) {
      try {
        return { file: last, ckpt: loadCheckpoint<JobMeta>(last) };
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        why = err.message;
      }
    }
    let best: { file: string; step: number } | null = null;
    const bad: string[] = [];
    for (const name of readdirSync(this.paths.model).filter((f) => f.endsWith('.ckpt') && f !== 'last.ckpt').sort()) {
      const f = join(this.paths.model, name);
      try {
        const step = loadCheckpoint<JobMeta>(f).meta.globalStep;
        if (!best || step > best.step) best = { file: f, step };
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        bad.push(name);
      }
    }
    if (!best) throw new UserError(`cannot resume ${this.paths.prefix}: last.ckpt is ${why === 'missing' ? 'missing' : `unusable (${why})`} and no other checkpoint in Model/ verifies${bad.length ? ` (${bad.join(', ')} are corrupt too)` : ''}`);
    const ckpt = loadCheckpoint<JobMeta>(best.file);
    this.log(`warning: ${why === 'missing' ? `${last} is missing` : why}; resuming from ${best.file} (epoch ${ckpt.meta.epoch}, step ${ckpt.meta.stepInEpoch}), the newest checkpoint that verifies`);
    return { file: best.file, ckpt };
  }

  /** Whether restore() will load a checkpoint (this run resumes). */
  get resuming(): boolean {
    return this.resumeFrom !== null;
  }

  /** Releases the run directory's lock (also released when the process exits). */
  close(): void {
    this.flush();
    this.lock?.release();
  }

  log(message: string): void {
    if (!this.opts.quiet && this.isMain) process.stderr.write(`${message}\n`);
  }

  /** Restores model, optimizers, RNG and samplers from the resume checkpoint; null for a fresh run. */
  restore(model: NativeModel, trainer: CheckpointedTrainer, batchers: Record<string, Resumable>): JobMeta | null {
    if (!this.resumeFrom) return null;
    const { file, ckpt } = this.resumeFrom;
    this.resumeFrom = null; // its tensors are not needed twice
    loadWeights(model, modelTensorsOf(ckpt.tensors), `checkpoint ${file}`);
    const optim: Record<string, { data: NpyData; shape: number[] }> = {};
    for (const [name, t] of ckpt.tensors) if (name.startsWith('optim/')) optim[name.slice('optim/'.length)] = t;
    trainer.loadOptimizerState(optim);
    if (trainer.loadHeadState) {
      const head: Record<string, { data: NpyData; shape: number[] }> = {};
      for (const [name, t] of ckpt.tensors) if (name.startsWith('head/')) head[name.slice('head/'.length)] = t;
      trainer.loadHeadState(head);
    }
    const rng = ckpt.tensors.get('rng/torch');
    if (rng) loadNative().setRngState(rng.data as Uint8Array);
    for (const [name, b] of Object.entries(batchers)) {
      const s = ckpt.meta.batchers[name];
      if (!s) throw new UserError(`checkpoint ${file}: no state for the '${name}' sampler`);
      (b.restore as (s: unknown) => void)(s);
    }
    this.metrics.truncateAfter(ckpt.meta.globalStep);
    this.resumed = ckpt.meta;
    this.lastCheckpoint = file;
    this.log(`resumed ${file} at epoch ${ckpt.meta.epoch}, step ${ckpt.meta.stepInEpoch}`);
    return ckpt.meta;
  }

  /** Adds a tensor to every checkpoint written from now on (e.g. the features' normalisation). */
  attach(name: string, tensor: CheckpointTensor): void {
    this.attached.set(name, tensor);
  }

  save(file: string, model: NativeModel, trainer: CheckpointedTrainer, meta: JobMeta): void {
    if (!this.isMain) { // rank 0 writes it
      this.lastCheckpoint = join(this.paths.model, file);
      return;
    }
    const tensors = new Map<string, CheckpointTensor>();
    for (const e of model.stateDict()) {
      const t = model.getTensor(e.name);
      tensors.set(`model/${e.name}`, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype as NpyDType });
    }
    for (const [name, t] of Object.entries(trainer.optimizerState())) tensors.set(`optim/${name}`, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype as NpyDType });
    for (const [name, t] of Object.entries(trainer.headState?.() ?? {})) tensors.set(`head/${name}`, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype as NpyDType });
    const rng = loadNative().rngState();
    tensors.set('rng/torch', { data: rng, shape: [rng.length], dtype: 'uint8' });
    for (const [name, t] of this.attached) tensors.set(name, t);
    saveCheckpoint(join(this.paths.model, file), { meta: { ...meta, config: configToYaml(this.cfg) }, tensors });
    this.lastCheckpoint = join(this.paths.model, file);
  }

  scalars(step: number, values: Record<string, number>): void {
    for (const [tag, v] of Object.entries(values)) if (Number.isFinite(v)) this.events.scalar(tag, v, step);
  }

  flush(): void {
    this.events.flush();
    this.metrics.sync();
  }
}

