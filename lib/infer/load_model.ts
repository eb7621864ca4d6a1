// `--load_path` to an Embedder. The path is inspected once (a run directory becomes its checkpoint,
// a checkpoint is read and verified, a directory of .npy files is read as a state_dict, any other
// file is left to the loaders by name), then the first loader that accepts it builds the model.
// A new kind of model file (e.g. a single-file .bwn bundle) plugs in as one more ModelLoader in
// LOADERS (or through registerModelLoader) and is then taken by embed, verify and score alike.
//   autospeech checkpoint  .ckpt of train / train-baseline (or its run dir): config, genotype and
//                          mean/std recorded in the checkpoint (older ones: the run's config.yaml
//                          and the store of its DATASET.DATA_DIR), --cfg / --text_arch / --mean-std
//                          override
//   tdnn checkpoint        .ckpt of tdnn train (or its run dir): the supernet, cloned to --subnet
//                          (default the largest); MODEL dims from the recorded config or --cfg
//   tdnn state_dict        a .npy directory holding a clone (tdnn search --export, forward
//                          --export-subnet) or a supernet (+ --subnet); MODEL dims from --cfg
//   autospeech state_dict  a .npy directory (export --format npy) with --cfg (+ --text_arch) and --mean-std
//   bwn                    a binary-weight ResNet .bwn file (export --format bwn) with --cfg (the
//                          run's config: network, window length; --mean-std or its training store)
import { closeSync, existsSync, openSync, readSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

import { type Config, loadConfig, loadConfigText } from '../config/index.ts';
import { BINS } from '../data/features.ts';
import { UserError } from '../errors.ts';
import type { NpyArray } from '../io/npy.ts';
import { readNpy } from '../io/npy.ts';
import { storeDir } from '../job/data.ts';
import type { JobMeta } from '../job/job.ts';
import type { NativeModel } from '../native.ts';
import { buildModel } from '../models/build.ts';
import { isTdnnModel } from '../models/spec.ts';
import { loadWeights, modelTensorsOf, readWeightsDir } from '../models/weights.ts';
import { type Checkpoint, loadCheckpoint } from '../run/checkpoint.ts';
import { runDirModelFile } from '../run/checkpoint_arg.ts';
import { isBwnFile, modelFromBwn } from '../bnn/load.ts';
import { isStandaloneState } from '../tdnn/forward.ts';
import { formatSubnet, supernetDims } from '../tdnn/subnet.ts';
import { loadSubnetModel } from '../tdnn/subnet_model.ts';
import { AutoSpeechEmbedder, type Norm } from './autospeech_embedder.ts';
import type { Embedder, ModelInfo, RecordedThreshold } from './embedder.ts';
import { TdnnEmbedder } from './tdnn_embedder.ts';

export interface LoadOptions {
  /** a config YAML that replaces the recorded one (MODEL dims, DATASET.PARTIAL_N_FRAMES, EVAL.MAX_BATCH) */
  cfg?: string;
  /** the genotype of a derived network (default: the checkpoint's) */
  textArch?: string;
  /** a TDNN subnet of a supernet (default: the largest) */
  subnet?: string;
  /** a directory with mean.npy / std.npy (default: the checkpoint's, else the training store's) */
  meanStd?: string;
}

/** A --load_path as inspected: what was found there. */
export interface ModelSource {
  /** as given */
  path: string;
  /** the file or directory read (a run directory's checkpoint) */
  file: string;
  checkpoint?: Checkpoint<Partial<JobMeta>>;
  stateDict?: Map<string, NpyArray>;
}

export interface ModelLoader {
  name: string;
  /** what it reads, for the error that lists the kinds */
  reads: string;
  accepts(src: ModelSource, opts: LoadOptions): boolean;
  load(src: ModelSource, opts: LoadOptions): Promise<Embedder>;
}

const CKPT_MAGIC = 'ASCKPT01';

function hasCheckpointMagic(file: string): boolean {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(8);
    return readSync(fd, b, 0, 8, 0) === 8 && b.toString('latin1') === CKPT_MAGIC;
  } finally {
    closeSync(fd);
  }
}

export function inspectModelPath(path: string): ModelSource {
  if (!existsSync(path)) throw new UserError(`--load_path ${path}: no such file or directory`);
  if (statSync(path).isDirectory()) {
    const model = join(path, 'Model');
    if (existsSync(model) && statSync(model).isDirectory()) {
      const file = runDirModelFile(path, '--load_path');
      return { path, file, checkpoint: loadCheckpoint(file) };
    }
    if (readdirSync(path).some((f) => f.endsWith('.npy'))) return { path, file: path, stateDict: readWeightsDir(path) };
    return { path, file: path };
  }
  if (hasCheckpointMagic(path)) return { path, file: path, checkpoint: loadCheckpoint(path) };
  return { path, file: path };
}

