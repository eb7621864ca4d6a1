// The process's data-parallel context: initialised once per job from the torchrun environment
// (lib/dist/env.ts), consulted by the samplers (each rank's share of the global batch), the
// evaluation (utterances sharded over ranks, embeddings gathered) and the run directory (rank 0
// alone writes).
import type { Config } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { loadNative } from '../native.ts';
import { type DistEnv, readDistEnv } from './env.ts';

export interface DistContext extends DistEnv {
  backend: 'gloo' | 'nccl';
  isMain: boolean;
}

let current: DistContext | null = null;

/** The live context of this process, or null (a single process). */
export function currentDist(): DistContext | null {
  return current;
}

/** The device of this rank: torchrun's convention, DEVICE cuda means cuda:LOCAL_RANK. */
export function rankDevice(cfg: Config, env: DistEnv | null): string {
  return env && cfg.DEVICE === 'cuda' ? `cuda:${env.localRank}` : cfg.DEVICE;
}

/** The device this process trains on: DEVICE, or cuda:LOCAL_RANK for DEVICE cuda in a data-parallel job. */
export function processDevice(cfg: Config): string {
  return rankDevice(cfg, current);
}

/**
 * Joins the job's process group when the environment says this is one rank of several (WORLD_SIZE
 * > 1): TCPStore rendezvous at MASTER_ADDR:MASTER_PORT and the DIST.BACKEND group. Null otherwise.
 */
export async function initDist(cfg: Config, env: NodeJS.ProcessEnv = process.env): Promise<DistContext | null> {
  if (current) return current;
  const e = readDistEnv(env);
  if (!e || e.worldSize === 1) return null;
  const native = loadNative();
  const device = rankDevice(cfg, e);
  if (cfg.DIST.BACKEND === 'nccl' && !device.startsWith('cuda')) throw new UserError(`DIST.BACKEND nccl needs DEVICE cuda (got DEVICE ${cfg.DEVICE}); use gloo or auto on CPU`);
  const built = native.distBackends();
  if (cfg.DIST.BACKEND !== 'auto' && !built.includes(cfg.DIST.BACKEND))
    throw new UserError(`DIST.BACKEND ${cfg.DIST.BACKEND}: this build of the addon has ${built.length ? built.join(', ') : 'no process-group backend'}` +
      (cfg.DIST.BACKEND === 'nccl' ? ' (NCCL needs a CUDA libtorch built with it, e.g. pytorch.org\'s CUDA builds; Debian\'s libtorch has Gloo only)' : ' (Gloo needs its headers at build time: Debian\'s libgloo-dev)'));
  if (!built.length) throw new UserError('data-parallel training: this build of the addon has no process-group backend (install libgloo-dev and rebuild)');
  const info = await native.distInit({ backend: cfg.DIST.BACKEND as 'auto' | 'gloo' | 'nccl', device, rank: e.rank, worldSize: e.worldSize, masterAddr: e.masterAddr, masterPort: e.masterPort, timeoutSeconds: cfg.DIST.TIMEOUT,
    agentStore: e.agentStore, storePrefix: e.agentStore ? `/worker/attempt_${e.restartCount}/autospeech/` : '' })
    .catch((err: Error) => { throw new Error(`rank ${e.rank} of ${e.worldSize}: joining the process group at ${e.masterAddr}:${e.masterPort} failed: ${err.message}`); });
  current = { ...e, backend: info.backend!, isMain: e.rank === 0 };
  return current;
}

/** Leaves the process group at the end of the job, once every rank got there; the context stays readable. */
export async function finishDist(): Promise<void> {
  if (!current || finished) return;
  await loadNative().distBarrier();
  loadNative().distDestroy();
  finished = true;
}
let finished = false;

/** The root's JSON value on every rank. */
export async function broadcastJson<T>(value: T | null, root = 0): Promise<T> {
  const d = current!;
  const bytes = d.rank === root ? new TextEncoder().encode(JSON.stringify(value)) : null;
  const out = await loadNative().distBroadcastBytes(bytes, root);
  return JSON.parse(new TextDecoder().decode(out)) as T;
}

/** The data-parallel layout of a run, for its first log line. */
export function distLine(cfg: Config): string {
  const d = currentDist();
  if (!d) return '';
  return `\ndata parallel: ${d.worldSize} processes (${d.backend}), batch ${cfg.TRAIN.BATCH_SIZE} per process = ${cfg.TRAIN.BATCH_SIZE * d.worldSize} per step, BatchNorm ${cfg.MODEL.SYNC_BN ? 'synchronised across processes' : 'per process'}`;
}
