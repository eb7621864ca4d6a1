// `autospeech embed --load_path <model> [wavs...] [--list f] [--scp wav.scp] --out <dir>
// [--format npy|kaldi] [--json]`: one embedding per utterance under the model's own evaluation
// protocol, written as <dir>/embeddings.npy (N, D) float32 + <dir>/utts.txt (ids in the same
// order), with --format kaldi also embeddings.ark/.scp. Files that cannot be embedded are reported
// one by one; the rest are written and the exit status is 1.
import type { Command } from 'commander';

import { UserError } from '../errors.ts';
import { embedFiles } from '../infer/embed_files.ts';
import { writeEmbeddingsDir } from '../infer/embeddings_dir.ts';
import { collectInputs } from '../infer/inputs.ts';
import { checkKaldiKey } from '../io/kaldi_ark.ts';
import { loadEmbedder } from '../infer/load_model.ts';
import { type ModelOptions, addModelOptions, loadOptionsOf } from './model_options.ts';
import { emit } from './output.ts';

interface EmbedOptions extends ModelOptions { list?: string; scp?: string; out: string; format: string; json?: boolean }

const FORMATS = ['npy', 'kaldi'];

export async function embedCommand(wavs: string[], opts: EmbedOptions) {
  if (!FORMATS.includes(opts.format)) throw new UserError(`--format '${opts.format}': expected ${FORMATS.join(' or ')}`);
  const inputs = collectInputs(wavs, opts.list, opts.scp);
  if (inputs.length === 0) throw new UserError('no utterances: give wav files as arguments, --list <file> or --scp <wav.scp>');
  if (opts.format === 'kaldi') for (const u of inputs) checkKaldiKey(u.id, u.where);
  const embedder = await loadEmbedder(opts.load_path!, loadOptionsOf(opts));
  const r = await embedFiles(embedder, inputs, { progress: true });
  for (const e of r.errors) process.stderr.write(`autospeech: ${e.file}: ${e.reason}\n`);
  const files = r.ids.length ? writeEmbeddingsDir(opts.out, { ids: r.ids, data: r.data, dim: r.dim }, { kaldi: opts.format === 'kaldi' }) : [];
  const summary = {
    out: opts.out, files, utterances: r.ids.length, dim: r.dim, failed: r.errors.length, errors: r.errors,
    model: embedder.description, protocol: embedder.protocol, resampled: r.resampled,
    seconds: r.seconds, utterances_per_second: r.seconds > 0 ? r.ids.length / r.seconds : null,
  };
  emit(summary, opts.json, (s) => `${s.utterances} embeddings of dim ${s.dim} in ${s.out} (${s.files.map((f) => f.split('/').pop()).join(', ') || 'nothing written'})` +
    `${s.resampled ? `, ${s.resampled} resampled to 16 kHz` : ''}; ${s.seconds.toFixed(1)} s${s.utterances_per_second ? `, ${s.utterances_per_second.toFixed(1)} utterances/s` : ''}\n` +
    `model: ${s.model}\nprotocol: ${s.protocol}`);
  if (r.errors.length) {
    throw new UserError(r.ids.length
      ? `${r.errors.length} of ${inputs.length} file(s) could not be embedded (listed above); the other ${r.ids.length} are in ${opts.out}`
      : `none of the ${inputs.length} file(s) could be embedded (listed above); nothing was written`, 1);
  }
}

export function register(program: Command): void {
  addModelOptions(program.command('embed'), true)
    .description("one embedding per utterance, as the model's own verification evaluation computes it: <out>/embeddings.npy (N, D) float32 and utts.txt")
    .argument('[wavs...]', 'wav files (other sample rates are resampled to 16 kHz)')
    .option('--list <file>', 'wav paths, one a line (the id of each is the path as written)')
    .option('--scp <wav.scp>', "Kaldi wav.scp: '<utt-id> <wav path>' per line")
    .requiredOption('--out <dir>', 'output directory')
    .option('--format <fmt>', 'npy, or kaldi: also embeddings.ark / embeddings.scp (binary float vectors, for Kaldi and kaldiio)', 'npy')
    .option('--json', 'machine-readable summary')
    .action((wavs: string[], opts: EmbedOptions) => embedCommand(wavs, opts));
}
