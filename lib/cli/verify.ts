// `autospeech verify --load_path <model> a.wav b.wav [--threshold t] [--json]`: the cosine score of
// two utterances' embeddings (as `embed` computes them) and a same/different decision: same when
// score >= threshold. The default threshold is the EER threshold of the last verification
// evaluation the checkpoint records; without one there is no decision until --threshold is given.
//   --json: {"score": x, "same": bool | null, "threshold": t | null, "threshold_source": "..."}
import type { Command } from 'commander';

import { UserError } from '../errors.ts';
import { embedFiles } from '../infer/embed_files.ts';
import { loadEmbedder } from '../infer/load_model.ts';
import { cosine } from '../metrics/eer.ts';
import { type ModelOptions, addModelOptions, loadOptionsOf } from './model_options.ts';
import { emit } from './output.ts';

interface VerifyOptions extends ModelOptions { threshold?: string; json?: boolean }

export async function verifyCommand(a: string, b: string, opts: VerifyOptions) {
  let given: number | undefined;
  if (opts.threshold !== undefined) {
    given = Number(opts.threshold);
    if (opts.threshold.trim() === '' || !Number.isFinite(given)) throw new UserError(`--threshold '${opts.threshold}': expected a number`);
  }
  const inputs = [{ id: 'a', file: a, where: 'argument 1' }, { id: 'b', file: b, where: 'argument 2' }];
  const embedder = await loadEmbedder(opts.load_path!, loadOptionsOf(opts));
  const r = await embedFiles(embedder, inputs);
  if (r.errors.length) throw new UserError(r.errors.map((e) => `${e.file}: ${e.reason}`).join('\n'));
  const score = cosine(r.data.subarray(0, r.dim), r.data.subarray(r.dim, 2 * r.dim));
  const recorded = embedder.threshold;
  const threshold = given ?? ('value' in recorded ? recorded.value : null);
  const source = given !== undefined ? '--threshold' : 'value' in recorded ? recorded.source : `none: ${recorded.none}; pass --threshold for a decision`;
  const result = { score, same: threshold === null ? null : score >= threshold, threshold, threshold_source: source };
  if (threshold === null && 'none' in recorded) process.stderr.write(`autospeech: no same/different decision: ${recorded.none}; pass --threshold <t>\n`);
  emit(result, opts.json, (x) => `score ${x.score.toFixed(6)}: ${x.same === null ? 'no decision (no threshold)' : x.same ? 'same speaker' : 'different speakers'}` +
    `${x.threshold === null ? '' : ` (threshold ${x.threshold.toPrecision(6)}, from ${x.threshold_source})`}`);
}

export function register(program: Command): void {
  addModelOptions(program.command('verify'), true)
    .description('cosine score of two utterances and a same/different decision (default threshold: the EER threshold of the checkpoint\'s last verification evaluation)')
    .argument('<a.wav>', 'first utterance')
    .argument('<b.wav>', 'second utterance')
    .option('--threshold <t>', 'same when score >= t (default: the EER threshold the checkpoint records)')
    .option('--json', 'print {"score", "same", "threshold", "threshold_source"}')
    .action((a: string, b: string, opts: VerifyOptions) => verifyCommand(a, b, opts));
}
