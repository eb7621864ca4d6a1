// From a resolved config (the reference's MODEL.* keys) and an optional genotype to the normalised
// spec the native side builds. MODEL.NAME follows the reference: model_search | model | resnet18/34.
import { UserError } from '../errors.ts';
import type { GenotypeSpecNative, ModelSpec } from '../native.ts';

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
  };
}

export interface GenotypeLike {
  normal: [string, number][];
  normalConcat: number[];
  reduce: [string, number][];
  reduceConcat: number[];
}

export const MODEL_NAMES = ['model_search', 'model', 'resnet18', 'resnet34', 'tdnn8m2g'] as const;

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
      return { kind: 'resnet', depth: m.NAME === 'resnet18' ? 18 : 34, numClasses: m.NUM_CLASSES };
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
