// What every training job shares: the run directory, logs (JSONL + TensorBoard), checkpoints
// (model, optimizers, RNG states, sampler positions, written atomically) and exact resume.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { type Config, configToYaml } from '../config/index.ts';
import type { BatcherState, TrainBatcher } from '../data/sampler.ts';
import { UserError } from '../errors.ts';
import type { NpyData, NpyDType } from '../io/npy.ts';
import { loadWeights, modelTensorsOf } from '../models/weights.ts';
import { type NativeModel, type NativeTrainer, loadNative } from '../native.ts';
import { type CheckpointTensor, loadCheckpoint, saveCheckpoint } from '../run/checkpoint.ts';
import { MetricsLog } from '../run/metrics_log.ts';
import { type RunPaths, createRunDir, findLatestRun, runPaths, writeRunInfo } from '../run/run_dir.ts';
import { EventWriter } from '../run/tensorboard.ts';

export interface JobMeta {
  kind: string;
  epoch: number; // epoch in progress (or the next one when stepInEpoch = 0)
  stepInEpoch: number;
  globalStep: number;
  best: number | null;
  batchers: Record<string, BatcherState>;
  genotype?: string;
  history: Record<string, unknown>[];
}

export interface JobOptions {
  /** 'auto' = the newest run of this experiment with a checkpoint; or a run dir / checkpoint file */
  resume?: string;
  expName: string;
  root: string;
  quiet?: boolean;
}

export class Job {
  readonly paths: RunPaths;
  readonly metrics: MetricsLog;
  readonly events: EventWriter;
  resumed: JobMeta | null = null;
  /** The newest checkpoint this run wrote or resumed from: the last good state. */
  lastCheckpoint: string | null = null;
  private resumeFile: string | null = null;

  constructor(readonly cfg: Config, readonly opts: JobOptions, info: Record<string, unknown>) {
    let prefix: string | null = null;
    if (opts.resume) {
      if (opts.resume === 'auto') prefix = findLatestRun(opts.root, opts.expName);
      else if (opts.resume.endsWith('.ckpt')) { this.resumeFile = opts.resume; prefix = join(opts.resume, '..', '..'); }
      else prefix = opts.resume;
      if (prefix && !this.resumeFile) this.resumeFile = join(prefix, 'Model', 'last.ckpt');
      if (opts.resume !== 'auto' && !existsSync(this.resumeFile!)) throw new UserError(`--resume ${opts.resume}: no checkpoint at ${this.resumeFile}`);
    }
    if (prefix && this.resumeFile && existsSync(this.resumeFile)) {
      this.paths = runPaths(prefix);
    } else {
      this.resumeFile = null;
      this.paths = createRunDir(opts.root, opts.expName);
      writeRunInfo(this.paths, configToYaml(cfg), info);
    }
    this.metrics = new MetricsLog(join(this.paths.log, 'metrics.jsonl'));
    this.events = new EventWriter(this.paths.log);
  }

  log(message: string): void {
    if (!this.opts.quiet) process.stderr.write(`${message}\n`);
  }

  /** Restores model, optimizers, RNG and samplers from the resume checkpoint; null for a fresh run. */
  restore(model: NativeModel, trainer: NativeTrainer, batchers: Record<string, TrainBatcher>): JobMeta | null {
    if (!this.resumeFile) return null;
    const ckpt = loadCheckpoint<JobMeta>(this.resumeFile);
    loadWeights(model, modelTensorsOf(ckpt.tensors), `checkpoint ${this.resumeFile}`);
    const optim: Record<string, { data: NpyData; shape: number[] }> = {};
    for (const [name, t] of ckpt.tensors) if (name.startsWith('optim/')) optim[name.slice('optim/'.length)] = t;
    trainer.loadOptimizerState(optim);
    const rng = ckpt.tensors.get('rng/torch');
    if (rng) loadNative().setRngState(rng.data as Uint8Array);
    for (const [name, b] of Object.entries(batchers)) {
      const s = ckpt.meta.batchers[name];
      if (!s) throw new UserError(`checkpoint ${this.resumeFile}: no state for the '${name}' sampler`);
      b.restore(s);
    }
    this.metrics.truncateAfter(ckpt.meta.globalStep);
    this.resumed = ckpt.meta;
    this.lastCheckpoint = this.resumeFile;
    this.log(`resumed ${this.resumeFile} at epoch ${ckpt.meta.epoch}, step ${ckpt.meta.stepInEpoch}`);
    return ckpt.meta;
  }

  save(file: string, model: NativeModel, trainer: NativeTrainer, meta: JobMeta): void {
    const tensors = new Map<string, CheckpointTensor>();
    for (const e of model.stateDict()) {
      const t = model.getTensor(e.name);
      tensors.set(`model/${e.name}`, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype as NpyDType });
    }
    for (const [name, t] of Object.entries(trainer.optimizerState())) tensors.set(`optim/${name}`, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype as NpyDType });
    const rng = loadNative().rngState();
    tensors.set('rng/torch', { data: rng, shape: [rng.length], dtype: 'uint8' });
    saveCheckpoint(join(this.paths.model, file), { meta, tensors });
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