/** The config of a checkpoint: --cfg, else the one it records, else its run's config.yaml. */
function checkpointConfig(src: ModelSource, opts: LoadOptions): Config | null {
  if (opts.cfg) return loadConfig(opts.cfg);
  const recorded = src.checkpoint?.meta.config;
  if (typeof recorded === 'string') return loadConfigText(recorded, `${src.file} (its recorded config)`);
  const runConfig = join(dirname(src.file), '..', 'config.yaml');
  if (src.checkpoint && existsSync(runConfig)) return loadConfig(runConfig);
  return null;
}

function requireConfig(src: ModelSource, opts: LoadOptions): Config {
  const cfg = checkpointConfig(src, opts);
  if (!cfg) throw new UserError(`--load_path ${src.path}: no config recorded in it or next to it (../config.yaml): pass --cfg <yaml>`);
  return cfg;
}

/** The EER threshold of the last verification evaluation a checkpoint's history records. */
export function recordedThreshold(src: ModelSource): RecordedThreshold | { none: string } {
  const history = (src.checkpoint?.meta.history ?? []) as Record<string, unknown>[];
  const last = [...history].reverse().find((r) => typeof r.valid_eer === 'number');
  if (!src.checkpoint) return { none: `${src.file} is not a checkpoint: it records no verification evaluation` };
  if (!last) return { none: `${src.file} records no verification evaluation (${src.checkpoint.meta.kind ?? 'this'} run validated ${history.length ? 'identification only' : 'nothing'})` };
  if (typeof last.valid_eer_threshold !== 'number')
    return { none: `${src.file} records verification EERs but no threshold (written before thresholds were recorded; \`autospeech evaluate verification\` prints one)` };
  return {
    value: last.valid_eer_threshold,
    source: `${src.file}: the EER threshold of its last verification evaluation (epoch ${last.epoch}, EER ${(100 * (last.valid_eer as number)).toFixed(2)} %)`,
  };
}

export function readMeanStd(dir: string, what: string): Norm {
  const load = (name: string) => {
    const f = join(dir, name);
    if (!existsSync(f)) throw new UserError(`${what}: ${f} not found`);
    const a = readNpy(f);
    if (a.dtype !== 'float32' || a.data.length !== BINS) throw new UserError(`${f}: expected ${BINS} float32 values, got ${a.dtype} [${a.shape}]`);
    return a.data as Float32Array;
  };
  return { mean: load('mean.npy'), std: load('std.npy') };
}

/** The features' normalisation: --mean-std, the checkpoint's, DATASET.MEAN_STD, the training store's. */
function normOf(src: ModelSource, cfg: Config, opts: LoadOptions): Norm {
  if (opts.meanStd) return readMeanStd(opts.meanStd, '--mean-std');
  const mean = src.checkpoint?.tensors.get('norm/mean'), std = src.checkpoint?.tensors.get('norm/std');
  if (mean && std) return { mean: mean.data as Float32Array, std: std.data as Float32Array };
  if (cfg.DATASET.MEAN_STD) return readMeanStd(cfg.DATASET.MEAN_STD, 'DATASET.MEAN_STD');
  const store = cfg.DATASET.DATA_DIR ? storeDir(cfg) : '';
  if (store && existsSync(join(store, 'mean.npy'))) return readMeanStd(store, `the training store ${store}`);
  throw new UserError(`--load_path ${src.path}: no feature normalisation recorded${store ? ` and none in the training store ${store}` : ''}: pass --mean-std <dir with the training set's mean.npy and std.npy>`);
}

/** The ModelInfo fields a loader knows (the embedder adds family, description and protocol). */
export type LoadedInfo = Omit<ModelInfo, 'family' | 'description' | 'protocol'>;

function paramsOf(model: NativeModel): ModelInfo['params'] {
  const c = model.paramCounts();
  return { total: c.total, trainable: c.trainable };
}

/** An AutoSpeech network's embedding size: the input width of its linear classifier. */
function classifierInput(model: NativeModel, src: ModelSource): number {
  const w = model.stateDict().find((e) => e.name === 'classifier.weight');
  if (!w || w.shape.length !== 2) throw new UserError(`--load_path ${src.path}: the network has no 2-D classifier.weight to take the embedding size from`);
  return w.shape[1];
}

