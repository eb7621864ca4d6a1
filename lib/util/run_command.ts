// External audio tools (espeak-ng, flite, festival, sox, ffmpeg) as promises: stdout as a Buffer,
// a missing tool as a UserError that says how to install it, a failure with the tool's stderr.
import { spawn } from 'node:child_process';

import { UserError } from '../errors.ts';

export function runCommand(cmd: string, args: string[], input?: Buffer | string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    p.stdout.on('data', (d) => out.push(d));
    p.stderr.on('data', (d) => err.push(d));
    p.on('error', (e) => reject(new UserError(`${cmd} could not be run (${(e as Error).message}); install it with npm run setup`)));
    p.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new Error(`${cmd} ${args.join(' ')} failed (${code}): ${Buffer.concat(err).toString().trim()}`))));
    p.stdin.end(input);
  });
}

/** Raw 16-bit little-endian PCM (a tool's stdout) -> float64 samples in [-1, 1). */
export function pcm16ToFloat64(raw: Buffer): Float64Array {
  const pcm = new Int16Array(raw.buffer, raw.byteOffset, Math.floor(raw.length / 2));
  return Float64Array.from(pcm, (v) => v / 32768);
}
