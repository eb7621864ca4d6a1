// `autospeech features <file.wav> --out x.npy [--frontend stft|fbank|logmel] [--layout ...]`: the
// feature matrix of one file.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

import { FRONTENDS, type FeatureMatrix, type Frontend, type Layout, NATIVE_LAYOUT, fileFeatures } from '../data/features.ts';
import { loadAudio16k } from '../data/load_audio.ts';
import { WavError } from '../data/wav.ts';
import { UserError } from '../errors.ts';
import { writeNpy } from '../io/npy.ts';
import { suggest } from '../util/edit_distance.ts';
import { emit } from './output.ts';

const LAYOUTS: readonly Layout[] = ['time-major', 'channel-first'];

interface Options { out: string; frontend: string; melBins: string; layout?: string; resample?: boolean; json?: boolean }

/** (rows, cols) row-major -> (cols, rows) row-major. */
function transpose(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

export function register(program: Command): void {
  program
    .command('features')
    .description("write the feature matrix of one wav: the reference (T, 257) magnitude spectrogram (stft), a Kaldi-style log-mel fbank, or EfficientTDNN's normalised log-mel (logmel)")
    .argument('<wav>', '16 kHz mono wav')
    .requiredOption('--out <npy>', 'output .npy')
    .option('--frontend <name>', `front-end: ${FRONTENDS.join(' | ')} (stft = the AutoSpeech reference's, logmel = sugar's LogMelFbanks)`, 'stft')
    .option('--mel-bins <n>', 'fbank, logmel: number of mel bins', '80')
    .option('--layout <name>', `${LAYOUTS.join(' | ')} (default: the front end's own, (T, bins) for stft/fbank, (bins, T) for logmel)`)
    .option('--resample', 'convert another sample rate to 16 kHz as librosa.load does (resampy kaiser_best)')
    .option('--json', 'machine-readable summary')
    .action((file: string, opts: Options) => {
      if (!(FRONTENDS as readonly string[]).includes(opts.frontend))
        throw new UserError(`--frontend '${opts.frontend}' is not a front-end (${FRONTENDS.join(', ')})${suggest(opts.frontend, FRONTENDS)}`);
      const frontend = opts.frontend as Frontend;
      if (opts.layout !== undefined && !(LAYOUTS as readonly string[]).includes(opts.layout))
        throw new UserError(`--layout '${opts.layout}' is not a layout (${LAYOUTS.join(', ')})${suggest(opts.layout, LAYOUTS)}`);
      const layout = (opts.layout ?? NATIVE_LAYOUT[frontend]) as Layout;
      const melBins = Number(opts.melBins);
      if (!Number.isInteger(melBins) || melBins < 1 || melBins > 256) throw new UserError(`--mel-bins must be an integer in [1, 256], got '${opts.melBins}'`);
      let m: FeatureMatrix;
      let resampledFrom: number | undefined;
      try {
        const wav = loadAudio16k(readFileSync(file), file, !!opts.resample);
        resampledFrom = wav.resampledFrom;
        m = fileFeatures(frontend, wav.samples, file, { melBins });
      } catch (err) {
        if (err instanceof WavError) throw new UserError(err.message);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file} not found`);
        throw err;
      }
      const what = frontend === 'fbank' ? 'log-mel fbank' : frontend === 'logmel' ? 'normalised log-mel (EfficientTDNN)' : '';
      const extra: { dbfs?: number; gain?: number; gainApplied?: boolean } = m.level ?? {};
      const own = NATIVE_LAYOUT[frontend];
      const [rows, cols] = own === 'time-major' ? [m.frames, m.bins] : [m.bins, m.frames];
      const data = layout === own ? m.data : transpose(m.data, rows, cols);
      const shape = layout === 'time-major' ? [m.frames, m.bins] : [m.bins, m.frames];
      writeNpy(opts.out, { data, shape });
      emit({ out: opts.out, frontend, layout, shape, frames: m.frames, bins: m.bins, ...extra, resampledFrom }, opts.json, (r) => {
        const notes: string[] = [];
        if (r.layout !== own) notes.push(r.layout);
        if (r.dbfs !== undefined) notes.push(`level ${r.dbfs.toFixed(1)} dBFS`);
        if (r.gainApplied) notes.push(`raised by x${r.gain!.toFixed(3)} to -30 dBFS`);
        if (r.resampledFrom) notes.push(`resampled from ${r.resampledFrom} Hz`);
        return `${r.out}: ${r.shape.join(' x ')}${what ? ` ${what}` : ''}${notes.length ? ` (${notes.join(', ')})` : ''}`;
      });
    });
}
