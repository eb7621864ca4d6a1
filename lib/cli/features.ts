// `autospeech features <file.wav> --out x.npy`: the reference feature matrix of one file.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

import { spectrogram } from '../data/features.ts';
import { WavError, decodeWav } from '../data/wav.ts';
import { UserError } from '../errors.ts';
import { writeNpy } from '../io/npy.ts';
import { emit } from './output.ts';

export function register(program: Command): void {
  program
    .command('features')
    .description('write the (T, 257) float32 magnitude spectrogram of one wav exactly as the reference preprocessing computes it')
    .argument('<wav>', '16 kHz mono wav')
    .requiredOption('--out <npy>', 'output .npy')
    .option('--frontend <name>', 'stft (the reference); no other front-end yet', 'stft')
    .option('--json', 'machine-readable summary')
    .action((file: string, opts: { out: string; frontend: string; json?: boolean }) => {
      if (opts.frontend !== 'stft') throw new UserError(`--frontend '${opts.frontend}' is not available (stft is)`);
      let samples: Float32Array;
      try {
        samples = decodeWav(readFileSync(file), file).samples;
      } catch (err) {
        if (err instanceof WavError) throw new UserError(err.message);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file} not found`);
        throw err;
      }
      const s = spectrogram(samples);
      writeNpy(opts.out, { data: s.data, shape: [s.frames, 257] });
      emit({ out: opts.out, frames: s.frames, dbfs: s.dbfs, gainApplied: s.gainApplied, gain: s.gain }, opts.json, (r) =>
        `${r.out}: ${r.frames} x 257 (level ${r.dbfs.toFixed(1)} dBFS${r.gainApplied ? `, raised by x${r.gain.toFixed(3)} to -30 dBFS` : ''})`);
    });
}
