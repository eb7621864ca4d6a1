// `autospeech score` on embeddings directories (no model: fast): trial-order score files in both
// trial forms, trial paths matched to absolute ids by their relative path, S-norm and AS-norm
// against an independent float64 computation written plainly here, the interpolated EER on a
// hand-computed ROC, and bad input (an utterance that was not embedded, an ambiguous path, bad
// options) as one clear error with nothing written.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeNpy } from '../lib/io/npy.ts';
import { computeEer, computeEerInterp, minDcf } from '../lib/metrics/eer.ts';
import { Prng } from '../lib/util/prng.ts';
import { cli } from './helpers/cli.ts';

const work = mkdtempSync(join(tmpdir(), 'score-'));
const DIM = 6;

/** An embeddings directory as `embed` writes it, from plain arrays. */
function writeDir(dir: string, ids: string[], rows: number[][]): void {
  mkdirSync(dir, { recursive: true });
  writeNpy(join(dir, 'embeddings.npy'), { data: Float32Array.from(rows.flat()), shape: [rows.length, DIM] });
  writeFileSync(join(dir, 'utts.txt'), ids.map((i) => `${i}\n`).join(''));
}

const rng = new Prng(11);
const randomRow = () => Array.from({ length: DIM }, () => Math.fround(2 * rng.next() - 1));
// 4 speakers x 2 utterances, ids as absolute paths the way `embed --list` records them
const rel = Array.from({ length: 8 }, (_, i) => `id1000${Math.floor(i / 2)}/vid${i % 2}/0000${i % 2 + 1}.wav`);
const ids = rel.map((p) => `/corpus/vox1/test/wav/${p}`);
const speakerMean = Array.from({ length: 4 }, randomRow);
const evalRows = rel.map((_, i) => speakerMean[Math.floor(i / 2)].map((v) => Math.fround(v + 0.6 * (2 * rng.next() - 1))));
const cohortRows = Array.from({ length: 9 }, randomRow);
const EVAL = join(work, 'eval'), COHORT = join(work, 'cohort');
writeDir(EVAL, ids, evalRows);
writeDir(COHORT, Array.from({ length: 9 }, (_, i) => `cohort_${i}`), cohortRows);
const trials: [number, number, number][] = [];
for (let a = 0; a < 8; a++) for (let b = a + 1; b < 8; b++) trials.push([Math.floor(a / 2) === Math.floor(b / 2) ? 1 : 0, a, b]);
const TRIALS = join(work, 'trials.txt');
writeFileSync(TRIALS, trials.map(([l, a, b]) => `${l} ${rel[a]} ${rel[b]}`).join('\n') + '\n');

// ---- the independent computation, float64, plain loops ----
function cos64(x: number[], y: number[]): number {
  let d = 0, nx = 0, ny = 0;
  for (let k = 0; k < x.length; k++) { d += x[k] * y[k]; nx += x[k] * x[k]; ny += y[k] * y[k]; }
  return d / Math.sqrt(nx * ny);
}
function topStats(x: number[], topN: number): { mean: number; std: number } {
  const s = cohortRows.map((c) => cos64(x, c)).sort((p, q) => q - p).slice(0, topN);
  const mean = s.reduce((a, b) => a + b, 0) / s.length;
  const variance = s.reduce((a, b) => a + (b - mean) * (b - mean), 0) / s.length;
  return { mean, std: Math.sqrt(variance) };
}
function expected(norm: 'none' | 'snorm' | 'asnorm', topN = 300): number[] {
  return trials.map(([, a, b]) => {
    const raw = cos64(evalRows[a], evalRows[b]);
    if (norm === 'none') return raw;
    const n = norm === 'snorm' ? cohortRows.length : topN;
    const e = topStats(evalRows[a], n), t = topStats(evalRows[b], n);
    return 0.5 * ((raw - e.mean) / e.std + (raw - t.mean) / t.std);
  });
}

function readScores(file: string): { label: string; score: number; a: string; b: string }[] {
  return readFileSync(file, 'utf8').trim().split('\n').map((l) => {
    const [label, score, a, b] = l.split(' ');
    return { label, score: Number(score), a, b };
  });
}

