// EfficientTDNN's MLP accuracy predictor (sugar AccuracyPredictor; native/tdnn/predictor.h):
// BN1d(in) -> 3 x (Linear 400 + ReLU) -> Linear 1, then the inverse of the target normaliser ynorm
// (dividing by ynorm.weight + eps, the reference's quirk). The input is a subnet's one-hot code:
// 48-dim coarse for the shipped EER.48.Coarse weights, 408-dim fine otherwise (lib/tdnn/encoding.ts).
//
// Weights are a state_dict directory, one `<key>.npy` per tensor with the reference's keys
// (`model.0.weight`, ..., `ynorm.num_batches_tracked`), loaded strictly. Training is the reference's
// fit(): Adam(lr 1e-3, L2 1e-3) on `model` only, shuffled batches of 256 with drop_last, MSE
// against ynorm(y) in train mode (batch-normalised targets), StepLR(epochs // 2, 0.5) per epoch.
// Predictions come out in the unit of the training targets: EER in percent for the shipped weights.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { UserError } from '../errors.ts';
import { syncDir } from '../io/atomic.ts';
import { type NpyArray, type NpyData, writeNpy } from '../io/npy.ts';
import { readWeightsDir } from '../models/weights.ts';
import { type NativeTdnnPredictor, type NativeTensor, type PredictorFitOptions, type PredictorFitResult, loadNative } from '../native.ts';
import { type ArchCoder, predictorCoder } from './encoding.ts';
import { type Subnet, parseSubnet, subnetFromJson } from './subnet.ts';

export type { PredictorFitOptions, PredictorFitResult };

/** A measured (subnet, EER) pair; `eer` in the unit the predictor predicts (percent for the shipped one). */
export interface EerPair {
  subnet: Subnet;
  eer: number;
}

function sameShape(model: number[], file: number[]): boolean {
  // num_batches_tracked is 0-d in PyTorch; the fixtures store it as [1].
  if (model.length === 0) return file.length === 0 || (file.length === 1 && file[0] === 1);
  return model.length === file.length && model.every((d, i) => d === file[i]);
}

export class AccuracyPredictor {
  private constructor(readonly native: NativeTdnnPredictor) {}

  /** A freshly initialised predictor (PyTorch's default Linear init; `seed` like torch.manual_seed first). */
  static create(inFeats = 48, options: { seed?: number } = {}): AccuracyPredictor {
    return new AccuracyPredictor(new (loadNative().TdnnPredictor)(inFeats, { seed: options.seed }));
  }

  /**
   * Loads a state_dict directory strictly: the input width comes from `model.0.weight` (the input
   * BatchNorm); a missing or unexpected key, a wrong shape or dtype, or a non-finite value is one
   * error naming the key.
   */
  static load(dir: string): AccuracyPredictor {
    const where = `predictor ${dir}`;
    let tensors: Map<string, NpyArray>;
    try {
      tensors = readWeightsDir(dir);
    } catch (err) {
      throw new UserError(`${where}: ${err instanceof Error ? err.message.replace(/^weights: /, '') : String(err)}`);
    }
    const w0 = tensors.get('model.0.weight');
    if (!w0) throw new UserError(`${where}: missing tensor 'model.0.weight' (model.0.weight.npy, the input BatchNorm's weight)`);
    if (w0.shape.length !== 1 || w0.shape[0] < 1) throw new UserError(`${where}: tensor 'model.0.weight' has shape [${w0.shape}], expected [inFeats]`);
    const p = AccuracyPredictor.create(w0.shape[0]);
    const entries = p.native.stateDict();
    const expected = new Set(entries.map((e) => e.name));
    const missing = entries.filter((e) => !tensors.has(e.name)).map((e) => `'${e.name}'`);
    const extra = [...tensors.keys()].filter((k) => !expected.has(k)).map((k) => `'${k}'`);
    if (missing.length) throw new UserError(`${where}: missing tensor${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (AccuracyPredictor(${p.inFeats}) needs model.{0,1,3,5,7}.* and ynorm.*)`);
    if (extra.length) throw new UserError(`${where}: unexpected tensor${extra.length > 1 ? 's' : ''} ${extra.join(', ')} (not in AccuracyPredictor(${p.inFeats}))`);
    for (const e of entries) {
      const t = tensors.get(e.name)!;
      if (!sameShape(e.shape, t.shape)) throw new UserError(`${where}: tensor '${e.name}' has shape [${t.shape}], AccuracyPredictor(${p.inFeats}) needs [${e.shape}]`);
      if (t.dtype !== e.dtype) throw new UserError(`${where}: tensor '${e.name}' is ${t.dtype}, AccuracyPredictor(${p.inFeats}) needs ${e.dtype}`);
      if (t.data instanceof Float32Array && !t.data.every(Number.isFinite)) throw new UserError(`${where}: tensor '${e.name}' holds NaN or infinite values`);
    }
    for (const e of entries) {
      const t = tensors.get(e.name)!;
      p.native.setTensor(e.name, t.data as NpyData, t.shape);
    }
    return p;
  }

  get inFeats(): number {
    return this.native.inFeats;
  }

  /** Every state_dict tensor (copies), in PyTorch order. */
  tensors(): [string, NativeTensor][] {
    return this.native.stateDict().map((e) => [e.name, this.native.getTensor(e.name)]);
  }

  /**
   * The one-hot codes of subnets, row-major (n x inFeats): by default tdnn8m2g's coarse 48 or fine
   * 408 code by the input width; another supernet's code with `coder` (search.ts supernetCoder).
   */
  encode(subnets: readonly Subnet[], coder: ArchCoder = predictorCoder(this.inFeats)): Float32Array {
    if (coder.nfeat !== this.inFeats) throw new UserError(`predictor: the encoding has ${coder.nfeat} dims, the predictor takes ${this.inFeats}`);
    const x = new Float32Array(subnets.length * coder.nfeat);
    subnets.forEach((s, i) => x.set(coder.encodeSubnet(s), i * coder.nfeat));
    return x;
  }

