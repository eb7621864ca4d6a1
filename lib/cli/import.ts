// `autospeech import --pth <file.pth> --cfg <yaml> [--text_arch G] [--mean-std <dir>] [KEY VALUE ...]
// --out <file.ckpt>`: a reference checkpoint written by torch.save (zip or legacy format, read by
// lib/io/torch_load.ts without Python) as a native checkpoint that evaluate, embed, score, verify
// and TRAIN.INIT_FROM take. It accepts the reference's checkpoint dict (state_dict, epoch,
// optimizer, genotype, best_acc1 / best_eer, path_helper) or a bare state_dict. The DataParallel
// prefix 'module.' is stripped when every key carries it (--keep-module-prefix keeps it). Every key,
// shape and dtype must match the configured network, else the error lists the missing, unexpected
// and mismatched keys. The optimizer state is parsed and dropped: the checkpoint records no
// optimizer, schedule or sampler position, so it cannot be --resume'd; fine-tuning starts from it
// with TRAIN.INIT_FROM <file.ckpt> and a fresh optimizer.
import type { Command } from 'commander';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { type Config, configToYaml, loadConfig } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { formatGenotype } from '../genotype/format.ts';
import type { Gene } from '../genotype/types.ts';
import { readMeanStd } from '../infer/load_model.ts';
import type { NpyData, NpyDType } from '../io/npy.ts';
import { describe } from '../io/pickle.ts';
import { PyObject, PyRange, TorchLoadError, isTorchTensor, loadTorchFile } from '../io/torch_load.ts';
import type { TorchTensor } from '../io/torch_save.ts';
import { buildModel } from '../models/build.ts';
import { isTdnnModel } from '../models/spec.ts';
import { loadWeights } from '../models/weights.ts';
import { type CheckpointTensor, saveCheckpoint } from '../run/checkpoint.ts';
import { emit } from './output.ts';

interface ImportOptions { pth: string; cfg: string; text_arch?: string; meanStd?: string; out: string; keepModulePrefix?: boolean; json?: boolean }

export interface ImportedStateDict {
  tensors: Map<string, TorchTensor>;
  /** what the checkpoint dict held besides the state_dict */
  epoch?: number;
  best?: { key: string; value: number };
  genotype?: string;
  optimizer: 'none' | 'skipped';
  strippedPrefix: number;
  other: string[];
}

/** The Genotype namedtuple of a reference checkpoint as the --text_arch string (its Python repr). */
export function genotypeText(g: unknown, where: string): string {
  if (!(g instanceof PyObject) || g.args.length !== 4) throw new UserError(`${where}: 'genotype' is ${describe(g)}, not a Genotype(normal, normal_concat, reduce, reduce_concat)`);
  const genes = (v: unknown, what: string): Gene[] => {
    if (!Array.isArray(v) || !v.every((x) => Array.isArray(x) && x.length === 2 && typeof x[0] === 'string' && typeof x[1] === 'number'))
      throw new UserError(`${where}: genotype.${what} is not a list of (op, input) pairs`);
    return v.map((x) => [x[0], x[1]] as Gene);
  };
  const concat = (v: unknown, what: string): { values: number[]; style: 'range' | 'list' } => {
    if (v instanceof PyRange) return { values: v.values(), style: 'range' };
    if (Array.isArray(v) && v.every((x) => typeof x === 'number')) return { values: [...v] as number[], style: 'list' };
    throw new UserError(`${where}: genotype.${what} is ${describe(v)}, not a range or a list of ints`);
  };
  const nc = concat(g.args[1], 'normal_concat'), rc = concat(g.args[3], 'reduce_concat');
  return formatGenotype({ normal: genes(g.args[0], 'normal'), normalConcat: nc.values, reduce: genes(g.args[2], 'reduce'), reduceConcat: rc.values, concatStyle: { normal: nc.style, reduce: rc.style } });
}

const isStateDict = (v: unknown): v is Map<string, unknown> => v instanceof Map && v.size > 0 && [...v.values()].every(isTorchTensor);