for (const [norm, args, topN] of [
  ['none', [], 0],
  ['snorm', ['--norm', 'snorm', '--cohort', COHORT], 0],
  ['asnorm', ['--norm', 'asnorm', '--cohort', COHORT, '--top-n', '3'], 3],
] as const) {
  test(`score ${norm}: every trial's score in trial order equals the independent float64 computation, EER/minDCF from those scores`, (t) => {
    const out = join(work, `scores_${norm}.txt`);
    const r = cli(['score', '--embeddings', EVAL, '--trials', TRIALS, ...args, '--out', out, '--json']);
    t.is(r.status, 0, r.stderr);
    const j = JSON.parse(r.stdout);
    const want = expected(norm, topN);
    const got = readScores(out);
    t.is(got.length, trials.length);
    got.forEach((g, k) => {
      t.is(g.label, String(trials[k][0]));
      t.is(g.a, rel[trials[k][1]]);
      t.is(g.b, rel[trials[k][2]]);
      t.true(Math.abs(g.score - want[k]) <= 1e-12 * Math.max(1, Math.abs(want[k])), `trial ${k}: ${g.score} vs ${want[k]}`);
    });
    const labels = trials.map(([l]) => l);
    t.is(j.trials, trials.length);
    t.is(j.eer, computeEer(got.map((g) => g.score), labels).eer);
    t.is(j['minDCF_0.01'], minDcf(got.map((g) => g.score), labels, 0.01));
    t.is(j['minDCF_0.05'], minDcf(got.map((g) => g.score), labels, 0.05));
    t.is(j.norm, norm === 'none' ? null : norm);
    if (norm === 'asnorm') t.is(j.top_n, 3);
    // the score file is what `autospeech eer` reads
    const e = cli(['eer', '--scores', out, '--json']);
    t.is(e.status, 0, e.stderr);
    t.is(JSON.parse(e.stdout).eer, j.eer);
  });
}

test('asnorm with --top-n beyond the cohort is S-norm (numpy slice semantics)', (t) => {
  const a = join(work, 'as_big.txt'), s = join(work, 's_all.txt');
  t.is(cli(['score', '--embeddings', EVAL, '--trials', TRIALS, '--norm', 'asnorm', '--cohort', COHORT, '--top-n', '300', '--out', a]).status, 0);
  t.is(cli(['score', '--embeddings', EVAL, '--trials', TRIALS, '--norm', 'snorm', '--cohort', COHORT, '--out', s]).status, 0);
  t.is(readFileSync(a, 'utf8'), readFileSync(s, 'utf8'));
});

test('label-less trials: `score enrol test` lines, no EER', (t) => {
  const plain = join(work, 'plain.txt'), out = join(work, 'plain_scores.txt');
  writeFileSync(plain, trials.map(([, a, b]) => `${rel[a]} ${rel[b]}`).join('\n') + '\n');
  const r = cli(['score', '--embeddings', EVAL, '--trials', plain, '--out', out, '--json']);
  t.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.is(j.eer, null);
  t.is(j.trials, trials.length);
  const lines = readFileSync(out, 'utf8').trim().split('\n');
  const want = expected('none');
  lines.forEach((l, k) => {
    const [score, a, b] = l.split(' ');
    t.is(a, rel[trials[k][1]]);
    t.is(b, rel[trials[k][2]]);
    t.true(Math.abs(Number(score) - want[k]) <= 1e-12);
  });
});

test('interpolated EER: the ROC crossing on a hand-computed case; the reference argmin differs', (t) => {
  // targets 0.9, 0.6, 0.6, 0.2; non-targets 0.6, 0.6, 0.3, 0.1. ROC (fpr, tpr) after sklearn's
  // drop_intermediate: (0,0) (0,.25) (.5,.75) (.75,.75) (.75,1) (1,1); thresholds inf .9 .6 .3 .2 .1.
  // The crossing 1 - x = .25 + x on the tie segment is x = 0.375, its threshold .9 + (.6 - .9) * .75.
  // The reference takes the point minimising |1 - tpr - fpr|: (.5, .75), EER 0.5, threshold 0.6.
  const scores = [0.9, 0.6, 0.6, 0.2, 0.6, 0.6, 0.3, 0.1], labels = [1, 1, 1, 1, 0, 0, 0, 0];
  const i = computeEerInterp(scores, labels);
  t.true(Math.abs(i.eer - 0.375) < 1e-11, String(i.eer));
  t.true(Math.abs(i.threshold - 0.675) < 1e-9, String(i.threshold));
  const r = computeEer(scores, labels);
  t.is(r.eer, 0.5);
  t.is(r.threshold, 0.6);
  // through the CLI
  const file = join(work, 'interp_scores.txt');
  writeFileSync(file, scores.map((s, k) => `${labels[k]} ${s}`).join('\n') + '\n');
  const e = cli(['eer', '--scores', file, '--eer-method', 'interp', '--json']);
  t.is(e.status, 0, e.stderr);
  t.true(Math.abs(JSON.parse(e.stdout).eer - 0.375) < 1e-11);
  // perfectly separated: EER 0 both ways
  t.is(computeEerInterp([0.9, 0.8, 0.1], [1, 1, 0]).eer, 0);
});

