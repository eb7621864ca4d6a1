// One place that turns (config, --text_arch) into a native network.
import type { Config } from '../config/index.ts';
import { type Genotype, loadGenotypeArg } from '../genotype/index.ts';
import { type ModelSpec, type NativeModel, loadNative } from '../native.ts';
import { modelSpecFromConfig } from './spec.ts';
import { processDevice } from '../dist/context.ts';

export interface BuiltModel {
  model: NativeModel;
  genotype?: Genotype;
}

export function buildModel(cfg: Config, textArch?: string, seed?: number): BuiltModel {
  const genotype = textArch !== undefined ? loadGenotypeArg(textArch) : undefined;
  return { model: buildModelFromSpec(cfg, modelSpecFromConfig(cfg, genotype), seed), genotype };
}

/** A network of an explicit spec (e.g. a standalone TDNN subnet) under the config's run settings. */
export function buildModelFromSpec(cfg: Config, spec: ModelSpec, seed?: number): NativeModel {
  const native = loadNative();
  if (cfg.THREADS > 0) native.setThreads(cfg.THREADS);
  native.setDeterminism({ deterministic: cfg.DETERMINISTIC, cudnnBenchmark: cfg.CUDNN.BENCHMARK, cudnnDeterministic: cfg.CUDNN.DETERMINISTIC, cudnnEnabled: cfg.CUDNN.ENABLED });
  const model = new native.Model(spec, { device: processDevice(cfg), seed: seed ?? cfg.SEED });
  if (cfg.MODEL.CHANNELS_LAST) model.setChannelsLast(true);
  return model;
}
