// `autospeech features <file.wav> --out x.npy [--frontend stft|fbank]`: the feature matrix of one file.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

import { FRONTENDS, fbank, spectrogram, type Frontend } from '../data/features.ts';
import { loadAudio16k } from '../data/load_audio.ts';
import { WavError } from '../data/wav.ts';
import { UserError } from '../errors.ts';
import { writeNpy } from '../io/npy.ts';
import { suggest } from '../util/edit_distance.ts';
import { emit } from './output.ts';

interface Options { out: string; frontend: string; melBins: string; resample?: boolean; json?: boolean }

export function register(program: Command): void {
  program
    .command('features')
    .description('write the feature matrix of one wav: the reference (T, 257) magnitude spectrogram (stft), or a Kaldi-style log-mel fbank')
    .argument('<wav>', '16 kHz mono wav')
    .requiredOption('--out <npy>', 'output .npy')
    .option('--frontend <name>', `front-end: ${FRONTENDS.join(' | ')} (stft = the reference's)`, 'stft')
    .option('--mel-bins <n>', 'fbank: number of mel bins', '80')
    .option('--resample', 'convert another sample rate to 16 kHz as librosa.load does (resampy kaiser_best)')
    .option('--json', 'machine-readable summary')
    .action((file: string, opts: Options) => {
      if (!(FRONTENDS as readonly string[]).includes(opts.frontend))
        throw new UserError(`--frontend '${opts.frontend}' is not a front-end (${FRONTENDS.join(', ')})${suggest(opts.frontend, FRONTENDS)}`);
      const frontend = opts.frontend as Frontend;
      const melBins = Number(opts.melBins);
      if (!Number.isInteger(melBins) || melBins < 1 || melBins > 256) throw new UserError(`--mel-bins must be an integer in [1, 256], got '${opts.melBins}'`);
      let samples: Float32Array;
      let resampledFrom: number | undefined;
      try {
        ({ samples, resampledFrom } = loadAudio16k(readFileSync(file), file, !!opts.resample));
      } catch (err) {
        if (err instanceof WavError) throw new UserError(err.message);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file} not found`);
        throw err;
      }
      if (frontend === 'fbank') {
        if (samples.length < 400) throw new UserError(`${file}: ${samples.length} samples, shorter than one 25 ms fbank frame (400)`);
        const f = fbank(samples, { melBins });
        writeNpy(opts.out, { data: f.data, shape: [f.frames, f.melBins] });
        emit({ out: opts.out, frontend, frames: f.frames, bins: f.melBins, resampledFrom }, opts.json, (r) =>
          `${r.out}: ${r.frames} x ${r.bins} log-mel fbank${r.resampledFrom ? ` (resampled from ${r.resampledFrom} Hz)` : ''}`);
        return;
      }
      const s = spectrogram(samples);
      writeNpy(opts.out, { data: s.data, shape: [s.frames, 257] });
      emit({ out: opts.out, frontend, frames: s.frames, bins: 257, dbfs: s.dbfs, gainApplied: s.gainApplied, gain: s.gain, resampledFrom }, opts.json, (r) =>
        `${r.out}: ${r.frames} x 257 (level ${r.dbfs.toFixed(1)} dBFS${r.gainApplied ? `, raised by x${r.gain.toFixed(3)} to -30 dBFS` : ''}${r.resampledFrom ? `, resampled from ${r.resampledFrom} Hz` : ''})`);
    });
}
