// Weights as a directory of .npy files keyed by state_dict name (the fixtures' format), loaded
// strictly: a missing, extra, mis-shaped or mis-typed tensor is an error naming it.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import { UserError } from '../errors.ts';
import { type NpyArray, type NpyData, readNpy, writeNpy } from '../io/npy.ts';
import type { NativeModel } from '../native.ts';

/** Every `<name>.npy` in `dir`, keyed by name. */
export function readWeightsDir(dir: string): Map<string, NpyArray> {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new UserError(`weights: ${dir} is not a directory`);
  const out = new Map<string, NpyArray>();
  for (const file of readdirSync(dir).sort()) {
    if (!file.endsWith('.npy')) continue;
    out.set(file.slice(0, -4), readNpy(join(dir, file)));
  }
  if (out.size === 0) throw new UserError(`weights: ${dir} holds no .npy files`);
  return out;
}

function sameShape(model: number[], file: number[]): boolean {
  // A 0-d tensor (num_batches_tracked) may be stored as shape [] or [1].
  if (model.length === 0) return file.length === 0 || (file.length === 1 && file[0] === 1);
  return model.length === file.length && model.every((d, i) => d === file[i]);
}

/** Copies `tensors` into the model; strict about the key set, shapes and dtypes. */
export function loadWeights(model: NativeModel, tensors: Map<string, NpyArray>, where: string): void {
  const entries = model.stateDict();
  const expected = new Set(entries.map((e) => e.name));
  const missing = entries.filter((e) => !tensors.has(e.name)).map((e) => e.name);
  const extra = [...tensors.keys()].filter((k) => !expected.has(k));
  const list = (names: string[]) => names.slice(0, 5).join(', ') + (names.length > 5 ? `, ... (${names.length} in all)` : '');
  if (missing.length) throw new UserError(`weights ${where}: missing tensor(s) ${list(missing)}`);
  if (extra.length) throw new UserError(`weights ${where}: unexpected tensor(s) ${list(extra)} (not in this model)`);
  for (const e of entries) {
    const t = tensors.get(e.name)!;
    if (!sameShape(e.shape, t.shape))
      throw new UserError(`weights ${where}: tensor '${e.name}' has shape [${t.shape}], the model needs [${e.shape}]`);
    if (t.dtype !== e.dtype)
      throw new UserError(`weights ${where}: tensor '${e.name}' is ${t.dtype}, the model needs ${e.dtype}`);
  }
  for (const e of entries) {
    const t = tensors.get(e.name)!;
    model.setTensor(e.name, t.data as NpyData, t.shape);
  }
}

/** The `model/<name>` tensors of a checkpoint, keyed by state_dict name. */
export function modelTensorsOf(tensors: Map<string, NpyArray>): Map<string, NpyArray> {
  const out = new Map<string, NpyArray>();
  for (const [name, t] of tensors) if (name.startsWith('model/')) out.set(name.slice('model/'.length), t);
  return out;
}

export function loadWeightsDir(model: NativeModel, dir: string): void {
  loadWeights(model, readWeightsDir(dir), dir);
}

/** Writes every state_dict tensor as `<dir>/<name>.npy`; the directory appears whole or not at all. */
export function saveWeightsDir(model: NativeModel, dir: string): void {
  const tensors = new Map<string, NpyArray>();
  for (const e of model.stateDict()) {
    const t = model.getTensor(e.name);
    tensors.set(e.name, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype === 'int64' ? 'int64' : 'float32' });
  }
  saveTensorDir(tensors, dir);
}

/**
 * `<dir>/<name>.npy` per tensor, built in a temp directory and renamed into place, so the directory
 * appears whole or not at all. An existing directory is replaced only when it holds nothing but
 * .npy files (a previous state_dict), never one with other files in it.
 */
export function saveTensorDir(tensors: Map<string, NpyArray>, dir: string): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw new UserError(`${dir} exists and is not a directory`);
    const other = readdirSync(dir).filter((f) => !f.endsWith('.npy'));
    if (other.length) throw new UserError(`${dir} exists and holds other files than .npy (${other.slice(0, 3).join(', ')}): not replacing it`);
  }
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    for (const [name, t] of tensors) {
      if (name.includes('/') || name.startsWith('.')) throw new UserError(`tensor name '${name}' cannot be a file name`);
      writeNpy(join(tmp, `${name}.npy`), t);
    }
  } catch (err) {
    rmSync(tmp, { recursive: true, force: true });
    throw err;
  }
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}