test('score --eer-method interp on embeddings equals computeEerInterp of its own scores', (t) => {
  const out = join(work, 'interp.txt');
  const r = cli(['score', '--embeddings', EVAL, '--trials', TRIALS, '--eer-method', 'interp', '--out', out, '--json']);
  t.is(r.status, 0, r.stderr);
  const got = readScores(out);
  t.is(JSON.parse(r.stdout).eer, computeEerInterp(got.map((g) => g.score), trials.map(([l]) => l)).eer);
  t.is(JSON.parse(r.stdout).eer_method, 'interp');
});

test('bad input: a trial naming an utterance that was not embedded, an ambiguous path, bad options: one clear error, no score file', (t) => {
  const cases: [string[], RegExp, number][] = [];
  const missing = join(work, 'missing_trials.txt');
  writeFileSync(missing, `1 ${rel[0]} ${rel[1]}\n0 ${rel[0]} id19999/nope/00001.wav\n`);
  cases.push([['--embeddings', EVAL, '--trials', missing], /missing_trials\.txt: 1 trial utterance\(s\) are not in .*eval, e\.g\. id19999\/nope\/00001\.wav: embed them first/, 2]);
  const AMB = join(work, 'ambiguous');
  writeDir(AMB, ['/a/id10000/vid0/00001.wav', '/b/id10000/vid0/00001.wav', ...ids.slice(1)], [evalRows[0], ...evalRows]);
  cases.push([['--embeddings', AMB, '--trials', TRIALS], /id10000\/vid0\/00001\.wav matches several embedded utterances \(\/a\/.*, \/b\/.*\)/, 2]);
  cases.push([['--embeddings', EVAL, '--trials', TRIALS, '--norm', 'znorm', '--cohort', COHORT], /--norm 'znorm': expected snorm or asnorm/, 2]);
  cases.push([['--embeddings', EVAL, '--trials', TRIALS, '--norm', 'asnorm'], /--norm asnorm needs --cohort/, 2]);
  cases.push([['--embeddings', EVAL, '--trials', TRIALS, '--norm', 'snorm', '--cohort', COHORT, '--top-n', '5'], /--top-n applies to --norm asnorm/, 2]);
  cases.push([['--embeddings', EVAL, '--trials', TRIALS, '--norm', 'asnorm', '--cohort', COHORT, '--top-n', '1'], /zero spread/, 2]);
  cases.push([['--trials', TRIALS], /give either --embeddings/, 2]);
  cases.push([['--embeddings', join(work, 'nowhere'), '--trials', TRIALS], /embeddings .*nowhere: no such file or directory/, 2]);
  const badTrials = join(work, 'bad_trials.txt');
  writeFileSync(badTrials, `1 ${rel[0]} ${rel[1]}\n${rel[0]} ${rel[1]}\n`);
  cases.push([['--embeddings', EVAL, '--trials', badTrials], /bad_trials\.txt:2: a 'plain' trial line in a list of 'voxceleb' lines/, 2]);
  const SHORT = join(work, 'short_utts');
  writeDir(SHORT, ids.slice(0, 7), evalRows);
  cases.push([['--embeddings', SHORT, '--trials', TRIALS], /utts\.txt has 7 lines but embeddings\.npy 8 rows/, 2]);
  cases.push([['--embeddings', EVAL, '--trials', TRIALS, '--eer-method', 'brent'], /--eer-method 'brent': expected reference or interp/, 2]);
  for (const [i, [args, message, status]] of cases.entries()) {
    const out = join(work, `bad_${i}.txt`);
    const r = cli(['score', ...args, '--out', out]);
    t.is(r.status, status, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, message, args.join(' '));
    t.is(r.stderr.split('\n').filter((l) => l.startsWith('autospeech: error:')).length, 1);
    t.false(r.stderr.includes('    at '));
    t.false(existsSync(out), 'no score file');
  }
});
