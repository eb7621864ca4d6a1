// `autospeech import --pth <file.pth> --cfg <yaml> [--text_arch G] [--mean-std <dir>] [KEY VALUE ...]
// --out <file.ckpt>`: a reference checkpoint written by torch.save (zip or legacy format, read by
// lib/io/torch_load.ts without Python) as a native checkpoint that evaluate, embed, score, verify
// and TRAIN.INIT_FROM take. It accepts the reference's checkpoint dict (state_dict, epoch,
// optimizer, genotype, best_acc1 / best_eer, path_helper) or a bare state_dict. The DataParallel
// prefix 'module.' is stripped when every key carries it (--keep-module-prefix keeps it). Every key,
// shape and dtype must match the configured network, else the error lists the missing, unexpected
// and mismatched keys. The optimizer state is parsed and dropped: the checkpoint records no
// optimizer, schedule or sampler position, so it cannot be --resume'd; fine-tuning starts from it
// with TRAIN.INIT_FROM <file.ckpt> and a fresh optimizer. For EfficientTDNN (a tdnn --cfg) --pth is
// a supernet state_dict (the released .torchparams) and `--bn <file.bn.tar>` (a released subnet BN
// file: {'subnet': (depth, channels, kernels, cat), 'bn': BN tensors by module name, nested or
// dotted}) makes the checkpoint that subnet, cloned as `tdnn` does, with those BN tensors.
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
import { type Subnet, checkSubnet, formatSubnet, parseSubnet, supernetDims } from '../tdnn/subnet.ts';
import { cloneSubnet } from '../tdnn/subnet_model.ts';
import { type CheckpointTensor, saveCheckpoint } from '../run/checkpoint.ts';
import { emit } from './output.ts';

interface ImportOptions { pth: string; cfg: string; text_arch?: string; meanStd?: string; bn?: string; out: string; keepModulePrefix?: boolean; json?: boolean }

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

/** A released EfficientTDNN subnet BN file ({'subnet': (depth, channels, kernels, cat), 'bn': ...}): its subnet and BN tensors by clone key. */
export function subnetBnOf(value: unknown, where: string): { subnet: Subnet; bn: Map<string, TorchTensor> } {
  if (!(value instanceof Map) || !value.has('subnet') || !value.has('bn')) throw new UserError(`${where}: not a subnet BN file (a dict with 'subnet' and 'bn')`);
  const cfg = value.get('subnet');
  const isInts = (v: unknown) => Array.isArray(v) && v.every((x) => typeof x === 'number' && Number.isInteger(x));
  let subnet: Subnet;
  if (typeof cfg === 'string') subnet = parseSubnet(cfg.replace(/\./g, '-'), `${where}: 'subnet'`);
  else if (Array.isArray(cfg) && cfg.length === 4 && typeof cfg[0] === 'number' && isInts(cfg[1]) && isInts(cfg[2]) && typeof cfg[3] === 'number')
    subnet = { depth: cfg[0], channels: [...cfg[1] as number[]], kernels: [...cfg[2] as number[]], cat: cfg[3] };
  else if (isInts(cfg)) subnet = parseSubnet((cfg as number[]).join('-'), `${where}: 'subnet'`);
  else throw new UserError(`${where}: 'subnet' is ${describe(cfg)}, not (depth, channels, kernels, cat)`);
  const bn = new Map<string, TorchTensor>();
  const walk = (v: unknown, prefix: string) => {
    if (isTorchTensor(v)) { bn.set(prefix, v); return; }
    if (!(v instanceof Map)) throw new UserError(`${where}: bn['${prefix}'] is ${describe(v)}, not a tensor or a dict of them`);
    for (const [k, x] of v) walk(x, prefix ? `${prefix}.${String(k)}` : String(k));
  };
  walk(value.get('bn'), '');
  return { subnet, bn };
}

