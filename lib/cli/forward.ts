// `autospeech forward`: one forward (and optionally loss + gradients) of the configured network on
// given weights and input, written as .npy. This is how the reference fixtures are checked, and how
// a user checks the port against their own PyTorch runs.
import type { Command } from 'commander';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { UserError } from '../errors.ts';
import { type NpyData, readNpy, writeNpy } from '../io/npy.ts';
import { buildModel } from '../models/build.ts';
import { isTdnnModel } from '../models/spec.ts';
import { loadWeightsDir } from '../models/weights.ts';
import type { NativeModel, NativeTensor } from '../native.ts';
import { isBwnFile, modelFromBwn } from '../bnn/load.ts';
import { runTdnnForward } from '../tdnn/forward.ts';
import { type CfgOptions, resolveConfig, withConfig } from './common.ts';
import { emit } from './output.ts';

interface ForwardOptions extends CfgOptions {
  weights: string;
  input: string;
  out: string;
  mode: string;
  mixing?: string;
  gumbelNoise?: string;
  labels?: string;
  subnet?: string;
  lossWeights?: string;
  exportSubnet?: string;
}

function gumbelNoiseFiles(dir: string, cells: number): Float32Array[] {
  if (!existsSync(dir)) throw new UserError(`--gumbel-noise: ${dir} does not exist`);
  const out: Float32Array[] = [];
  for (let i = 0; existsSync(join(dir, `gumbel_noise_${i}.npy`)); i++) {
    const a = readNpy(join(dir, `gumbel_noise_${i}.npy`));
    if (a.dtype !== 'float32') throw new UserError(`${join(dir, `gumbel_noise_${i}.npy`)}: must be float32, got ${a.dtype}`);
    out.push(a.data as Float32Array);
  }
  if (out.length === 0) throw new UserError(`--gumbel-noise: ${dir} has no gumbel_noise_0.npy`);
  // One per cell: fewer would let the remaining cells draw fresh noise, silently not a replay.
  if (out.length !== cells)
    throw new UserError(`--gumbel-noise: ${dir} has gumbel_noise_0..${out.length - 1}.npy (${out.length} file(s)) but the network has ${cells} cells (MODEL.LAYERS)`);
  return out;
}

function save(dir: string, name: string, t: NativeTensor, written: string[]): void {
  const path = join(dir, `${name}.npy`);
  writeNpy(path, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype === 'int64' ? 'int64' : 'float32' });
  written.push(path);
}