/** The state_dict of a loaded torch.save object, and what else the reference's checkpoint dict held. */
export function stateDictOf(value: unknown, where: string, stripModule = true): ImportedStateDict {
  let sd: Map<string, unknown>;
  const out: Omit<ImportedStateDict, 'tensors'> = { optimizer: 'none', strippedPrefix: 0, other: [] };
  if (value instanceof Map && value.has('state_dict')) {
    const s = value.get('state_dict');
    if (!(s instanceof Map)) throw new UserError(`${where}: 'state_dict' is ${describe(s)}, not a dict of tensors`);
    sd = s;
    for (const [k, v] of value) {
      if (k === 'state_dict') continue;
      if (k === 'epoch' && typeof v === 'number') out.epoch = v;
      else if (k === 'genotype') out.genotype = genotypeText(v, where);
      else if (k === 'optimizer') out.optimizer = 'skipped';
      else if ((k === 'best_acc1' || k === 'best_eer') && (typeof v === 'number' || (isTorchTensor(v) && v.data.length === 1 && v.data instanceof Float32Array)))
        out.best = { key: k, value: typeof v === 'number' ? v : (v.data as Float32Array)[0] };
      else out.other.push(String(k));
    }
  } else if (isStateDict(value)) sd = value;
  else if (value instanceof Map) throw new UserError(`${where}: neither a state_dict nor a checkpoint dict with 'state_dict' (its keys: ${[...value.keys()].slice(0, 8).join(', ')})`);
  else throw new UserError(`${where}: holds ${describe(value)}, not a state_dict or a checkpoint dict`);
  const tensors = new Map<string, TorchTensor>();
  for (const [k, v] of sd) {
    if (typeof k !== 'string') throw new UserError(`${where}: a state_dict key ${String(k)} is not a string`);
    if (!isTorchTensor(v)) throw new UserError(`${where}: state_dict['${k}'] is ${describe(v)}, not a tensor`);
    tensors.set(k, v);
  }
  const keys = [...tensors.keys()];
  if (stripModule && keys.length && keys.every((k) => k.startsWith('module.'))) {
    const stripped = new Map<string, TorchTensor>();
    for (const [k, v] of tensors) stripped.set(k.slice('module.'.length), v);
    return { ...out, tensors: stripped, strippedPrefix: keys.length };
  }
  return { ...out, tensors };
}

const sameShape = (model: number[], file: number[]) =>
  model.length === 0 ? file.length === 0 || (file.length === 1 && file[0] === 1) : model.length === file.length && model.every((d, i) => d === file[i]);

/** Every difference between a state_dict and a network's, one line per kind; '' when they match. */
export function stateDictDiff(expected: { name: string; shape: number[]; dtype: string }[], got: Map<string, TorchTensor>): string {
  const names = new Set(expected.map((e) => e.name));
  const missing = expected.filter((e) => !got.has(e.name)).map((e) => `${e.name} [${e.shape}]`);
  const unexpected = [...got].filter(([k]) => !names.has(k)).map(([k, t]) => `${k} [${t.shape}]`);
  const shape: string[] = [], dtype: string[] = [];
  for (const e of expected) {
    const t = got.get(e.name);
    if (!t) continue;
    if (!sameShape(e.shape, t.shape)) shape.push(`${e.name}: [${t.shape}] in the file, [${e.shape}] in the network`);
    else if (t.dtype !== e.dtype) dtype.push(`${e.name}: ${t.dtype} in the file, ${e.dtype} in the network`);
  }
  const list = (what: string, items: string[]) => items.length ? [`  ${items.length} ${what}: ${items.slice(0, 12).join('; ')}${items.length > 12 ? `; ... (${items.length} in all)` : ''}`] : [];
  return [...list('missing', missing), ...list('unexpected', unexpected), ...list('with another shape', shape), ...list('with another dtype', dtype)].join('\n');
}

