// `autospeech forward` for the EfficientTDNN supernet (MODEL.NAME tdnn8m2g): one forward of a
// subnet through sugar's dynamic path on a state_dict directory, channel-first (B, IN_FEATS, T)
// input. Eval writes embedding.npy; train mode with --labels also the AAM-softmax logits and loss,
// grads/<key>.npy for every supernet parameter that got a gradient (full shape) plus
// grads/aam.W.npy; train mode writes buffers/<key>.npy (every BN buffer after the forward, i.e.
// the write-back). --export-subnet writes sugar's clone() of the subnet (taken from the weights as
// loaded, before the forward). A weights dir holding a clone (layer1.conv.weight, no wrapper
// level) is run as that standalone subnet.
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

import type { Config } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { type NpyArray, type NpyData, readNpy, writeNpy } from '../io/npy.ts';
import { buildModelFromSpec } from '../models/build.ts';
import { modelSpecFromConfig } from '../models/spec.ts';
import { loadWeights, readWeightsDir } from '../models/weights.ts';
import { type NativeModel, type NativeTensor, loadNative } from '../native.ts';
import { type Subnet, checkSubnet, formatSubnet, largestSubnet, parseSubnet, supernetDims } from './subnet.ts';

export interface TdnnForwardArgs {
  weights: string;
  input: string;
  out: string;
  mode: 'eval' | 'train';
  subnet?: string;
  lossWeights?: string;
  labels?: string;
  exportSubnet?: string;
}

export interface TdnnForwardSummary {
  mode: string;
  subnet: string;
  standalone: boolean;
  loss: number | null;
  files: number;
  out: string;
}

/** A clone's state_dict (sugar's clone() keys) has no wrapper level: layer1.conv.weight. */
export function isStandaloneState(tensors: Map<string, NpyArray>): boolean {
  return tensors.has('layer1.conv.weight') && !tensors.has('layer1.conv.conv.weight');
}

/** The subnet a clone's state_dict holds, read off its shapes. */
export function subnetOfStandalone(tensors: Map<string, NpyArray>, where: string): Subnet {
  const shape = (key: string) => {
    const t = tensors.get(key);
    if (!t) throw new UserError(`weights ${where}: standalone subnet without tensor '${key}'`);
    return t.shape;
  };
  let depth = 0;
  while (tensors.has(`blocks.${depth}.first_conv.conv.weight`)) depth++;
  if (depth < 1) throw new UserError(`weights ${where}: standalone subnet without blocks.0.first_conv.conv.weight`);
  const l1 = shape('layer1.conv.weight');
  const channels = [l1[0]], kernels = [l1[2]];
  for (let i = 0; i < depth; i++) {
    channels.push(shape(`blocks.${i}.first_conv.conv.weight`)[0]);
    kernels.push(shape(`blocks.${i}.resconv.convs.0.conv.weight`)[2]);
  }
  return { depth, channels, kernels, cat: shape('catconv.weight')[0] };
}

function saveTensor(path: string, t: NativeTensor): void {
  writeNpy(path, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype === 'int64' ? 'int64' : 'float32' });
}

/** Writes `<dir>/<name>.npy` per entry; the directory appears whole or not at all. */
function saveDirAtomic(dir: string, entries: [string, NativeTensor][]): void {
  const tmp = join(dirname(dir), `.${basename(dir)}.tmp-${process.pid}`);
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [name, t] of entries) saveTensor(join(tmp, `${name}.npy`), t);
  rmSync(dir, { recursive: true, force: true });
  renameSync(tmp, dir);
}

function readInput(path: string, inFeats: number): NpyArray {
  const x = readNpy(path);
  if (x.dtype !== 'float32' || x.shape.length !== 3 || x.shape[1] !== inFeats || x.shape[0] < 1 || x.shape[2] < 1)
    throw new UserError(`${path}: the TDNN input must be (B, ${inFeats}, T) float32, channel-first (MODEL.IN_FEATS ${inFeats}), got ${x.dtype} [${x.shape}]`);
  return x;
}

function readLabels(path: string, batch: number, classes: number): Int32Array | BigInt64Array {
  const y = readNpy(path);
  if ((y.dtype !== 'int64' && y.dtype !== 'int32') || y.shape.length !== 1 || y.shape[0] !== batch)
    throw new UserError(`${path}: labels must be (${batch},) int64 or int32, got ${y.dtype} [${y.shape}]`);
  const data = y.data as Int32Array | BigInt64Array;
  for (let i = 0; i < data.length; i++) {
    const v = Number(data[i]);
    if (!(v >= 0 && v < classes)) throw new UserError(`${path}: label ${v} at index ${i} is outside [0, ${classes}) (MODEL.NUM_CLASSES)`);
  }
  return data;
}

