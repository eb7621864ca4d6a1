// <run>/launches.jsonl: one line per start of a run (fresh or resumed) with the data-parallel
// world size and backend it ran with, so a resume knows the global batch the run was computing.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { writeFileAtomic } from '../io/atomic.ts';

/**
 * Appends this start of the run (fresh or resumed) to <run>/launches.jsonl: the world size and
 * backend it ran with, the per-process and global batch, and the checkpoint it resumed from.
 */
export function recordLaunch(prefix: string, batchPerProcess: number, d: { worldSize: number; backend: string } | null, resumedFrom: string | null): void {
  const file = join(prefix, 'launches.jsonl');
  const line = JSON.stringify({
    time: new Date().toISOString(), worldSize: d?.worldSize ?? 1, backend: d?.backend ?? null,
    batchPerProcess, globalBatch: batchPerProcess * (d?.worldSize ?? 1), resumedFrom,
  }) + '\n';
  writeFileAtomic(file, (existsSync(file) ? readFileSync(file, 'utf8') : '') + line);
}

/** The world size of the run's latest start (1 for runs written before launches.jsonl existed). */
export function lastWorldSize(prefix: string): number {
  const file = join(prefix, 'launches.jsonl');
  if (!existsSync(file)) return 1;
  const lines = readFileSync(file, 'utf8').split('\n').filter(Boolean);
  try {
    return (JSON.parse(lines[lines.length - 1]) as { worldSize?: number }).worldSize ?? 1;
  } catch {
    return 1;
  }
}
