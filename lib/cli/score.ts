// `autospeech score --trials <file> (--embeddings <dir> | --load_path <model> --data-dir <dir>)
// [--norm snorm|asnorm --cohort <embeddings dir> [--top-n 300]] [--eer-method reference|interp]
// --out <scores.txt> [--json]`: the cosine score of every trial (optionally S-/AS-normalised as
// WeSpeaker's score_norm.py does), written in trial order as `label score enrol test` (or
// `score enrol test` for a label-less list), and for a labelled list EER and minDCF (p_target
// 0.01, 0.05) as `autospeech eer` computes them.
//   --json: {"eer", "minDCF_0.01", "minDCF_0.05", "trials", "eer_method", "eer_threshold", "norm", ...}
import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { scanVoxCeleb } from '../data/voxceleb.ts';
import { UserError } from '../errors.ts';
import { embedFiles } from '../infer/embed_files.ts';
import { type Embeddings, readEmbeddings, row } from '../infer/embeddings_dir.ts';
import { loadEmbedder } from '../infer/load_model.ts';
import { type TrialList, UttIndex, readTrialList } from '../infer/trials.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { cosine, eerBy, minDcf } from '../metrics/eer.ts';
import { NORM_METHODS, type NormMethod, type CohortStats, cohortStats, normalizedScore, unitRows } from '../metrics/score_norm.ts';
import { EER_METHOD_HELP, eerMethodOf } from './eer.ts';
import { type ModelOptions, addModelOptions, loadOptionsOf } from './model_options.ts';
import { emit } from './output.ts';

interface ScoreOptions extends ModelOptions {
  trials: string;
  embeddings?: string;
  dataDir?: string;
  norm?: string;
  cohort?: string;
  topN?: string;
  eerMethod: string;
  out: string;
  json?: boolean;
}

const P_TARGETS = [0.01, 0.05];

function positiveInt(text: string, option: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UserError(`${option} '${text}': expected a positive integer`);
  return n;
}

/** The trial utterances' files under a data directory: its VoxCeleb1 layout, else <dir>/<path>. */
function filesUnder(dataDir: string, paths: string[]): Map<string, string> {
  if (!existsSync(dataDir)) throw new UserError(`--data-dir ${dataDir}: no such directory`);
  const layout = ['dev/wav', 'test/wav', 'wav'].some((d) => existsSync(join(dataDir, d)));
  const byPath = layout ? new Map(scanVoxCeleb(dataDir).utterances.map((u) => [u.path, u.file])) : new Map<string, string>();
  return new Map(paths.map((p) => [p, byPath.get(p) ?? join(dataDir, p)]));
}

/** The trial utterances embedded from the wavs of --data-dir with --load_path. */
async function embedTrialUtterances(list: TrialList, opts: ScoreOptions): Promise<Embeddings & { model: string }> {
  const paths = [...new Set(list.trials.flatMap((t) => [t.enrol, t.test]))];
  const files = filesUnder(opts.dataDir!, paths);
  const embedder = await loadEmbedder(opts.load_path!, loadOptionsOf(opts));
  const r = await embedFiles(embedder, paths.map((p) => ({ id: p, file: files.get(p)!, where: list.file })), { progress: true });
  if (r.errors.length) {
    throw new UserError(`${r.errors.length} trial utterance(s) could not be embedded, so their trials cannot be scored:\n` +
      r.errors.slice(0, 20).map((e) => `${e.file}: ${e.reason}`).join('\n') + (r.errors.length > 20 ? `\n... (${r.errors.length - 20} more)` : ''), 1);
  }
  return { ids: r.ids, data: r.data, dim: r.dim, source: `${embedder.info.file} on ${opts.dataDir}`, model: embedder.info.file };
}

