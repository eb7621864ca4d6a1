// `autospeech features <file.wav> --out x.npy [--frontend stft|fbank|logmel] [--layout ...]`: the
// feature matrix of one file.
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';

import { FRONTENDS, LOGMEL_MIN_SAMPLES, fbank, logmel, spectrogram, type Frontend } from '../data/features.ts';
import { loadAudio16k } from '../data/load_audio.ts';
import { WavError } from '../data/wav.ts';
import { UserError } from '../errors.ts';
import { writeNpy } from '../io/npy.ts';
import { suggest } from '../util/edit_distance.ts';
import { emit } from './output.ts';

const LAYOUTS = ['time-major', 'channel-first'] as const;
type Layout = (typeof LAYOUTS)[number];

/** Each front end's own layout: the reference spectrogram and Kaldi fbank are (T, bins), EfficientTDNN's log-mel (bins, T). */
const NATIVE_LAYOUT: Record<Frontend, Layout> = { stft: 'time-major', fbank: 'time-major', logmel: 'channel-first' };

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
      let samples: Float32Array;
      let resampledFrom: number | undefined;
      try {
        ({ samples, resampledFrom } = loadAudio16k(readFileSync(file), file, !!opts.resample));
      } catch (err) {
        if (err instanceof WavError) throw new UserError(err.message);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file} not found`);
        throw err;
      }
      // The matrix in the front end's own layout, then in the one asked for.
      let m: { data: Float32Array; frames: number; bins: number };
      let what: string;
      let extra: { dbfs?: number; gainApplied?: boolean; gain?: number } = {};
      if (frontend === 'fbank') {
        if (samples.length < 400) throw new UserError(`${file}: ${samples.length} samples, shorter than one 25 ms fbank frame (400)`);
        const f = fbank(samples, { melBins });
        m = { data: f.data, frames: f.frames, bins: f.melBins };
        what = 'log-mel fbank';
      } else if (frontend === 'logmel') {
        if (samples.length < LOGMEL_MIN_SAMPLES)
          throw new UserError(`${file}: ${samples.length} samples; the logmel front end needs at least ${LOGMEL_MIN_SAMPLES} (its STFT reflect-pads 256 on each side)`);
        const f = logmel(samples, { melBins });
        m = { data: f.data, frames: f.frames, bins: f.melBins };
        what = 'normalised log-mel (EfficientTDNN)';
      } else {
        const s = spectrogram(samples);
        m = { data: s.data, frames: s.frames, bins: 257 };
        what = '';
        extra = { dbfs: s.dbfs, gainApplied: s.gainApplied, gain: s.gain };
      }
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
