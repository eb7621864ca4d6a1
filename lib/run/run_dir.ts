// Experiment directories in the reference layout: <root>/<exp>_<YYYY_MM_DD_HH_MM_SS>/{Model,Log},
// with the resolved config, versions (node, libtorch, CUDA, git SHA) and seeds written atomically.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, join } from 'node:path';

import { writeFileAtomic } from '../io/atomic.ts';
import { PROJECT_ROOT } from '../native.ts';

export interface RunPaths { prefix: string; model: string; log: string }

function stamp(d = new Date()): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `${d.getFullYear()}_${p(d.getMonth() + 1)}_${p(d.getDate())}_${p(d.getHours())}_${p(d.getMinutes())}_${p(d.getSeconds())}`;
}

export function runPaths(prefix: string): RunPaths {
  return { prefix, model: join(prefix, 'Model'), log: join(prefix, 'Log') };
}

export function createRunDir(root: string, expName: string): RunPaths {
  mkdirSync(root, { recursive: true });
  let prefix = join(root, `${expName}_${stamp()}`);
  for (let i = 1; existsSync(prefix); i++) prefix = join(root, `${expName}_${stamp()}_${i}`);
  const paths = runPaths(prefix);
  mkdirSync(paths.model, { recursive: true });
  mkdirSync(paths.log, { recursive: true });
  return paths;
}

export function gitSha(): string | null {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: PROJECT_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return null;
  }
}

export function writeRunInfo(paths: RunPaths, configYaml: string, info: Record<string, unknown>): void {
  writeFileAtomic(join(paths.prefix, 'config.yaml'), configYaml);
  writeFileAtomic(join(paths.prefix, 'versions.json'), JSON.stringify({ node: process.version, git: gitSha(), host: hostname(), time: new Date().toISOString(), ...info }, null, 2) + '\n');
}

/** The newest run directory of `expName` under `root` that has a resumable checkpoint. */
export function findLatestRun(root: string, expName: string): string | null {
  if (!existsSync(root)) return null;
  const candidates = readdirSync(root)
    .filter((d) => d.startsWith(`${expName}_`) && existsSync(join(root, d, 'Model', 'last.ckpt')))
    .map((d) => join(root, d))
    .sort((a, b) => statSync(join(b, 'Model', 'last.ckpt')).mtimeMs - statSync(join(a, 'Model', 'last.ckpt')).mtimeMs);
  return candidates[0] ?? null;
}

export function expNameOf(cfgPath: string): string {
  return basename(cfgPath).replace(/\.[^.]*$/, '');
}
