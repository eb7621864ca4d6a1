// Kill-and-resume helpers: the one run dir under a root, its logged training steps, a command
// SIGKILLed once it has logged N steps, a run's final weights and optimizer state as bytes, and the
// whole sequence: an uninterrupted 2-epoch run, the same killed in epoch 1 and resumed, compared.
import type { ExecutionContext } from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { loadCheckpoint } from '../../lib/run/checkpoint.ts';
import { BIN, cli } from './cli.ts';

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


/**
 * Runs `common` (a 2-epoch command of `perEpoch` steps, TRAIN.CHECKPOINT_STEPS 1) uninterrupted
 * under `rootA`, then under `rootB` SIGKILLed 3 steps into epoch 1 and resumed from its run dir;
 * asserts the kill fell in epoch 1, the resume started there, and the resumed run ends with the
 * uninterrupted run's weights and optimizer state bit for bit and its number of steps.
 */
export async function killResumeMatches(t: ExecutionContext, common: string[], rootA: string, rootB: string, perEpoch: number): Promise<{ dirA: string; dirB: string; weights: Map<string, Uint8Array> }> {
  const a = cli([...common, 'OUTPUT_DIR', rootA]);
  t.is(a.status, 0, a.stderr);
  await runAndKill([...common, 'OUTPUT_DIR', rootB], rootB, perEpoch + 3);
  const dirB = runDirOf(rootB);
  const killedAt = metricSteps(dirB);
  t.true(killedAt > perEpoch && killedAt < 2 * perEpoch, `killed in epoch 1 (after ${killedAt} steps)`);
  const b = cli([...common, 'OUTPUT_DIR', rootB, '--resume', dirB]);
  t.is(b.status, 0, b.stderr);
  t.regex(b.stderr, /resumed .*last.ckpt at epoch 1/);
  const dirA = runDirOf(rootA);
  const wa = finalWeights(dirA), wb = finalWeights(dirB);
  t.is(wb.size, wa.size);
  for (const [name, bytes] of wa) t.deepEqual(wb.get(name), bytes, name);
  t.is(metricSteps(dirB), 2 * perEpoch);
  return { dirA, dirB, weights: wa };
}
