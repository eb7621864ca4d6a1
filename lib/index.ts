// The Node API: `import { loadModel } from 'autospeech'`. A trained model of any kind `embed`,
// `verify` and `score` read (lib/infer/load_model.ts: AutoSpeech / TDNN checkpoints and run
// directories, .npy state_dict directories, .bwn files), embedding 16 kHz utterances exactly as
// `autospeech embed` does. The front end (|STFT| / log-mel) and the network run on the addon's
// compute thread and the JS work between them in slices, so the event loop keeps running; only
// the wav's decoding (and resampling of other rates) runs on the calling thread.
import { readFile } from 'node:fs/promises';

import { loadAudio16k } from './data/load_audio.ts';
import { WavError } from './data/wav.ts';
import { UserError } from './errors.ts';
import type { Embedder, ModelInfo } from './infer/embedder.ts';
import { type LoadOptions, loadEmbedder } from './infer/load_model.ts';
import { cosine as cosine64 } from './metrics/eer.ts';

export type { LoadOptions, ModelInfo };
export { UserError };

/** A wav file's path, or 16 kHz mono samples as decoded from one (floats in [-1, 1)). */
export type AudioInput = string | Float32Array;

export interface SpeakerModel {
  /** what was loaded: kind, dims, parameter counts, genotype or subnet, recorded threshold */
  readonly info: ModelInfo;
  /** The utterance's embedding, as `autospeech embed` computes it (other sample rates of a wav are resampled to 16 kHz). */
  embed(input: AudioInput): Promise<Float32Array>;
  /** The cosine score of two utterances' embeddings, as `autospeech verify` computes it. */
  score(a: AudioInput, b: AudioInput): Promise<number>;
}

/** The cosine similarity of two embeddings (float64, as `verify` and `evaluate` score). */
export function cosine(a: Float32Array, b: Float32Array): number {
  if (!(a instanceof Float32Array) || !(b instanceof Float32Array)) throw new UserError('cosine: expected two Float32Array embeddings');
  if (a.length !== b.length) throw new UserError(`cosine: the embeddings differ in size (${a.length} vs ${b.length})`);
  return cosine64(a, b);
}

class LoadedModel implements SpeakerModel {
  readonly info: ModelInfo;

  constructor(private readonly embedder: Embedder) {
    this.info = Object.freeze(structuredClone(embedder.info));
  }

  private async samplesOf(input: AudioInput, what: string): Promise<{ samples: Float32Array; name: string }> {
    if (typeof input === 'string') {
      let bytes: Buffer;
      try {
        bytes = await readFile(input);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new UserError(`${input}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : (err as Error).message}`);
      }
      return { samples: loadAudio16k(bytes, input, true).samples, name: input };
    }
    if (input instanceof Float32Array) return { samples: input, name: `${what} (${input.length} samples)` };
    throw new UserError(`${what}: expected a wav file path or a Float32Array of 16 kHz samples, got ${input === null ? 'null' : typeof input}`);
  }

  async embed(input: AudioInput, what = 'embed(input)'): Promise<Float32Array> {
    const name = typeof input === 'string' ? input : what;
    let prepared;
    try {
      const audio = await this.samplesOf(input, what);
      prepared = await this.embedder.prepareAsync(audio.samples, audio.name);
    } catch (err) {
      if (err instanceof WavError) throw new UserError(`${name}: ${err.reason}`);
      throw err;
    }
    const [v] = await this.embedder.embed([prepared]);
    const bad = v.findIndex((x) => !Number.isFinite(x));
    if (bad >= 0) throw new UserError(`${name}: the embedding is not finite (value ${v[bad]} at ${bad})`);
    return v;
  }

  async score(a: AudioInput, b: AudioInput): Promise<number> {
    const ea = await this.embed(a, 'score(a)');
    const eb = await this.embed(b, 'score(b)');
    return cosine64(ea, eb);
  }
}

/**
 * Loads a trained model: a checkpoint or run directory of `train`, `train-baseline` or `tdnn
 * train`, a .npy state_dict directory, or a .bwn file; options as the CLI's --cfg, --text_arch,
 * --subnet and --mean-std (needed where the file does not record them).
 */
export async function loadModel(path: string, options: LoadOptions = {}): Promise<SpeakerModel> {
  if (typeof path !== 'string' || path === '') throw new UserError('loadModel(path): expected the path of a model file or run directory');
  return new LoadedModel(await loadEmbedder(path, options));
}
