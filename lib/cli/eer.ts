// `autospeech eer --scores <file>`: EER (reference-exact) and minDCF from a score file.
import type { Command } from 'commander';
import { existsSync, readFileSync } from 'node:fs';

import { UserError } from '../errors.ts';
import { EER_METHODS, type EerMethod, eerBy, minDcf } from '../metrics/eer.ts';
import { suggest } from '../util/edit_distance.ts';
import { emit } from './output.ts';

/** `label score` or `label score path1 path2` per line (label 0/1). */
export function readScoreFile(file: string): { scores: number[]; labels: number[] } {
  if (!existsSync(file)) throw new UserError(`${file} not found`);
  const scores: number[] = [], labels: number[] = [];
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const text = raw.trim();
    if (text === '' || text.startsWith('#')) return;
    const f = text.split(/\s+/);
    const where = `${file}:${i + 1}`;
    if (f.length !== 2 && f.length !== 4) throw new UserError(`${where}: expected 'label score' or 'label score path path', got ${f.length} fields`);
    if (f[0] !== '0' && f[0] !== '1') throw new UserError(`${where}: label must be 0 or 1, got '${f[0]}'`);
    const s = Number(f[1]);
    if (f[1] === '' || !Number.isFinite(s)) throw new UserError(`${where}: score '${f[1]}' is not a finite number`);
    labels.push(Number(f[0]));
    scores.push(s);
  });
  if (scores.length === 0) throw new UserError(`${file}: no trials`);
  const positives = labels.filter((l) => l === 1).length;
  if (positives === 0 || positives === labels.length) throw new UserError(`${file}: needs both target (1) and non-target (0) trials`);
  return { scores, labels };
}

/** --eer-method's value, or one clear error. */
export function eerMethodOf(text: string): EerMethod {
  if (!(EER_METHODS as readonly string[]).includes(text)) throw new UserError(`--eer-method '${text}': expected ${EER_METHODS.join(' or ')}${suggest(text, EER_METHODS)}`);
  return text as EerMethod;
}

export const EER_METHOD_HELP = "reference: the AutoSpeech reference's fpr at argmin |fnr - fpr| on sklearn's ROC; interp: brentq(1 - x - interp1d(fpr, tpr)(x)) on the same ROC, the interpolated crossing WeSpeaker/SpeechBrain-style recipes report";

export function register(program: Command): void {
  program
    .command('eer')
    .description('EER exactly as the reference (sklearn ROC with drop_intermediate, first argmin) and minDCF at p_target 0.01 / 0.05')
    .requiredOption('--scores <file>', "'label score' or 'label score path path' per line")
    .option('--eer-method <m>', EER_METHOD_HELP, 'reference')
    .option('--json', 'machine-readable output (EER as a fraction)')
    .action((opts: { scores: string; eerMethod: string; json?: boolean }) => {
      const method = eerMethodOf(opts.eerMethod);
      const { scores, labels } = readScoreFile(opts.scores);
      const result = { eer: eerBy(method, scores, labels).eer, 'minDCF_0.01': minDcf(scores, labels, 0.01), 'minDCF_0.05': minDcf(scores, labels, 0.05), trials: scores.length };
      emit(result, opts.json, (r) => `EER ${(100 * r.eer).toFixed(4)} %   minDCF(0.01) ${r['minDCF_0.01'].toFixed(4)}   minDCF(0.05) ${r['minDCF_0.05'].toFixed(4)}   ${r.trials} trials`);
    });
}
