// Kill-and-resume helpers: the one run dir under a root, its logged training steps, a command
// SIGKILLed once it has logged N steps, and a run's final weights and optimizer state as bytes.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { loadCheckpoint } from '../../lib/run/checkpoint.ts';
import { BIN } from './cli.ts';

/** The one run dir under `root` (of experiment `exp` when given: `<exp>_<timestamp>`). */
export function runDirOf(root: string, exp?: string): string {
  const dirs = readdirSync(root).filter((d) => (exp === undefined || d.startsWith(`${exp}_`)) && existsSync(join(root, d, 'Model')));
  if (dirs.length !== 1) throw new Error(`expected one ${exp ? `${exp} ` : ''}run dir in ${root}, found ${dirs.join(', ')}`);
  return join(root, dirs[0]);
}

export function metricSteps(runDir: string): number {
  const f = join(runDir, 'Log', 'metrics.jsonl');
  if (!existsSync(f)) return 0;
  return readFileSync(f, 'utf8').split('\n').filter((l) => l.includes('"train_loss"')).length;
}

/**
 * Starts the command, SIGKILLs it once `killAfter` steps are logged (checked every `pollMs`) in
 * its run dir (of experiment `exp` when given), returns when it is dead.
 */
export function runAndKill(args: string[], root: string, killAfter: number, o: { exp?: string; pollMs?: number } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const timer = setInterval(() => {
      let dir: string | undefined;
      try { dir = runDirOf(root, o.exp); } catch { return; }
      if (metricSteps(dir) >= killAfter) { clearInterval(timer); p.kill('SIGKILL'); }
    }, o.pollMs ?? 50);
    p.on('exit', (code, signal) => {
      clearInterval(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`run ended before it could be killed (${code}): ${err}`));
    });
  });
}

/** The bytes of the last checkpoint's tensors in the given groups (default model/ and optim/). */
export function finalWeights(runDir: string, groups: readonly string[] = ['model', 'optim']): Map<string, Uint8Array> {
  const ckpt = loadCheckpoint(join(runDir, 'Model', 'last.ckpt'));
  const out = new Map<string, Uint8Array>();
  for (const [name, t] of ckpt.tensors) if (groups.includes(name.split('/')[0])) out.set(name, new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  return out;
}

