// A chosen EfficientTDNN subnet as a standalone network: sugar's clone(cfg) of a supernet (kernels
// baked in, BN running statistics copied from the slice), or a weights directory that already
// holds a clone (`forward --export-subnet`, `tdnn search --export`). Recalibration and evaluation
// run on this standalone network, as the reference does (SubnetEvaluation: `__S__ = clone(cfg)`,
// then batch_forward): its BNs are plain, so every one of them takes the recalibrated statistics,
// whereas on the dynamic path the index-list BNs would lose their update (spec §6.3).
import type { Config } from '../config/index.ts';
import { UserError } from '../errors.ts';
import type { NpyArray } from '../io/npy.ts';
import { buildModelFromSpec } from '../models/build.ts';
import { modelSpecFromConfig } from '../models/spec.ts';
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { loadWeights, modelTensorsOf, readWeightsDir } from '../models/weights.ts';
import { type NativeModel, loadNative } from '../native.ts';
import { loadCheckpoint } from '../run/checkpoint.ts';
import { isStandaloneState, subnetOfStandalone } from './forward.ts';
import { type Subnet, checkSubnet, formatSubnet, largestSubnet, parseSubnet, supernetDims } from './subnet.ts';

export interface SubnetModel {
  model: NativeModel;
  subnet: Subnet;
  /** the weights were a clone already (no supernet involved) */
  standalone: boolean;
}

/** An empty standalone network of `subnet`'s shape under the config's run settings. */
export function standaloneModel(cfg: Config, subnet: Subnet): NativeModel {
  const d = supernetDims(cfg);
  return buildModelFromSpec(cfg, {
    kind: 'tdnn', inFeats: d.inFeats, embedDim: d.embedDim, numBlocks: subnet.depth,
    channels: subnet.channels, kernels: subnet.kernels, catChannels: subnet.cat, standalone: true,
  });
}

/**
 * clone(subnet) of a loaded supernet, as a new standalone network. The clone is taken in eval mode
 * (no counter bumps) by tdnnForward's exportSubnet on a one-frame input (the forward itself is
 * discarded); note that, as in sugar, it leaves the supernet configured to `subnet`.
 */
export async function cloneSubnet(cfg: Config, supernet: NativeModel, subnet: Subnet): Promise<NativeModel> {
  const d = supernetDims(cfg);
  checkSubnet(subnet, d);
  const r = await loadNative().tdnnForward(supernet, new Float32Array(d.inFeats), [1, d.inFeats, 1], { mode: 'eval', subnet, exportSubnet: true });
  const clone = standaloneModel(cfg, subnet);
  const want = clone.stateDict().map((e) => e.name).join(',');
  const got = (r.subnetState ?? []).map((e) => e.name).join(',');
  if (want !== got) throw new Error(`tdnn clone: the exported state (${got.slice(0, 80)}...) does not match the standalone network's keys`);
  for (const e of r.subnetState!) clone.setTensor(e.name, e.tensor.data, e.tensor.shape);
  return clone;
}

/**
 * The standalone network of `subnetText` (default: the largest) from a weights directory: a
 * supernet state_dict is loaded and cloned; a clone's state_dict is loaded as itself (then
 * `subnetText`, when given, must name the subnet it holds).
 */
/**
 * The tensors `--weights` names: a state_dict directory (one `<key>.npy` per tensor), a `tdnn train`
 * checkpoint (`.ckpt`), or a run directory (its Model/last.ckpt): the model's tensors of a checkpoint.
 */
export function readTdnnWeights(weights: string): Map<string, NpyArray> {
  if (!existsSync(weights)) throw new UserError(`--weights ${weights}: no such file or directory`);
  const isDir = statSync(weights).isDirectory();
  const ckpt = isDir ? join(weights, 'Model', 'last.ckpt') : weights;
  if (isDir && !existsSync(ckpt)) return readWeightsDir(weights);
  const model = modelTensorsOf(loadCheckpoint(ckpt).tensors);
  if (model.size === 0) throw new UserError(`--weights ${ckpt}: the checkpoint holds no model tensors`);
  return model;
}

export async function loadSubnetModel(cfg: Config, weights: string, subnetText?: string, tensors?: Map<string, NpyArray>): Promise<SubnetModel> {
  const state = tensors ?? readTdnnWeights(weights);
  if (isStandaloneState(state)) {
    const subnet = subnetOfStandalone(state, weights);
    if (subnetText !== undefined && formatSubnet(parseSubnet(subnetText)) !== formatSubnet(subnet))
      throw new UserError(`--subnet ${subnetText}: ${weights} holds the standalone subnet ${formatSubnet(subnet)}`);
    const model = standaloneModel(cfg, subnet);
    loadWeights(model, state, weights);
    return { model, subnet, standalone: true };
  }
  const supernet = loadSupernet(cfg, weights, state);
  const subnet = subnetText !== undefined ? parseSubnet(subnetText) : largestSubnet(supernetDims(cfg));
  return { model: await cloneSubnet(cfg, supernet, subnet), subnet, standalone: false };
}

/** The supernet of the config's MODEL.* dims with a state_dict directory's weights (strict). */
export function loadSupernet(cfg: Config, weights: string, tensors?: Map<string, NpyArray>): NativeModel {
  const state = tensors ?? readTdnnWeights(weights);
  if (isStandaloneState(state)) throw new UserError(`--weights ${weights}: holds a standalone subnet (a clone); a search needs the supernet's state_dict`);
  const model = buildModelFromSpec(cfg, modelSpecFromConfig(cfg));
  loadWeights(model, state, weights);
  return model;
}
