// What a run's figures depend on, stage by stage, so that two runs (of the demo, say) can be
// compared where they first differ: hashes of the generated data set, of the feature store, of the
// searched genotype and of the trained weights, plus the facts the numerics depend on (threads, the
// CPU's vector extensions, which oneDNN and ATen dispatch on, the BLAS, the synthesis tools).
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';

import { loadNative } from '../native.ts';
import { loadCheckpoint } from './checkpoint.ts';

const sha256 = (data: string | Uint8Array) => createHash('sha256').update(data).digest('hex');

/** sha256 over (relative path, sha256 of the bytes) of every file under dir, in sorted order. */
export function treeHash(dir: string, skip: (rel: string) => boolean = () => false): { sha256: string; files: number } {
  const h = createHash('sha256');
  let files = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name);
      const rel = relative(dir, full);
      if (skip(rel)) continue;
      if (statSync(full).isDirectory()) walk(full);
      else {
        h.update(`${rel}\0${sha256(readFileSync(full))}\n`);
        files++;
      }
    }
  };
  walk(dir);
  return { sha256: h.digest('hex'), files };
}

/** The feature store's identity: its index (which holds every shard's size and CRC-32) and statistics. */
export function storeHash(storeDir: string): string {
  const h = createHash('sha256');
  for (const f of ['index.json', 'mean.npy', 'std.npy']) if (existsSync(join(storeDir, f))) h.update(readFileSync(join(storeDir, f)));
  return h.digest('hex');
}

/** sha256 of a checkpoint's model tensors (name and bytes, in state_dict order): the trained weights. */
export function checkpointWeightsHash(file: string): string {
  const h = createHash('sha256');
  for (const [name, t] of loadCheckpoint(file).tensors) {
    if (!name.startsWith('model/')) continue;
    h.update(`${name}\0`);
    h.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  }
  return h.digest('hex');
}

export const sha256Text = (s: string) => sha256(s);

/** The vector extensions kernels dispatch on. */
const ISA_FLAGS = ['sse4_2', 'avx', 'avx2', 'fma', 'f16c', 'avx512f', 'avx512dq', 'avx512bw', 'avx512vl', 'avx512_vnni', 'avx512_bf16', 'avx512_fp16', 'amx_tile', 'amx_bf16', 'amx_int8', 'avx_vnni'];

export interface CpuFingerprint { model: string; isa: string[]; caches: string; atenCapability: string; onednn: string; blas: string }

/** Cache sizes of cpu0 (L1d/L2/L3): oneDNN sizes its blocking, and so its sums' order, from them. */
function cacheSizes(): string {
  const out: string[] = [];
  for (let i = 0; i < 8; i++) {
    const dir = `/sys/devices/system/cpu/cpu0/cache/index${i}`;
    try {
      const type = readFileSync(`${dir}/type`, 'utf8').trim();
      if (type === 'Instruction') continue;
      out.push(`L${readFileSync(`${dir}/level`, 'utf8').trim()}${type === 'Data' ? 'd' : ''} ${readFileSync(`${dir}/size`, 'utf8').trim()}`);
    } catch { break; }
  }
  return out.join(', ') || 'unknown';
}

export function cpuFingerprint(): CpuFingerprint {
  let model = 'unknown', flags: string[] = [];
  try {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    model = /^model name\s*:\s*(.*)$/m.exec(info)?.[1]?.trim() ?? model;
    flags = (/^flags\s*:\s*(.*)$/m.exec(info)?.[1] ?? '').split(/\s+/);
  } catch { /* not Linux */ }
  const config = loadNative().info().config;
  const line = (re: RegExp) => re.exec(config)?.[1]?.trim() ?? 'unknown';
  let blas = 'unknown';
  try {
    blas = execFileSync('readlink', ['-f', '/usr/lib/x86_64-linux-gnu/libblas.so.3'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch { /* no alternatives link */ }
  return {
    model,
    isa: ISA_FLAGS.filter((f) => flags.includes(f)),
    caches: cacheSizes(),
    atenCapability: line(/CPU capability usage: (\S+)/),
    onednn: `${line(/MKL-DNN (v[\d.]+)/)}${process.env.ONEDNN_MAX_CPU_ISA ? ` max ISA ${process.env.ONEDNN_MAX_CPU_ISA}` : ''}`,
    blas: `${blas}${process.env.OPENBLAS_CORETYPE ? ` core ${process.env.OPENBLAS_CORETYPE}` : ''}`,
  };
}

/** Debian package versions of the tools a stage ran (dpkg-query), 'absent' when not installed. */
export function packageVersions(packages: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of packages) {
    try {
      out[p] = execFileSync('dpkg-query', ['-W', '-f=${Version}', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || 'absent';
    } catch {
      out[p] = 'absent';
    }
  }
  return out;
}
