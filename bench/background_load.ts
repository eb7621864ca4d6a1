// The bench's induced load: one busy-looping process (a single thread, so it takes one core's worth
// of CPU from the two sides, which run one after the other beside it), bounded in time so that a
// crashed bench never leaves it spinning, and stopped as soon as the rows that wanted it are done.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';

/** Spin until `maxMs` has passed (then exit by itself) or until killed. */
const BUSY = 'const end = Date.now() + Number(process.argv[1]); let x = 0; while (Date.now() < end) { for (let i = 0; i < 1e5; i++) x += i; }';

export class BackgroundLoad {
  private child?: ChildProcess;

  start(maxMs = 60 * 60 * 1000): void {
    if (this.child) return;
    this.child = spawn(process.execPath, ['-e', BUSY, String(maxMs)], { stdio: 'ignore' });
    this.child.unref();
  }

  /** SIGKILL: the spinner holds no state, and the next measurement starts only once it is gone. */
  stop(): void {
    const c = this.child;
    this.child = undefined;
    if (c && c.exitCode === null) {
      c.kill('SIGKILL');
      // Until it no longer runs: gone, or a zombie (Node reaps it later, on the event loop).
      const stat = `/proc/${c.pid}/stat`;
      for (let i = 0; i < 200 && existsSync(stat) && !/^\d+ \(.*\) Z/.test(readFileSync(stat, 'utf8')); i++) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

/** The machine's state when a measurement starts: 1-minute load average and Linux's CPU pressure (PSI). */
export interface MachineState { load1: number; cpuSomeAvg10?: number }

export function machineState(): MachineState {
  const s: MachineState = { load1: loadavg()[0] };
  try {
    // "some avg10=0.52 avg60=... total=...": the share of the last 10 s some runnable task waited for a CPU
    const m = /^some avg10=([\d.]+)/m.exec(readFileSync('/proc/pressure/cpu', 'utf8'));
    if (m) s.cpuSomeAvg10 = Number(m[1]);
  } catch { /* no PSI on this kernel */ }
  return s;
}

export const describeState = (s: MachineState) => `load ${s.load1.toFixed(2)}${s.cpuSomeAvg10 !== undefined ? `, CPU pressure ${s.cpuSomeAvg10.toFixed(1)} %` : ''}`;
