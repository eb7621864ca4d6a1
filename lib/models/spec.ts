// From a resolved config (the reference's MODEL.* keys) and an optional genotype to the normalised
// spec the native side builds. MODEL.NAME follows the reference: model_search | model | resnet18/34.
import { UserError } from '../errors.ts';
import type { BinarizeGroup, BinaryScaleMode, BinarySteMode, GenotypeSpecNative, ModelSpec } from '../native.ts';

/** The config keys a network depends on (structural, so any resolved config object fits). */
export interface ModelConfig {
  MODEL: {
    NAME: string;
    NUM_CLASSES: number;
    LAYERS: number;
    INIT_CHANNELS: number;
    MIXING?: string;
    SHIFTED_FACTORIZED_REDUCE?: boolean;
    IN_FEATS?: number;
    EMBED_DIM?: number;
    NUM_BLOCKS?: number;
    CHANNELS?: number;
    KERNEL_SIZE?: number;
    CAT_CHANNELS?: number;
    WIDTH_MULT?: number;
    ACTIVATION?: string;
    BINARIZE?: string[];
    BINARY_SCALE?: string;
    BINARY_STE?: string;
    BINARY_ALPHA_GRAD?: boolean;
    LATENT_CLIP?: number;
  };
}

export interface GenotypeLike {
  normal: [string, number][];
  normalConcat: number[];
  reduce: [string, number][];
  reduceConcat: number[];
}

export const MODEL_NAMES = ['model_search', 'model', 'resnet18', 'resnet34', 'resnet18_bwn', 'resnet34_bwn', 'tdnn8m2g'] as const;

/** The ResNet names: the fp32 baselines and their binary-weight twins (same module tree and keys). */
export const RESNET_NAME = /^resnet(18|34)(_bwn)?$/;

export function isResnetModel(cfg: { MODEL: { NAME: string } }): boolean {
  return RESNET_NAME.test(cfg.MODEL.NAME);
}

/** A binary-weight ResNet (MODEL.NAME resnet18_bwn / resnet34_bwn). */
export function isBwnModel(cfg: { MODEL: { NAME: string } }): boolean {
  return /_bwn$/.test(cfg.MODEL.NAME) && isResnetModel(cfg);
}

const BINARIZE_GROUPS: readonly BinarizeGroup[] = ['stem', 'blocks', 'shortcuts'];

/** MODEL.NAME values that build sugar's DynamicTDNN supernet from the MODEL.* dims. */
export const TDNN_MODEL_NAMES = ['tdnn8m2g'] as const;

export function isTdnnModel(cfg: { MODEL: { NAME: string } }): boolean {
  return (TDNN_MODEL_NAMES as readonly string[]).includes(cfg.MODEL.NAME);
}

export function modelSpecFromConfig(cfg: ModelConfig, genotype?: GenotypeLike): ModelSpec {
  const m = cfg.MODEL;
  const shifted = m.SHIFTED_FACTORIZED_REDUCE ?? false;
  switch (m.NAME) {
    case 'model_search': {
      const mixing = m.MIXING ?? 'gumbel';
      if (mixing !== 'gumbel' && mixing !== 'softmax') throw new UserError(`MODEL.MIXING must be 'gumbel' or 'softmax', got '${mixing}'`);
      return { kind: 'search', C: m.INIT_CHANNELS, layers: m.LAYERS, numClasses: m.NUM_CLASSES, mixing, shiftedFactorizedReduce: shifted };
    }
    case 'model': {
      if (!genotype) throw new UserError('MODEL.NAME model (a derived network) needs a genotype: pass --text_arch "Genotype(...)"');
      const g: GenotypeSpecNative = { normal: genotype.normal, normalConcat: genotype.normalConcat, reduce: genotype.reduce, reduceConcat: genotype.reduceConcat };
      return { kind: 'network', C: m.INIT_CHANNELS, layers: m.LAYERS, numClasses: m.NUM_CLASSES, genotype: g, shiftedFactorizedReduce: shifted };
    }
    case 'resnet18':
    case 'resnet34':
    case 'resnet18_bwn':
    case 'resnet34_bwn': {
      const widthMult = m.WIDTH_MULT ?? 1;
      if (!(widthMult > 0) || !Number.isInteger(64 * widthMult)) throw new UserError(`MODEL.WIDTH_MULT ${widthMult} must make 64 x WIDTH_MULT a whole number of channels (a multiple of 1/64)`);
      const activation = m.ACTIVATION ?? 'relu';
      if (activation !== 'relu' && activation !== 'prelu') throw new UserError(`MODEL.ACTIVATION must be 'relu' or 'prelu', got '${activation}'`);
      const spec: ModelSpec = { kind: 'resnet', depth: m.NAME.startsWith('resnet18') ? 18 : 34, numClasses: m.NUM_CLASSES, widthMult, activation };
      if (!m.NAME.endsWith('_bwn')) return spec;
      const groups = m.BINARIZE ?? ['blocks', 'shortcuts'];
      for (const [i, g] of groups.entries()) {
        if (!(BINARIZE_GROUPS as readonly string[]).includes(g)) throw new UserError(`MODEL.BINARIZE[${i}] '${g}' is not a layer group (expected ${BINARIZE_GROUPS.join(', ')})`);
        if (groups.indexOf(g) !== i) throw new UserError(`MODEL.BINARIZE names '${g}' twice`);
      }
      const scale = m.BINARY_SCALE ?? 'channel', ste = m.BINARY_STE ?? 'clip';
      if (!['channel', 'layer', 'none'].includes(scale)) throw new UserError(`MODEL.BINARY_SCALE must be 'channel', 'layer' or 'none', got '${scale}'`);
      if (!['clip', 'identity'].includes(ste)) throw new UserError(`MODEL.BINARY_STE must be 'clip' or 'identity', got '${ste}'`);
      const latentClip = m.LATENT_CLIP ?? 0;
      if (!(latentClip >= 0)) throw new UserError(`MODEL.LATENT_CLIP must be >= 0 (0 = none), got ${latentClip}`);
      return {
        ...spec, binarize: groups as BinarizeGroup[], binaryScale: scale as BinaryScaleMode, binarySte: ste as BinarySteMode,
        binaryAlphaGrad: m.BINARY_ALPHA_GRAD ?? true, latentClip,
      };
    }
    case 'tdnn8m2g': {
      const n = m.NUM_BLOCKS ?? 4;
      return {
        kind: 'tdnn', inFeats: m.IN_FEATS ?? 80, embedDim: m.EMBED_DIM ?? 192, numBlocks: n,
        channels: Array(n + 1).fill(m.CHANNELS ?? 512), kernels: Array(n + 1).fill(m.KERNEL_SIZE ?? 5), catChannels: m.CAT_CHANNELS ?? 1536,
      };
    }
    default:
      throw new UserError(`MODEL.NAME '${m.NAME}' is not a network (expected one of ${MODEL_NAMES.join(', ')})`);
  }
}