export function register(program: Command): void {
  program
    .command('import')
    .description("a reference checkpoint written by torch.save (.pth: zip or legacy format, read without Python) as a native checkpoint for evaluate, embed, score, verify and TRAIN.INIT_FROM")
    .requiredOption('--pth <file>', "the torch.save file: the reference's checkpoint dict (state_dict, epoch, optimizer, genotype, ...) or a bare state_dict")
    .requiredOption('--cfg <yaml>', 'the config of the network it holds (MODEL.NAME, dims)')
    .option('--text_arch <genotype>', "a derived network's genotype (default: the checkpoint's 'genotype')")
    .option('--mean-std <dir>', "a directory with the training set's mean.npy and std.npy, recorded in the checkpoint for embed / verify / score")
    .option('--keep-module-prefix', "keep a DataParallel 'module.' prefix on every key (default: strip it)")
    .requiredOption('--out <file.ckpt>', 'the native checkpoint to write (atomically)')
    .option('--json', 'machine-readable summary')
    .argument('[opts...]', 'KEY VALUE config overrides')
    .action((overrides: string[], opts: ImportOptions) => {
      if (resolve(opts.out) === resolve(opts.pth)) throw new UserError('--out must not be the --pth file');
      const cfg: Config = loadConfig(opts.cfg, overrides);
      const norm = opts.meanStd ? readMeanStd(opts.meanStd, '--mean-std') : null;
      let file;
      try {
        file = loadTorchFile(opts.pth);
      } catch (err) {
        if (err instanceof TorchLoadError) throw new UserError(`--pth ${err.message}`);
        throw err;
      }
      const sd = stateDictOf(file.value, `--pth ${opts.pth}`, !opts.keepModulePrefix);
      const textArch = cfg.MODEL.NAME === 'model' ? opts.text_arch ?? sd.genotype : undefined;
      if (cfg.MODEL.NAME === 'model' && !textArch) throw new UserError(`--pth ${opts.pth} holds no genotype (a train_verification checkpoint?): pass --text_arch`);
      const { model } = buildModel(cfg, textArch);
      const expected = model.stateDict();
      const diff = stateDictDiff(expected, sd.tensors);
      if (diff) throw new UserError(`--pth ${opts.pth} does not match the network of --cfg ${opts.cfg} (MODEL.NAME ${cfg.MODEL.NAME}${textArch ? ', its genotype' : ''})${sd.strippedPrefix ? " after stripping 'module.'" : ''}:\n${diff}`);
      loadWeights(model, sd.tensors, `--pth ${opts.pth}`);
      const tensors = new Map<string, CheckpointTensor>();
      for (const e of expected) {
        const t = model.getTensor(e.name);
        tensors.set(`model/${e.name}`, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype as NpyDType });
      }
      if (norm) {
        tensors.set('norm/mean', { data: norm.mean, shape: [norm.mean.length], dtype: 'float32' });
        tensors.set('norm/std', { data: norm.std, shape: [norm.std.length], dtype: 'float32' });
      }
      const imported = {
        from: resolve(opts.pth), format: file.format, sha256: createHash('sha256').update(readFileSync(opts.pth)).digest('hex'),
        strippedModulePrefix: sd.strippedPrefix > 0, optimizer: sd.optimizer, best: sd.best ?? null, ignored: sd.other,
      };
      const meta = {
        kind: isTdnnModel(cfg) ? 'tdnn' : 'import', epoch: sd.epoch ?? 0, stepInEpoch: 0, globalStep: 0, best: sd.best?.value ?? null,
        batchers: {}, genotype: textArch, history: [], config: configToYaml(cfg), imported,
      };
      saveCheckpoint(opts.out, { meta, tensors });
      emit({ out: opts.out, format: file.format, tensors: expected.length, strippedModulePrefix: sd.strippedPrefix, epoch: sd.epoch ?? null, optimizer: sd.optimizer, genotype: textArch ?? null, norm: !!norm },
        opts.json, (r) => [
          `wrote ${r.out}: ${r.tensors} tensors of ${cfg.MODEL.NAME} from a ${r.format}-format torch.save file${r.epoch !== null ? ` (epoch ${r.epoch})` : ''}`,
          ...(r.strippedModulePrefix ? [`stripped the DataParallel prefix 'module.' from ${r.strippedModulePrefix} keys`] : []),
          ...(r.optimizer === 'skipped' ? ['the optimizer state was read and dropped: fine-tune with TRAIN.INIT_FROM (a fresh optimizer); an import cannot be --resume\'d'] : []),
          ...(r.norm ? [] : ['no feature normalisation recorded: embed / verify / score need --mean-std (or pass --mean-std to import)']),
        ].join('\n'));
    });
}
