// torchrun's environment contract (env:// initialisation): RANK, WORLD_SIZE, LOCAL_RANK,
// MASTER_ADDR, MASTER_PORT (LOCAL_WORLD_SIZE is informational); under torchrun's elastic agent
// (TORCHELASTIC_USE_AGENT_STORE=True) the agent hosts the store and every rank connects to it, with
// the keys of the attempt (/worker/attempt_<TORCHELASTIC_RESTART_COUNT>/), as torch's env:// does. `--nproc N` sets the same
// variables for its workers, so a worker started by torchrun, by hand or by the launcher is the
// same process.
import { UserError } from '../errors.ts';

export interface DistEnv {
  rank: number;
  worldSize: number;
  localRank: number;
  masterAddr: string;
  masterPort: number;
  /** torchrun's agent already hosts the TCPStore at MASTER_ADDR:MASTER_PORT (TORCHELASTIC_USE_AGENT_STORE=True) */
  agentStore: boolean;
  /** torchrun's restart count: the store keys of this attempt */
  restartCount: number;
}

function intVar(env: NodeJS.ProcessEnv, name: string, min: number, max: number): number {
  const raw = env[name]!;
  if (!/^\d+$/.test(raw.trim())) throw new UserError(`environment variable ${name}='${raw}' is not a non-negative integer`);
  const v = Number(raw.trim());
  if (v < min || v > max) throw new UserError(`environment variable ${name}=${v} is outside ${min}..${max}`);
  return v;
}

/** The worker's place in a data-parallel job, or null when WORLD_SIZE is unset (a single process). */
export function readDistEnv(env: NodeJS.ProcessEnv = process.env): DistEnv | null {
  if (env.WORLD_SIZE === undefined || env.WORLD_SIZE === '') {
    for (const v of ['RANK', 'LOCAL_RANK'])
      if (env[v] !== undefined && env[v] !== '' && env[v] !== '0') throw new UserError(`environment variable ${v}=${env[v]} is set but WORLD_SIZE is not (torchrun sets RANK, WORLD_SIZE, MASTER_ADDR and MASTER_PORT together)`);
    return null;
  }
  const worldSize = intVar(env, 'WORLD_SIZE', 1, 65536);
  const agentStore = env.TORCHELASTIC_USE_AGENT_STORE === 'True';
  const restartCount = env.TORCHELASTIC_RESTART_COUNT ? intVar(env, 'TORCHELASTIC_RESTART_COUNT', 0, 1e9) : 0;
  if (env.RANK === undefined || env.RANK === '') throw new UserError(`WORLD_SIZE=${worldSize} is set but RANK is not`);
  const rank = intVar(env, 'RANK', 0, worldSize - 1);
  const localRank = env.LOCAL_RANK !== undefined && env.LOCAL_RANK !== '' ? intVar(env, 'LOCAL_RANK', 0, 65535) : rank;
  if (worldSize === 1) return { rank, worldSize, localRank, masterAddr: env.MASTER_ADDR || '127.0.0.1', masterPort: env.MASTER_PORT ? intVar(env, 'MASTER_PORT', 1, 65535) : 29500, agentStore, restartCount };
  if (!env.MASTER_ADDR) throw new UserError(`WORLD_SIZE=${worldSize}: MASTER_ADDR is not set (the host of rank 0's rendezvous store)`);
  if (env.MASTER_PORT === undefined || env.MASTER_PORT === '') throw new UserError(`WORLD_SIZE=${worldSize}: MASTER_PORT is not set`);
  return { rank, worldSize, localRank, masterAddr: env.MASTER_ADDR, masterPort: intVar(env, 'MASTER_PORT', 1, 65535), agentStore, restartCount };
}