  /** Predicted EER per encoding (x: n x inFeats) and the raw network output (normalised space). */
  predictEncoded(x: Float32Array, n: number): { eer: Float32Array; raw: Float32Array } {
    if (n < 1 || x.length !== n * this.inFeats) throw new UserError(`predictor: ${x.length} values are not ${n} encodings of ${this.inFeats}`);
    return this.native.predict(x, n);
  }

  predict(subnets: readonly Subnet[], coder?: ArchCoder): { eer: Float32Array; raw: Float32Array } {
    if (subnets.length === 0) throw new UserError('predictor: no subnets to predict');
    return this.predictEncoded(this.encode(subnets, coder), subnets.length);
  }

  /** fit() on (encoding, target) rows; later calls continue the optimiser and schedule (the reference's fit_process). */
  fitEncoded(x: Float32Array, n: number, y: Float32Array, options: PredictorFitOptions = {}): Promise<PredictorFitResult> {
    if (n < 1 || x.length !== n * this.inFeats || y.length !== n) throw new UserError(`predictor fit: need ${n} encodings of ${this.inFeats} and ${n} targets`);
    if (!y.every(Number.isFinite)) throw new UserError('predictor fit: a target EER is NaN or infinite');
    return this.native.fit(x, n, y, options);
  }

  fit(pairs: readonly EerPair[], options: PredictorFitOptions = {}, coder?: ArchCoder): Promise<PredictorFitResult> {
    if (pairs.length === 0) throw new UserError('predictor fit: no (subnet, EER) pairs');
    const y = Float32Array.from(pairs, (p) => p.eer);
    return this.fitEncoded(this.encode(pairs.map((p) => p.subnet), coder), pairs.length, y, options);
  }

  /**
   * Writes the state_dict as `<dir>/<key>.npy` (num_batches_tracked 0-d, as PyTorch): into a temp
   * directory beside it, fsynced, then renamed into place, so the directory appears whole or not at
   * all. An existing `dir` is refused unless `overwrite` (then replaced only after the new one is complete).
   */
  save(dir: string, options: { overwrite?: boolean } = {}): void {
    const target = resolve(dir);
    if (existsSync(target)) {
      if (!statSync(target).isDirectory()) throw new UserError(`predictor save: ${dir} exists and is not a directory`);
      if (!options.overwrite) throw new UserError(`predictor save: ${dir} already exists (overwrite it explicitly)`);
    }
    const parent = dirname(target);
    mkdirSync(parent, { recursive: true });
    const stamp = `${process.pid}-${Date.now()}`;
    const tmp = join(parent, `.${basename(target)}.tmp-${stamp}`);
    mkdirSync(tmp);
    try {
      for (const [name, t] of this.tensors()) writeNpy(join(tmp, `${name}.npy`), { data: t.data as NpyData, shape: t.shape, dtype: t.dtype === 'int64' ? 'int64' : 'float32' });
      if (existsSync(target)) {
        const old = join(parent, `.${basename(target)}.old-${stamp}`);
        renameSync(target, old);
        renameSync(tmp, target);
        rmSync(old, { recursive: true, force: true });
      } else renameSync(tmp, target);
      syncDir(parent);
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }
}

function pairFrom(v: unknown, where: string): EerPair {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new UserError(`${where}: expected {"subnet": ..., "eer": x}, got ${JSON.stringify(v)}`);
  const o = v as Record<string, unknown>;
  if (o.subnet === undefined) throw new UserError(`${where}: missing "subnet"`);
  const subnet = typeof o.subnet === 'string' ? parseSubnet(o.subnet, `${where}: subnet`) : subnetFromJson(o.subnet, `${where}: subnet`);
  if (typeof o.eer !== 'number' || !Number.isFinite(o.eer)) throw new UserError(`${where}: "eer" must be a finite number, got ${JSON.stringify(o.eer)}`);
  return { subnet, eer: o.eer };
}

/**
 * Measured pairs from a file: JSON Lines (one {"subnet", "eer"} per line) or JSON (an array of them,
 * or {"pairs": [...]}). `subnet` is `D-c0-..-cD-k0-..-kD-cat` or `[depth, [c...], [k...], cat]`.
 */
export function readEerPairs(file: string): EerPair[] {
  if (!existsSync(file)) throw new UserError(`${file} not found`);
  const text = readFileSync(file, 'utf8');
  let pairs: EerPair[];
  if (file.endsWith('.jsonl')) {
    pairs = [];
    text.split('\n').forEach((line, i) => {
      if (line.trim() === '') return;
      let v: unknown;
      try {
        v = JSON.parse(line);
      } catch (err) {
        throw new UserError(`${file}:${i + 1}: not JSON (${err instanceof Error ? err.message : String(err)})`);
      }
      pairs.push(pairFrom(v, `${file}:${i + 1}`));
    });
  } else {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (err) {
      throw new UserError(`${file}: not JSON (${err instanceof Error ? err.message : String(err)}); use .jsonl for one pair per line`);
    }
    const list = Array.isArray(v) ? v : (v as { pairs?: unknown })?.pairs;
    if (!Array.isArray(list)) throw new UserError(`${file}: expected a JSON array of {"subnet", "eer"} or {"pairs": [...]}`);
    pairs = list.map((p, i) => pairFrom(p, `${file}: pairs[${i}]`));
  }
  if (pairs.length === 0) throw new UserError(`${file}: no (subnet, EER) pairs`);
  return pairs;
}