function autoSpeechInfo(src: ModelSource, cfg: Config, model: NativeModel, format: string, genotype: string | null, threshold: RecordedThreshold | { none: string }): LoadedInfo {
  return {
    kind: model.kind, name: cfg.MODEL.NAME, format, file: src.file, binary: format === 'bwn' || model.binaryLayers().length > 0, // a .bwn runs as its fp32 twin holding W_b
    dims: { embedding: classifierInput(model, src), features: BINS, window: cfg.DATASET.PARTIAL_N_FRAMES },
    params: paramsOf(model), genotype, subnet: null, threshold: 'value' in threshold ? threshold.value : null,
  };
}

function autoSpeechEmbedder(src: ModelSource, cfg: Config, tensors: Map<string, NpyArray>, opts: LoadOptions, format: string): Embedder {
  const name = cfg.MODEL.NAME;
  if (name === 'model_search')
    throw new UserError(`--load_path ${src.path}: a search supernet (MODEL.NAME model_search): its embeddings depend on Gumbel draws; train the searched genotype (autospeech train) and embed with that checkpoint`);
  const textArch = name === 'model' ? opts.textArch ?? (src.checkpoint?.meta.genotype as string | undefined) : undefined;
  if (name === 'model' && !textArch) throw new UserError(`--load_path ${src.path} holds no genotype: pass --text_arch`);
  const norm = normOf(src, cfg, opts);
  const { model } = buildModel(cfg, textArch);
  loadWeights(model, tensors, src.file);
  const bad = model.nonFiniteTensors();
  if (bad.length) throw new UserError(`--load_path ${src.path}: ${bad.length} tensor(s) hold NaN or inf (a diverged run?), e.g. ${bad[0]}`);
  const what = name === 'model' ? `derived network (C=${cfg.MODEL.INIT_CHANNELS}, ${cfg.MODEL.LAYERS} cells)` : name;
  const threshold = recordedThreshold(src);
  return new AutoSpeechEmbedder(model, `${what} from ${src.file}`, cfg.DATASET.PARTIAL_N_FRAMES, cfg.EVAL.MAX_BATCH, norm, threshold,
    autoSpeechInfo(src, cfg, model, format, textArch ?? null, threshold));
}

async function tdnnEmbedder(src: ModelSource, cfg: Config, tensors: Map<string, NpyArray>, opts: LoadOptions, format: string): Promise<Embedder> {
  const { model, subnet, standalone } = await loadSubnetModel(cfg, src.file, opts.subnet, tensors);
  const bad = model.nonFiniteTensors();
  if (bad.length) throw new UserError(`--load_path ${src.path}: ${bad.length} tensor(s) hold NaN or inf, e.g. ${bad[0]}`);
  const what = `EfficientTDNN subnet ${formatSubnet(subnet)} (${standalone ? 'a standalone clone' : 'cloned from the supernet'})`;
  const threshold = recordedThreshold(src), dims = supernetDims(cfg);
  return new TdnnEmbedder(model, `${what} from ${src.file}`, dims.inFeats, threshold, {
    kind: model.kind, name: cfg.MODEL.NAME, format, file: src.file, binary: false,
    dims: { embedding: dims.embedDim, features: dims.inFeats, window: null },
    params: paramsOf(model), genotype: null, subnet: formatSubnet(subnet), threshold: 'value' in threshold ? threshold.value : null,
  });
}

const isTdnnState = (t: Map<string, NpyArray>) => isStandaloneState(t) || t.has('layer1.conv.conv.weight');

const tdnnCheckpoint: ModelLoader = {
  name: 'tdnn checkpoint',
  reads: 'a tdnn train checkpoint (.ckpt) or its run directory, cloned to --subnet (default the largest)',
  accepts: (src) => !!src.checkpoint && (src.checkpoint.meta.kind === 'tdnn' || src.checkpoint.tensors.has('model/layer1.conv.conv.weight')),
  load: async (src, opts) => {
    const cfg = requireConfig(src, opts);
    if (!isTdnnModel(cfg)) throw new UserError(`--load_path ${src.path}: a TDNN checkpoint, but the config's MODEL.NAME is ${cfg.MODEL.NAME}`);
    return tdnnEmbedder(src, cfg, modelTensorsOf(src.checkpoint!.tensors), opts, 'tdnn checkpoint');
  },
};

