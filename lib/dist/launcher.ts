// `--nproc N`: starts N local workers of the same command with torchrun's environment (RANK,
// WORLD_SIZE, LOCAL_RANK, LOCAL_WORLD_SIZE, MASTER_ADDR 127.0.0.1, MASTER_PORT a free port) and
// supervises them: rank 0's output passes through, the others' stderr lines are prefixed with
// their rank; Ctrl-C (SIGINT / SIGTERM) or the death of any worker ends all of them promptly, with
// a message naming the rank and how it ended. Resolves to the exit status of the job.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

import { PROJECT_ROOT } from '../native.ts';

export const BIN = join(PROJECT_ROOT, 'bin', 'autospeech');

/** A TCP port on the loopback interface that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.unref();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** The arguments without `--nproc N` / `--nproc=N`. */
export function withoutNproc(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--nproc') { i++; continue; }
    if (args[i].startsWith('--nproc=')) continue;
    out.push(args[i]);
  }
  return out;
}

function describe(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `was killed by ${signal}` : `exited with status ${code}`;
}

export interface LaunchOptions {
  /** seconds the workers get to stop after SIGTERM before SIGKILL */
  graceSeconds?: number;
  log?: (line: string) => void;
}

export async function launchWorkers(nproc: number, args: string[], opts: LaunchOptions = {}): Promise<number> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const grace = (opts.graceSeconds ?? 5) * 1000;
  const port = await freePort();
  const workers: ChildProcess[] = [];
  const alive = new Set<number>();
  let failure: { rank: number; what: string; code: number | null } | null = null;
  let interrupted: NodeJS.Signals | null = null;
  let killTimer: NodeJS.Timeout | undefined;

  const stopAll = () => {
    for (const r of alive) workers[r].kill('SIGTERM');
    killTimer ??= setTimeout(() => { for (const r of alive) workers[r].kill('SIGKILL'); }, grace);
  };
  const onSignal = (sig: NodeJS.Signals) => {
    if (!interrupted) log(`autospeech: ${sig}: stopping ${alive.size} worker(s)`);
    interrupted = sig;
    stopAll();
  };
  const sigint = () => onSignal('SIGINT'), sigterm = () => onSignal('SIGTERM');
  process.on('SIGINT', sigint);
  process.on('SIGTERM', sigterm);

  const done = new Promise<void>((resolve) => {
    for (let rank = 0; rank < nproc; rank++) {
      const env = {
        ...process.env, RANK: String(rank), WORLD_SIZE: String(nproc), LOCAL_RANK: String(rank), LOCAL_WORLD_SIZE: String(nproc),
        MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port),
      };
      const p = spawn(process.execPath, [BIN, ...args], { env, stdio: ['ignore', rank === 0 ? 'inherit' : 'ignore', 'pipe'] });
      workers.push(p);
      alive.add(rank);
      let pending = '';
      p.stderr!.on('data', (d: Buffer) => {
        if (rank === 0) { process.stderr.write(d); return; }
        pending += d.toString();
        const lines = pending.split('\n');
        pending = lines.pop()!;
        for (const l of lines) process.stderr.write(`[rank ${rank}] ${l}\n`);
      });
      p.on('exit', (code, signal) => {
        alive.delete(rank);
        if (pending) process.stderr.write(`[rank ${rank}] ${pending}\n`);
        // Ctrl-C in a terminal reaches the workers too: a worker ended by SIGINT is the interruption.
        if (signal === 'SIGINT' && !failure && !interrupted) { interrupted = 'SIGINT'; log(`autospeech: SIGINT: stopping ${alive.size} worker(s)`); stopAll(); }
        if ((code !== 0 || signal) && !failure && !interrupted) {
          failure = { rank, what: describe(code, signal), code: signal ? null : code };
          if (alive.size) log(`autospeech: rank ${rank} of ${nproc} ${failure.what}; stopping the other ${alive.size} worker(s)`);
          stopAll();
        }
        if (alive.size === 0) resolve();
      });
      p.on('error', (err) => {
        if (!failure) failure = { rank, what: `could not be started (${err.message})`, code: null };
        alive.delete(rank);
        stopAll();
        if (alive.size === 0) resolve();
      });
    }
  });
  await done;
  clearTimeout(killTimer);
  process.off('SIGINT', sigint);
  process.off('SIGTERM', sigterm);
  if (interrupted) return interrupted === 'SIGINT' ? 130 : 143;
  if (failure) {
    const f = failure as { rank: number; what: string; code: number | null };
    log(`autospeech: data-parallel job failed: rank ${f.rank} of ${nproc} ${f.what}`);
    return f.code === 2 ? 2 : 1; // a usage/config error stays one

  }
  return 0;
}
