// A wav as the feature front-ends want it: 16 kHz mono float32. Other rates are an error unless
// resampling was asked for (--resample), which follows librosa.load(sr=16000): resampy's
// kaiser_best filter, then zero-padding to ceil(n * 16000 / rate) samples.
import { loadNative } from '../native.ts';
import { SAMPLE_RATE, decodeWav } from './wav.ts';

export interface Audio16k {
  samples: Float32Array;
  /** the file's own rate when it was resampled */
  resampledFrom?: number;
}

export function loadAudio16k(bytes: Uint8Array, path: string, resample = false): Audio16k {
  const wav = decodeWav(bytes, path, { anyRate: resample });
  if (wav.sampleRate === SAMPLE_RATE) return { samples: wav.samples };
  return { samples: loadNative().resample(wav.samples, wav.sampleRate, SAMPLE_RATE), resampledFrom: wav.sampleRate };
}