const autoSpeechCheckpoint: ModelLoader = {
  name: 'autospeech checkpoint',
  reads: 'a train / train-baseline checkpoint (.ckpt) or its run directory',
  accepts: (src) => !!src.checkpoint,
  load: async (src, opts) => {
    const cfg = requireConfig(src, opts);
    const tensors = modelTensorsOf(src.checkpoint!.tensors);
    if (tensors.size === 0) throw new UserError(`--load_path ${src.path}: the checkpoint holds no model tensors`);
    return autoSpeechEmbedder(src, cfg, tensors, opts, 'autospeech checkpoint');
  },
};

const tdnnStateDict: ModelLoader = {
  name: 'tdnn state_dict',
  reads: 'a .npy state_dict directory of an EfficientTDNN clone (tdnn search --export, forward --export-subnet) or supernet (+ --subnet), MODEL dims from --cfg',
  accepts: (src, opts) => !!src.stateDict && (isTdnnState(src.stateDict) || (!!opts.cfg && isTdnnModel(loadConfig(opts.cfg)))),
  load: async (src, opts) => {
    const cfg = opts.cfg ? loadConfig(opts.cfg) : loadConfig(undefined, ['MODEL.NAME', 'tdnn8m2g']);
    if (!isTdnnModel(cfg)) throw new UserError(`--cfg ${opts.cfg}: MODEL.NAME ${cfg.MODEL.NAME}, but ${src.path} holds an EfficientTDNN state_dict`);
    return tdnnEmbedder(src, cfg, src.stateDict!, opts, 'tdnn state_dict');
  },
};

const autoSpeechStateDict: ModelLoader = {
  name: 'autospeech state_dict',
  reads: 'a .npy state_dict directory (export --format npy) with --cfg, --text_arch for a derived network, and --mean-std',
  accepts: (src) => !!src.stateDict,
  load: async (src, opts) => {
    if (!opts.cfg) throw new UserError(`--load_path ${src.path}: a state_dict directory says nothing of its network: pass --cfg <yaml> (and --text_arch for a derived network, --mean-std for the features' normalisation)`);
    const cfg = loadConfig(opts.cfg);
    if (!opts.meanStd && !cfg.DATASET.MEAN_STD && !cfg.DATASET.DATA_DIR)
      throw new UserError(`--load_path ${src.path}: a state_dict directory holds no feature normalisation: pass --mean-std <dir with mean.npy and std.npy>`);
    return autoSpeechEmbedder(src, cfg, src.stateDict!, opts, 'autospeech state_dict');
  },
};

const bwnFile: ModelLoader = {
  name: 'bwn',
  reads: "a binary-weight ResNet .bwn file (export --format bwn) with --cfg (the run's config) and --mean-std (default: the config's training store)",
  accepts: (src) => !src.checkpoint && !src.stateDict && isBwnFile(src.file),
  load: async (src, opts) => {
    if (!opts.cfg) throw new UserError(`--load_path ${src.path}: a .bwn holds the network but not the run's settings: pass --cfg <the run's config.yaml> (and --mean-std unless its DATASET.DATA_DIR store has them)`);
    const cfg = loadConfig(opts.cfg);
    const { model } = modelFromBwn(cfg, src.file);
    const norm = normOf(src, cfg, opts);
    const threshold = { none: `${src.file} is a .bwn file: it records no verification threshold` };
    return new AutoSpeechEmbedder(model, `binary-weight ${cfg.MODEL.NAME} from ${src.file}`, cfg.DATASET.PARTIAL_N_FRAMES, cfg.EVAL.MAX_BATCH, norm,
      threshold, autoSpeechInfo(src, cfg, model, 'bwn', null, threshold));
  },
};

/** In order of preference: the first that accepts a source loads it. */
const LOADERS: ModelLoader[] = [tdnnCheckpoint, autoSpeechCheckpoint, tdnnStateDict, autoSpeechStateDict, bwnFile];

/** Adds a loader for a new kind of model file, tried before the built-in ones. */
export function registerModelLoader(loader: ModelLoader): void {
  LOADERS.unshift(loader);
}

export async function loadEmbedder(path: string, opts: LoadOptions = {}): Promise<Embedder> {
  const src = inspectModelPath(path);
  const loader = LOADERS.find((l) => l.accepts(src, opts));
  if (!loader) {
    throw new UserError(`--load_path ${path}: not a model this build reads; it reads:\n${LOADERS.map((l) => `  ${l.name}: ${l.reads}`).join('\n')}`);
  }
  return loader.load(src, opts);
}
