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
  // mkdir without `recursive` fails if the name exists: two runs started in the same second each
  // get their own directory.
  const base = `${expName}_${stamp()}`;
  let prefix = join(root, base);
  for (let i = 1; ; i++) {
    try {
      mkdirSync(prefix);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      prefix = join(root, `${base}_${i}`);
    }
  }
  const paths = runPaths(prefix);
  mkdirSync(paths.model, { recursive: true });
  mkdirSync(paths.log, { recursive: true });
  return paths;
}

export function gitSha(): string | null {
  // an installed package (node_modules/autospeech) is no checkout: not the enclosing project's HEAD
  if (!existsSync(join(PROJECT_ROOT, '.git'))) return null;
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

/** Whether `dir` is a run directory name of experiment `expName` exactly (`ck` is not `ck_v3`). */
export function isRunOf(dir: string, expName: string): boolean {
  if (!dir.startsWith(`${expName}_`)) return false;
  return /^\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d(_\d+)?$/.test(dir.slice(expName.length + 1));
}

/** The newest run directory of `expName` under `root` that has a resumable checkpoint. */
export function findLatestRun(root: string, expName: string): string | null {
  if (!existsSync(root)) return null;
  const candidates = readdirSync(root)
    .filter((d) => isRunOf(d, expName) && existsSync(join(root, d, 'Model', 'last.ckpt')))
    .map((d) => join(root, d))
    .sort((a, b) => statSync(join(b, 'Model', 'last.ckpt')).mtimeMs - statSync(join(a, 'Model', 'last.ckpt')).mtimeMs);
  return candidates[0] ?? null;
}

export function expNameOf(cfgPath: string): string {
  return basename(cfgPath).replace(/\.[^.]*$/, '');
}