export async function scoreCommand(opts: ScoreOptions) {
  const method = eerMethodOf(opts.eerMethod);
  if (!!opts.embeddings === !!opts.load_path) throw new UserError('give either --embeddings <dir> (the output of `autospeech embed`) or --load_path <model> with --data-dir <dir>');
  if (opts.load_path && !opts.dataDir) throw new UserError('--load_path needs --data-dir <dir>: where the trial utterances are');
  if (opts.embeddings && opts.dataDir) throw new UserError('--data-dir goes with --load_path; --embeddings are already computed');
  let norm: NormMethod | undefined;
  if (opts.norm !== undefined) {
    if (!(NORM_METHODS as readonly string[]).includes(opts.norm)) throw new UserError(`--norm '${opts.norm}': expected ${NORM_METHODS.join(' or ')}`);
    norm = opts.norm as NormMethod;
    if (!opts.cohort) throw new UserError(`--norm ${norm} needs --cohort <embeddings dir>`);
  } else if (opts.cohort) throw new UserError('--cohort goes with --norm snorm|asnorm');
  if (opts.topN !== undefined && norm !== 'asnorm') throw new UserError('--top-n applies to --norm asnorm (S-norm uses the whole cohort)');
  const topN = opts.topN === undefined ? 300 : positiveInt(opts.topN, '--top-n');
  const trialsFile = !existsSync(opts.trials) && opts.dataDir && existsSync(join(opts.dataDir, opts.trials)) ? join(opts.dataDir, opts.trials) : opts.trials;
  const list = readTrialList(trialsFile);
  const cohort = norm ? readEmbeddings(opts.cohort!) : undefined;
  const emb = opts.embeddings ? readEmbeddings(opts.embeddings) : await embedTrialUtterances(list, opts);
  if (cohort && cohort.dim !== emb.dim) throw new UserError(`--cohort ${opts.cohort}: embeddings of dim ${cohort.dim}, ${emb.source} has dim ${emb.dim}`);

  // Every trial utterance must be there: one error listing what is not.
  const index = new UttIndex(emb.ids);
  const found = new Map<string, number>();
  const missing = new Set<string>();
  for (const t of list.trials) {
    for (const p of [t.enrol, t.test]) {
      if (found.has(p) || missing.has(p)) continue;
      const i = index.find(p);
      if (i === undefined) missing.add(p);
      else found.set(p, i);
    }
  }
  if (missing.size) {
    throw new UserError(`${trialsFile}: ${missing.size} trial utterance(s) are not in ${emb.source}, e.g. ${[...missing].slice(0, 3).join(', ')}: ` +
      'embed them first (ids match a trial path exactly or end in /<path>)');
  }

  let scores = list.trials.map((t) => cosine(row(emb, found.get(t.enrol)!), row(emb, found.get(t.test)!)));
  if (norm && cohort) {
    const unit = unitRows(cohort.data, cohort.ids.length, cohort.dim);
    const n = norm === 'snorm' ? cohort.ids.length : topN;
    const stats = new Map<string, CohortStats>();
    for (const [p, i] of found) {
      const s = cohortStats(row(emb, i), unit, cohort.ids.length, n);
      if (!(s.std > 0)) throw new UserError(`${p}: its top-${Math.min(n, cohort.ids.length)} cohort scores have zero spread: normalisation is undefined (use a larger --top-n or cohort)`);
      stats.set(p, s);
    }
    scores = list.trials.map((t, k) => normalizedScore(scores[k], stats.get(t.enrol)!, stats.get(t.test)!));
  }

  const lines = list.trials.map((t, k) => (list.labelled ? `${t.label} ${scores[k]} ${t.enrol} ${t.test}` : `${scores[k]} ${t.enrol} ${t.test}`));
  writeFileAtomic(opts.out, lines.join('\n') + '\n');

  const labels = list.trials.map((t) => t.label ?? 0);
  const targets = labels.filter((l) => l === 1).length;
  const metrics = list.labelled && targets > 0 && targets < labels.length;
  const eer = metrics ? eerBy(method, scores, labels) : null;
  const result = {
    eer: eer ? eer.eer : null,
    ...Object.fromEntries(P_TARGETS.map((p) => [`minDCF_${p}`, metrics ? minDcf(scores, labels, p) : null])),
    trials: list.trials.length,
    eer_method: method,
    eer_threshold: eer && Number.isFinite(eer.threshold) ? eer.threshold : null,
    norm: norm ?? null,
    ...(norm === 'asnorm' ? { top_n: Math.min(topN, cohort!.ids.length) } : {}),
    ...(cohort ? { cohort: cohort.ids.length } : {}),
    utterances: found.size,
    // the model file that embedded the trials (a run directory's checkpoint_best.ckpt, else last.ckpt)
    ...('model' in emb ? { model: emb.model } : { embeddings: opts.embeddings }),
    scores: opts.out,
  } as { eer: number | null; trials: number; eer_threshold: number | null; scores: string } & Record<string, unknown>;
  emit(result, opts.json, (r) => {
    const what = `${r.trials} trials${'model' in r ? ` embedded by ${r.model}` : ''}${norm ? `, ${norm}${norm === 'asnorm' ? ` top ${r.top_n}` : ''} over ${r.cohort} cohort embeddings` : ''}; scores in ${r.scores}`;
    if (r.eer === null) return `${what}${list.labelled ? ' (a single class of trials: no EER)' : ' (no labels: no EER)'}`;
    return `EER ${(100 * r.eer).toFixed(4)} % (${method})   minDCF(0.01) ${(r['minDCF_0.01'] as number).toFixed(4)}   minDCF(0.05) ${(r['minDCF_0.05'] as number).toFixed(4)}   ` +
      `EER threshold ${r.eer_threshold === null ? 'none' : r.eer_threshold.toPrecision(6)}   ${what}`;
  });
}

export function register(program: Command): void {
  addModelOptions(program.command('score'), false)
    .description('score a trial list from embeddings (or a model and the wavs): cosine, optional S-norm / AS-norm, EER and minDCF')
    .requiredOption('--trials <file>', "'<1|0> enrol test' (VoxCeleb1-O/E/H and cleaned lists as distributed), 'enrol test', or Kaldi 'enrol test target|nontarget'")
    .option('--embeddings <dir>', 'the output of `autospeech embed` (or a Kaldi embeddings .scp/.ark)')
    .option('--data-dir <dir>', 'with --load_path: where the trial utterances are (VoxCeleb1 layout, or <dir>/<trial path>)')
    .option('--norm <method>', `score normalisation: ${NORM_METHODS.join(' | ')} (WeSpeaker's score_norm.py)`)
    .option('--cohort <dir>', 'cohort embeddings (the output of `autospeech embed`) for --norm')
    .option('--top-n <N>', 'asnorm: the top N cohort scores per utterance (default 300)')
    .option('--eer-method <m>', EER_METHOD_HELP, 'reference')
    .requiredOption('--out <scores.txt>', "score file: 'label score enrol test' per trial (or 'score enrol test'), in trial order")
    .option('--json', 'machine-readable output (rates as fractions)')
    .action((opts: ScoreOptions) => scoreCommand(opts));
}