export function register(program: Command): void {
  program
    .command('import')
    .description("a reference checkpoint written by torch.save (.pth: zip or legacy format, read without Python) as a native checkpoint for evaluate, embed, score, verify and TRAIN.INIT_FROM")
    .requiredOption('--pth <file>', "the torch.save file: the reference's checkpoint dict (state_dict, epoch, optimizer, genotype, ...) or a bare state_dict")
    .requiredOption('--cfg <yaml>', 'the config of the network it holds (MODEL.NAME, dims)')
    .option('--text_arch <genotype>', "a derived network's genotype (default: the checkpoint's 'genotype')")
    .option('--mean-std <dir>', "a directory with the training set's mean.npy and std.npy, recorded in the checkpoint for embed / verify / score")
    .option('--bn <file.bn.tar>', "EfficientTDNN: a released subnet BN file; the checkpoint then holds that subnet cloned from the supernet of --pth with these BN tensors")
    .option('--keep-module-prefix', "keep a DataParallel 'module.' prefix on every key (default: strip it)")
    .requiredOption('--out <file.ckpt>', 'the native checkpoint to write (atomically)')
    .option('--json', 'machine-readable summary')
    .argument('[opts...]', 'KEY VALUE config overrides')
    .action(async (overrides: string[], opts: ImportOptions) => {
      if (resolve(opts.out) === resolve(opts.pth)) throw new UserError('--out must not be the --pth file');
      const cfg: Config = loadConfig(opts.cfg, overrides);
      const norm = opts.meanStd ? readMeanStd(opts.meanStd, '--mean-std') : null;
      if (opts.bn && !isTdnnModel(cfg)) throw new UserError(`--bn is for EfficientTDNN (a tdnn config), --cfg ${opts.cfg} has MODEL.NAME ${cfg.MODEL.NAME}`);
      const read = (path: string, flag: string) => {
        try {
          return loadTorchFile(path);
        } catch (err) {
          if (err instanceof TorchLoadError) throw new UserError(`${flag} ${err.message}`);
          throw err;
        }
      };
      const file = read(opts.pth, '--pth');
      const bnFile = opts.bn ? subnetBnOf(read(opts.bn, '--bn').value, `--bn ${opts.bn}`) : null;
      const sd = stateDictOf(file.value, `--pth ${opts.pth}`, !opts.keepModulePrefix);
      const textArch = cfg.MODEL.NAME === 'model' ? opts.text_arch ?? sd.genotype : undefined;
      if (cfg.MODEL.NAME === 'model' && !textArch) throw new UserError(`--pth ${opts.pth} holds no genotype (a train_verification checkpoint?): pass --text_arch`);
      const { model } = buildModel(cfg, textArch);
      const expected = model.stateDict();
      const diff = stateDictDiff(expected, sd.tensors);
      if (diff) throw new UserError(`--pth ${opts.pth} does not match the network of --cfg ${opts.cfg} (MODEL.NAME ${cfg.MODEL.NAME}${textArch ? ', its genotype' : ''})${sd.strippedPrefix ? " after stripping 'module.'" : ''}:\n${diff}`);
      loadWeights(model, sd.tensors, `--pth ${opts.pth}`);
      let net = model;
      if (bnFile) {
        checkSubnet(bnFile.subnet, supernetDims(cfg), `--bn ${opts.bn}: its subnet`);
        net = await cloneSubnet(cfg, model, bnFile.subnet);
        const clone = net.stateDict();
        const bnModules = new Set(clone.filter((e) => e.name.endsWith('.running_mean')).map((e) => e.name.slice(0, -'.running_mean'.length)));
        const bnKeys = clone.filter((e) => bnModules.has(e.name.slice(0, e.name.lastIndexOf('.'))));
        const bnDiff = stateDictDiff(bnKeys, bnFile.bn);
        if (bnDiff) throw new UserError(`--bn ${opts.bn} does not match the BatchNorms of subnet ${formatSubnet(bnFile.subnet)} cloned from --pth ${opts.pth}:\n${bnDiff}`);
        const full = new Map<string, TorchTensor>();
        for (const e of clone) { const t = net.getTensor(e.name); full.set(e.name, bnFile.bn.get(e.name) ?? { data: t.data as NpyData, shape: t.shape, dtype: t.dtype as NpyDType }); }
        loadWeights(net, full, `--bn ${opts.bn}`);
      }
      const tensors = new Map<string, CheckpointTensor>();
      for (const e of net.stateDict()) {
        const t = net.getTensor(e.name);
        tensors.set(`model/${e.name}`, { data: t.data as NpyData, shape: t.shape, dtype: t.dtype as NpyDType });
      }
      if (norm) {
        tensors.set('norm/mean', { data: norm.mean, shape: [norm.mean.length], dtype: 'float32' });
        tensors.set('norm/std', { data: norm.std, shape: [norm.std.length], dtype: 'float32' });
      }
      const imported = {
        from: resolve(opts.pth), format: file.format, sha256: createHash('sha256').update(readFileSync(opts.pth)).digest('hex'),
        strippedModulePrefix: sd.strippedPrefix > 0, optimizer: sd.optimizer, best: sd.best ?? null, ignored: sd.other,
        ...(bnFile ? { bn: resolve(opts.bn!), subnet: formatSubnet(bnFile.subnet) } : {}),
      };
      const meta = {
        kind: isTdnnModel(cfg) ? 'tdnn' : 'import', epoch: sd.epoch ?? 0, stepInEpoch: 0, globalStep: 0, best: sd.best?.value ?? null,
        batchers: {}, genotype: textArch, history: [], config: configToYaml(cfg), imported,
      };
      saveCheckpoint(opts.out, { meta, tensors });
      emit({ out: opts.out, format: file.format, tensors: tensors.size - (norm ? 2 : 0), subnet: bnFile ? formatSubnet(bnFile.subnet) : null, strippedModulePrefix: sd.strippedPrefix, epoch: sd.epoch ?? null, optimizer: sd.optimizer, genotype: textArch ?? null, norm: !!norm },
        opts.json, (r) => [
          `wrote ${r.out}: ${r.tensors} tensors of ${cfg.MODEL.NAME}${r.subnet ? ` subnet ${r.subnet} (with the BN tensors of ${opts.bn})` : ''} from a ${r.format}-format torch.save file${r.epoch !== null ? ` (epoch ${r.epoch})` : ''}`,
          ...(r.strippedModulePrefix ? [`stripped the DataParallel prefix 'module.' from ${r.strippedModulePrefix} keys`] : []),
          ...(r.optimizer === 'skipped' ? ['the optimizer state was read and dropped: fine-tune with TRAIN.INIT_FROM (a fresh optimizer); an import cannot be --resume\'d'] : []),
          ...(r.norm || isTdnnModel(cfg) ? [] : ['no feature normalisation recorded: embed / verify / score need --mean-std (or pass --mean-std to import)']),
        ].join('\n'));
    });
}
