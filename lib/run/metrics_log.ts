// Append-only JSONL metrics (one object per line), synced at epoch ends. On resume, a partial last
// line left by a kill is cut off, and lines past the resumed step are dropped.
import { appendFileSync, existsSync, fsyncSync, openSync, closeSync, readFileSync, writeFileSync } from 'node:fs';

export class MetricsLog {
  constructor(readonly path: string) {}

  /** Keeps only complete lines whose global step is below `step` (for an exact resume). */
  truncateAfter(step: number): void {
    if (!existsSync(this.path)) return;
    const keep = readFileSync(this.path, 'utf8').split('\n').filter((line) => {
      if (!line.trim()) return false;
      try {
        const o = JSON.parse(line);
        return typeof o.step !== 'number' || o.step < step;
      } catch {
        return false;
      }
    });
    writeFileSync(this.path, keep.map((l) => l + '\n').join(''));
  }

  write(record: Record<string, unknown>): void {
    appendFileSync(this.path, JSON.stringify({ t: new Date().toISOString(), ...record }) + '\n');
  }

  sync(): void {
    if (!existsSync(this.path)) return;
    const fd = openSync(this.path, 'a');
    fsyncSync(fd);
    closeSync(fd);
  }
}