export function register(program: Command): void {
  withConfig(program.command('forward'))
    .description('run one forward pass (eval or train; with --labels also the loss and every gradient) and write .npy files')
    .option('--text_arch <genotype>', 'genotype for MODEL.NAME model')
    .requiredOption('--weights <dir>', 'state_dict directory: one <key>.npy per tensor, loaded strictly; or a binary-weight ResNet\'s .bwn (run as its fp32 twin holding W_b)')
    .requiredOption('--input <npy>', '(B, T, 257) float32 features; TDNN (MODEL.NAME tdnn8m2g): (B, MODEL.IN_FEATS, T) channel-first')
    .requiredOption('--out <dir>', 'output directory')
    .option('--mode <mode>', 'eval (embedding + logits) or train (logits; BN batch statistics)', 'eval')
    .option('--mixing <mixing>', 'search supernet: gumbel (reference) or softmax')
    .option('--gumbel-noise <dir>', 'replay recorded Gumbel noise: gumbel_noise_<i>.npy per cell, in cell order')
    .option('--labels <npy>', '(B,) int64/int32 labels: also write loss.npy and grads/<param>.npy')
    .option('--subnet <D-c0-..-cD-k0-..-kD-cat>', 'TDNN: the subnet to run (default: the largest)')
    .option('--loss-weights <npy>', 'TDNN: the AAM-softmax weight (MODEL.EMBED_DIM, MODEL.NUM_CLASSES) float32')
    .option('--export-subnet <dir>', "TDNN: also write the subnet's standalone clone, one <key>.npy per tensor")
    .option('--json', 'machine-readable summary')
    .action(async (overrides: string[], opts: ForwardOptions) => {
      if (opts.mode !== 'eval' && opts.mode !== 'train') throw new UserError(`--mode must be eval or train, got '${opts.mode}'`);
      if (opts.mixing && opts.mixing !== 'gumbel' && opts.mixing !== 'softmax') throw new UserError(`--mixing must be gumbel or softmax, got '${opts.mixing}'`);
      const cfg = resolveConfig(opts, opts.mixing ? [...overrides, 'MODEL.MIXING', opts.mixing] : overrides);
      if (isTdnnModel(cfg)) {
        for (const [flag, v] of [['--mixing', opts.mixing], ['--gumbel-noise', opts.gumbelNoise], ['--text_arch', opts.text_arch]] as const)
          if (v !== undefined) throw new UserError(`${flag} does not apply to the TDNN supernet (MODEL.NAME ${cfg.MODEL.NAME})`);
        const s = await runTdnnForward(cfg, {
          weights: opts.weights, input: opts.input, out: opts.out, mode: opts.mode, subnet: opts.subnet,
          lossWeights: opts.lossWeights, labels: opts.labels, exportSubnet: opts.exportSubnet,
        });
        emit(s, opts.json, (v) => `subnet ${v.subnet}${v.standalone ? ' (standalone)' : ''}: wrote ${v.files} file(s) to ${v.out}${v.loss !== null ? ` (loss ${v.loss})` : ''}`);
        return;
      }
      for (const [flag, v] of [['--subnet', opts.subnet], ['--loss-weights', opts.lossWeights], ['--export-subnet', opts.exportSubnet]] as const)
        if (v !== undefined) throw new UserError(`${flag} applies to the TDNN supernet only (MODEL.NAME tdnn8m2g), not MODEL.NAME ${cfg.MODEL.NAME}`);
      let model: NativeModel;
      if (isBwnFile(opts.weights)) {
        model = modelFromBwn(cfg, opts.weights).model; // the fp32 twin holding W_b
      } else {
        model = buildModel(cfg, opts.text_arch).model;
        loadWeightsDir(model, opts.weights);
      }
      const x = readNpy(opts.input);
      if (x.dtype !== 'float32' || x.shape.length !== 3) throw new UserError(`${opts.input}: input must be (B, T, F) float32, got ${x.dtype} [${x.shape}]`);
      let labels: BigInt64Array | Int32Array | undefined;
      if (opts.labels) {
        const y = readNpy(opts.labels);
        if ((y.dtype !== 'int64' && y.dtype !== 'int32') || y.shape.length !== 1 || y.shape[0] !== x.shape[0])
          throw new UserError(`${opts.labels}: labels must be (${x.shape[0]},) int64 or int32, got ${y.dtype} [${y.shape}]`);
        labels = y.data as BigInt64Array | Int32Array;
      }
      if (opts.gumbelNoise && model.kind !== 'search') throw new UserError('--gumbel-noise only applies to the search supernet (MODEL.NAME model_search)');
      const r = await model.forward(x.data as Float32Array, x.shape as [number, number, number], {
        mode: opts.mode,
        labels,
        grads: labels !== undefined,
        labelSmoothing: cfg.TRAIN.LABEL_SMOOTHING,
        gumbelNoise: opts.gumbelNoise ? gumbelNoiseFiles(opts.gumbelNoise, cfg.MODEL.LAYERS) : undefined,
      });
      mkdirSync(opts.out, { recursive: true });
      const written: string[] = [];
      if (r.embedding) save(opts.out, 'embedding', r.embedding, written);
      save(opts.out, 'logits', r.logits, written);
      if (r.loss !== undefined) save(opts.out, 'loss', { data: new Float32Array([r.loss]), shape: [], dtype: 'float32' }, written);
      for (const [name, g] of Object.entries(r.grads ?? {})) save(join(opts.out, 'grads'), name, g, written);
      r.mixingWeights?.forEach((w, i) => save(opts.out, `mixing_weights_${i}`, w, written));
      emit({ mode: opts.mode, loss: r.loss ?? null, files: written.length, out: opts.out }, opts.json, (s) =>
        `wrote ${s.files} file(s) to ${s.out}${s.loss !== null ? ` (loss ${s.loss})` : ''}`);
    });
}