function readAamWeight(path: string, embedDim: number, classes: number): NpyArray {
  const w = readNpy(path);
  if (w.dtype !== 'float32' || w.shape.length !== 2 || w.shape[0] !== embedDim || w.shape[1] !== classes)
    throw new UserError(`${path}: the AAM-softmax weight must be (${embedDim}, ${classes}) float32 (MODEL.EMBED_DIM, MODEL.NUM_CLASSES), got ${w.dtype} [${w.shape}]`);
  return w;
}

export async function runTdnnForward(cfg: Config, a: TdnnForwardArgs): Promise<TdnnForwardSummary> {
  const dims = supernetDims(cfg);
  const tensors = readWeightsDir(a.weights);
  const standalone = isStandaloneState(tensors);
  let subnet: Subnet;
  let model: NativeModel;
  if (standalone) {
    // A clone runs only as itself; --subnet, when given, must name it.
    subnet = subnetOfStandalone(tensors, a.weights);
    if (a.subnet !== undefined && formatSubnet(parseSubnet(a.subnet)) !== formatSubnet(subnet))
      throw new UserError(`--subnet ${a.subnet}: ${a.weights} holds the standalone subnet ${formatSubnet(subnet)}`);
    if (a.exportSubnet !== undefined) throw new UserError(`--export-subnet: ${a.weights} already is a standalone subnet`);
    model = buildModelFromSpec(cfg, {
      kind: 'tdnn', inFeats: dims.inFeats, embedDim: dims.embedDim, numBlocks: subnet.depth,
      channels: subnet.channels, kernels: subnet.kernels, catChannels: subnet.cat, standalone: true,
    });
  } else {
    subnet = a.subnet !== undefined ? parseSubnet(a.subnet) : largestSubnet(dims);
    checkSubnet(subnet, dims);
    model = buildModelFromSpec(cfg, modelSpecFromConfig(cfg));
  }
  loadWeights(model, tensors, a.weights);

  const x = readInput(a.input, dims.inFeats);
  const batch = x.shape[0];
  const classes = cfg.MODEL.NUM_CLASSES;
  const W = a.lossWeights !== undefined ? readAamWeight(a.lossWeights, dims.embedDim, classes) : undefined;
  const labels = a.labels !== undefined ? readLabels(a.labels, batch, classes) : undefined;
  const withLoss = a.mode === 'train' && labels !== undefined;
  if (withLoss && cfg.LOSS.NAME !== 'aam') throw new UserError(`LOSS.NAME ${cfg.LOSS.NAME}: the TDNN supernet trains with the AAM-softmax head (LOSS.NAME aam)`);
  if (withLoss && !W) throw new UserError('--labels in train mode needs --loss-weights (the AAM-softmax weight, (MODEL.EMBED_DIM, MODEL.NUM_CLASSES) .npy)');
  if (a.mode === 'train' && batch < 2) throw new UserError(`${a.input}: train mode needs a batch of at least 2 (BatchNorm batch statistics), got ${batch}`);

  const r = await loadNative().tdnnForward(model, x.data as Float32Array, x.shape as [number, number, number], {
    mode: a.mode,
    subnet,
    aamWeight: withLoss ? (W!.data as Float32Array) : undefined,
    aamShape: withLoss ? [W!.shape[0], W!.shape[1]] : undefined,
    labels: withLoss ? labels : undefined,
    margin: cfg.LOSS.MARGIN,
    scale: cfg.LOSS.SCALE,
    easyMargin: cfg.LOSS.EASY_MARGIN,
    buffers: a.mode === 'train',
    exportSubnet: a.exportSubnet !== undefined,
  });

  mkdirSync(a.out, { recursive: true });
  let files = 0;
  const save = (rel: string, t: NativeTensor) => {
    const path = join(a.out, `${rel}.npy`);
    mkdirSync(dirname(path), { recursive: true });
    saveTensor(path, t);
    files++;
  };
  save('embedding', r.embedding);
  if (r.logits) save('logits', r.logits);
  if (r.loss !== undefined) save('loss', { data: new Float32Array([r.loss]), shape: [], dtype: 'float32' });
  for (const [name, g] of Object.entries(r.grads ?? {})) save(`grads/${name}`, g);
  for (const [name, b] of Object.entries(r.buffers ?? {})) save(`buffers/${name}`, b);
  if (a.exportSubnet !== undefined && r.subnetState) {
    saveDirAtomic(a.exportSubnet, r.subnetState.map((e) => [e.name, e.tensor]));
    files += r.subnetState.length;
  }
  return { mode: a.mode, subnet: formatSubnet(subnet), standalone, loss: r.loss ?? null, files, out: a.out };
}
