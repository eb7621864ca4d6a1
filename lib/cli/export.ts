// `autospeech export --load_path <ckpt> --out <file> [--format state_dict|pth|bwn]`: a checkpoint's
// model weights as a PyTorch state_dict file (state_dict names are already the reference's), for a
// binary-weight ResNet also with the binary weights materialised (pth: W_b = alpha * s in place of
// each latent weight, loadable into a plain ResNet) or as the compact .bwn file (lib/bnn/format.ts);
// `--format npy --out <dir>` writes one <key>.npy per state_dict tensor instead (the weights-directory
// format of forward --weights, tdnn --weights and embed --load_path).
import type { Command } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';

import { materialisedStateDict, writeBwn } from '../bnn/format.ts';
import { loadConfig } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { saveTorchStateDict, type TorchTensor } from '../io/torch_save.ts';
import type { NpyDType } from '../io/npy.ts';
import { buildModel } from '../models/build.ts';
import { isBwnModel, modelSpecFromConfig } from '../models/spec.ts';
import { loadWeights, modelTensorsOf, readWeightsDir, saveTensorDir } from '../models/weights.ts';
import { runDirModelFile } from '../run/checkpoint_arg.ts';
import { loadCheckpoint } from '../run/checkpoint.ts';
import { emit } from './output.ts';

interface ExportOptions { load_path?: string; weights?: string; out: string; format: string; cfg?: string; withClassifier?: boolean; json?: boolean }

/** --load_path: a checkpoint file, or a run directory's model checkpoint (runDirModelFile). */
function checkpointOf(path: string): string {
  if (!existsSync(path)) throw new UserError(`--load_path ${path}: no such file or directory`, 2);
  return statSync(path).isDirectory() ? runDirModelFile(path, '--load_path') : path;
}

const FORMATS = ['state_dict', 'npy', 'pth', 'bwn'];

export function register(program: Command): void {
  program
    .command('export')
    .description("write a checkpoint's weights as a .pth that torch.load + load_state_dict(strict=True) accepts on the reference model; binary-weight nets also with W_b materialised (pth) or as a .bwn")
    .option('--load_path <ckpt>', 'a .ckpt of a run, or its run directory (its Model/checkpoint_best.ckpt, else last.ckpt, as embed takes it)')
    .option('--weights <dir>', 'instead of --load_path: a state_dict directory (one <key>.npy per tensor), with --cfg')
    .requiredOption('--out <path>', 'output file (a directory for npy)')
    .option('--format <f>', "state_dict: the checkpoint's tensors as they are (latent weights of a BWN) in a torch.save file; npy: the same as a directory of <key>.npy; pth: W_b = alpha * s in place of each binarised weight; bwn: the packed .bwn file", 'state_dict')
    .option('--cfg <yaml>', "pth/bwn: the run's config (default: config.yaml of the checkpoint's run dir)")
    .option('--with-classifier', 'bwn: also store the fp32 classifier (identification)')
    .option('--json', 'machine-readable summary')
    .argument('[opts...]', 'pth/bwn: KEY VALUE config overrides')
    .action((overrides: string[], opts: ExportOptions) => {
      if (!FORMATS.includes(opts.format)) throw new UserError(`--format must be one of ${FORMATS.join(', ')}, got '${opts.format}'`);
      if ((opts.load_path === undefined) === (opts.weights === undefined)) throw new UserError('export needs one of --load_path <ckpt> or --weights <state_dict dir>', 2);
      if (opts.weights !== undefined && !opts.cfg) throw new UserError(`--weights ${opts.weights}: a state_dict directory says nothing of its network: pass --cfg <yaml>`, 2);
      const source = (opts.load_path ?? opts.weights)!;
      const ckptFile = opts.load_path !== undefined ? checkpointOf(opts.load_path) : undefined;
      const ckpt = ckptFile !== undefined ? loadCheckpoint<{ epoch?: number; globalStep?: number; kind?: string }>(ckptFile) : undefined;
      const tensors = ckpt ? modelTensorsOf(ckpt.tensors) : readWeightsDir(opts.weights!);
      if (tensors.size === 0) throw new UserError(`${source} holds no model tensors`);
      if (opts.format === 'state_dict' || opts.format === 'npy') {
        if (opts.withClassifier || (opts.cfg && !opts.weights) || overrides.length) throw new UserError('--with-classifier, --cfg and overrides are for --format pth or bwn');
        if (opts.format === 'npy') saveTensorDir(tensors, opts.out);
        else saveTorchStateDict(opts.out, [...tensors].map(([name, t]) => [name, t as TorchTensor]));
        emit({ out: opts.out, format: opts.format, tensors: tensors.size, source: ckptFile ?? source }, opts.json, (r) => `wrote ${r.tensors} tensors of ${r.source} to ${r.out}${r.format === 'npy' ? '/' : ''}`);
        return;
      }
      const runDir = ckptFile !== undefined ? resolve(dirname(ckptFile), '..') : resolve(opts.weights!);
      const cfgPath = opts.cfg ?? join(runDir, 'config.yaml');
      if (!existsSync(cfgPath)) throw new UserError(`--format ${opts.format} needs the run's config: ${cfgPath} does not exist (pass --cfg)`);
      const cfg = loadConfig(cfgPath, overrides);
      if (!isBwnModel(cfg)) throw new UserError(`--format ${opts.format} is for binary-weight ResNets (MODEL.NAME resnet18_bwn / resnet34_bwn); ${cfgPath} has MODEL.NAME ${cfg.MODEL.NAME}`);
      const { model } = buildModel(cfg);
      loadWeights(model, tensors, source);
      if (opts.format === 'pth') {
        if (opts.withClassifier) throw new UserError('--with-classifier is for --format bwn (a .pth always holds the classifier)');
        const sd = materialisedStateDict(model);
        saveTorchStateDict(opts.out, [...sd].map(([name, t]) => [name, { data: t.data, shape: t.shape, dtype: t.dtype as NpyDType }]));
        emit({ out: opts.out, format: opts.format, tensors: sd.size, materialised: model.binaryLayers().length }, opts.json,
          (r) => `wrote ${r.tensors} tensors to ${r.out} (${r.materialised} binarised weights as W_b = alpha * s)`);
        return;
      }
      const run = ckpt ? { id: basename(runDir), checkpoint: basename(ckptFile!), kind: ckpt.meta.kind, epoch: ckpt.meta.epoch, globalStep: ckpt.meta.globalStep } : { id: basename(runDir), weights: source };
      const r = writeBwn(opts.out, model, modelSpecFromConfig(cfg), { withClassifier: !!opts.withClassifier, run, arch: cfg.MODEL.NAME });
      emit({ out: r.file, format: opts.format, bytes: r.bytes, headerBytes: r.headerBytes, payloadBytes: r.payloadBytes, dataBytes: r.dataBytes, paddingBytes: r.paddingBytes, tensors: r.tensors, withClassifier: !!opts.withClassifier },
        opts.json, (x) => `wrote ${x.out}: ${x.bytes} bytes (header ${x.headerBytes}, tensors ${x.dataBytes}, alignment ${x.paddingBytes}), ${x.tensors} tensors${x.withClassifier ? ' with the classifier' : ''}`);
    });
}
