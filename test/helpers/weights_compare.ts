// How far two training runs of the same start are apart, tensor by tensor, measured against how
// far training moved the weights: |a - b| / |a - w0| (L2 norms), so a tensor that training barely
// changed is not judged by float noise alone, and a bias that started at zero is not judged
// against its own tiny size. Also the largest element difference, for the report.
import { loadCheckpoint } from '../../lib/run/checkpoint.ts';
import { loadConfig } from '../../lib/config/index.ts';
import { buildModel } from '../../lib/models/build.ts';

export interface WeightsDistance { worst: number; worstName: string; maxAbs: number; tensors: number; /** |a - b| / |a - w0| over all the tensors at once */ overall: number }

/** The model/ tensors of a checkpoint (float32 only). */
export function modelTensors(file: string): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const [name, t] of loadCheckpoint(file).tensors)
    if (name.startsWith('model/') && t.dtype === 'float32') out.set(name.slice('model/'.length), t.data as Float32Array);
  return out;
}

/** The weights a run of this config starts from (the model is seeded by SEED, as runs build it). */
export function initialTensors(cfgFile: string, overrides: string[], textArch?: string): Map<string, Float32Array> {
  const cfg = loadConfig(cfgFile, overrides);
  const { model } = buildModel(cfg, textArch);
  const out = new Map<string, Float32Array>();
  for (const e of model.stateDict()) {
    const t = model.getTensor(e.name);
    if (t.dtype === 'float32') out.set(e.name, (t.data as Float32Array).slice());
  }
  return out;
}

export function weightsDistance(a: Map<string, Float32Array>, b: Map<string, Float32Array>, w0: Map<string, Float32Array>, only?: (name: string) => boolean): WeightsDistance {
  let worst = 0, worstName = '', maxAbs = 0, tensors = 0, allD = 0, allMoved = 0;
  for (const [name, x] of a) {
    if (only && !only(name)) continue;
    const y = b.get(name), z = w0.get(name);
    if (!y || !z || y.length !== x.length) throw new Error(`tensor ${name} missing or of another size`);
    let dd = 0, moved = 0;
    for (let i = 0; i < x.length; i++) {
      dd += (x[i] - y[i]) ** 2;
      moved += (x[i] - z[i]) ** 2;
      maxAbs = Math.max(maxAbs, Math.abs(x[i] - y[i]));
    }
    allD += dd;
    allMoved += moved;
    if (moved === 0) continue; // untouched by training (e.g. BN running statistics never used in train mode)
    const r = Math.sqrt(dd / moved);
    tensors++;
    if (r > worst) { worst = r; worstName = name; }
  }
  return { worst, worstName, maxAbs, tensors, overall: Math.sqrt(allD / Math.max(allMoved, 1e-300)) };
}
