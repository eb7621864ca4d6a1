// One writer per run directory: `<run>/.lock` is created exclusively (O_EXCL) and holds the owner's
// pid, host and start time. A second process is refused with the owner named; a lock whose owner
// died (same host, pid gone, e.g. after SIGKILL) is stale and taken over. Released on release() or
// when the process exits.
import { closeSync, linkSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { UserError } from '../errors.ts';

interface LockOwner { pid: number; host: string; started: string }

const held = new Set<string>();
let exitHookInstalled = false;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

function readOwner(file: string): LockOwner | null {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as LockOwner;
  } catch {
    return null; // vanished, or half-written by a writer that died at that instant
  }
}

export interface RunLock { file: string; release(): void }

export function acquireRunLock(runDir: string): RunLock {
  const file = join(runDir, '.lock');
  const me: LockOwner = { pid: process.pid, host: hostname(), started: new Date().toISOString() };
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = readOwner(file);
      if (owner && owner.pid === process.pid && owner.host === me.host && held.has(file))
        throw new UserError(`run dir ${runDir} is already being written by this process`);
      const inUse = (o: LockOwner) => new UserError(`run dir ${runDir} is in use by pid ${o.pid} on ${o.host} (since ${o.started}): ` +
        'only one process may train a run at a time; wait for it to end or stop it (a lock left by a dead process is taken over)');
      const stale = !owner || (owner.host === me.host && !alive(owner.pid));
      if (!stale) throw inUse(owner!);
      // Take the stale lock away under a private name and make sure it is the one judged stale: a
      // process that took it over a moment earlier keeps its fresh lock (it is put back).
      const grabbed = `${file}.stale-${process.pid}`;
      try { renameSync(file, grabbed); } catch { continue; }
      const taken = readOwner(grabbed);
      if (taken && owner && (taken.pid !== owner.pid || taken.started !== owner.started) && taken.host === me.host && alive(taken.pid)) {
        try { linkSync(grabbed, file); } catch { /* replaced meanwhile: that one stands */ }
        rmSync(grabbed, { force: true });
        throw inUse(taken);
      }
      rmSync(grabbed, { force: true });
      continue;
    }
    writeSync(fd, JSON.stringify(me));
    closeSync(fd);
    held.add(file);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => { for (const f of held) rmSync(f, { force: true }); });
    }
    return {
      file,
      release: () => {
        if (held.delete(file)) rmSync(file, { force: true });
      },
    };
  }
  throw new UserError(`run dir ${runDir}: could not take its lock ${file} (another process keeps replacing it)`);
}
