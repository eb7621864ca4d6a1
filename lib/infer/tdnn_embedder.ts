// EfficientTDNN subnets as the reference's tutorials evaluate one utterance (lib/tdnn/subnet_eval.ts):
// the whole utterance, wrap-padded to 48001 samples when it has at most 48000 (loadWAV with
// num_samples=0), LogMelFbanks(MODEL.IN_FEATS) natively, one eval-mode forward of the standalone
// subnet per utterance (lengths differ).
import { fileFeatures, fileFeaturesAsync } from '../data/features.ts';
import { type NativeModel, loadNative } from '../native.ts';
import { MIN_SAMPLES, wrapPad } from '../tdnn/bn_recalibration.ts';
import type { Embedder, ModelInfo, Prepared, RecordedThreshold } from './embedder.ts';
import type { LoadedInfo } from './load_model.ts';

export interface LogMelInput extends Prepared {
  data: Float32Array; // (melBins, frames)
  frames: number;
}

export class TdnnEmbedder implements Embedder<LogMelInput> {
  readonly family = 'tdnn';
  readonly protocol: string;
  readonly batchCost = 1;
  readonly info: ModelInfo;

  constructor(private readonly model: NativeModel, readonly description: string, private readonly melBins: number,
    readonly threshold: RecordedThreshold | { none: string }, info: LoadedInfo) {
    this.protocol = `whole utterance (wrap-padded to ${MIN_SAMPLES + 1} samples when <= ${MIN_SAMPLES}), LogMelFbanks(${melBins}), eval-mode forward of the standalone subnet`;
    this.info = { family: this.family, ...info, description, protocol: this.protocol };
  }

  prepare(samples: Float32Array, path: string): LogMelInput {
    const x = samples.length <= MIN_SAMPLES ? wrapPad(samples, MIN_SAMPLES + 1) : samples;
    const m = fileFeatures('logmel', x, path, { melBins: this.melBins });
    return { cost: 1, data: m.data, frames: m.frames };
  }

  async prepareAsync(samples: Float32Array, path: string): Promise<LogMelInput> {
    const x = samples.length <= MIN_SAMPLES ? wrapPad(samples, MIN_SAMPLES + 1) : samples;
    const m = await fileFeaturesAsync('logmel', x, path, { melBins: this.melBins });
    return { cost: 1, data: m.data, frames: m.frames };
  }

  async embed(items: LogMelInput[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (const i of items) {
      const r = await loadNative().tdnnForward(this.model, i.data, [1, this.melBins, i.frames], { mode: 'eval' });
      out.push(r.embedding.data as Float32Array);
    }
    return out;
  }
}
