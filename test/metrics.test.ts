import test from 'ava';

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { detSvg, probit } from '../lib/metrics/det.ts';
import { computeEer, minDcf } from '../lib/metrics/eer.ts';
import { cli, cliJson } from './helpers/cli.ts';
import { identificationAccuracy } from '../lib/metrics/identification.ts';
import { rocCurve } from '../lib/metrics/roc.ts';
import { fixture, manifest } from './helpers/fixtures.ts';

const sets = manifest('eer').scalars.sets.value as { name: string; eer: number; eer_index: number; n_roc_points: number; eer_without_drop_intermediate: number }[];

for (const s of sets) {
  test(`EER fixture '${s.name}': exact, with the reference ROC`, (t) => {
    const scores = fixture('eer', s.name, 'scores.npy').data as Float32Array;
    const labels = Array.from(fixture('eer', s.name, 'labels.npy').data as BigInt64Array, Number);
    const r = computeEer(scores, labels);
    t.is(r.eer, s.eer);
    t.is(r.index, s.eer_index);
    const roc = rocCurve(scores, labels);
    t.is(roc.fps.length, s.n_roc_points);
    t.deepEqual(roc.fps, Array.from(fixture('eer', s.name, 'roc_fps.npy').data as BigInt64Array, Number));
    t.deepEqual(roc.tps, Array.from(fixture('eer', s.name, 'roc_tps.npy').data as BigInt64Array, Number));
    t.is(computeEer(scores, labels, false).eer, s.eer_without_drop_intermediate);
  });
}

test('minDCF equals a brute-force evaluation over all thresholds', (t) => {
  const scores = fixture('eer', 'random', 'scores.npy').data as Float32Array;
  const labels = Array.from(fixture('eer', 'random', 'labels.npy').data as BigInt64Array, Number);
  for (const p of [0.01, 0.05, 0.5]) {
    let best = Infinity;
    const thresholds = [...new Set(scores)].concat([Infinity]);
    const P = labels.filter((l) => l).length, N = labels.length - P;
    for (const th of thresholds) {
      let miss = 0, fa = 0;
      labels.forEach((l, i) => { if (l && scores[i] < th) miss++; if (!l && scores[i] >= th) fa++; });
      best = Math.min(best, (miss / P) * p + (fa / N) * (1 - p));
    }
    t.true(Math.abs(minDcf(scores, labels, p) - best / Math.min(p, 1 - p)) < 1e-12);
  }
  t.is(minDcf([0.9, 0.8, 0.1, 0.2], [1, 1, 0, 0], 0.01), 0);
});

test('identification accuracy: window-weighted (reference) and per utterance', (t) => {
  // 3 utterances, 3 classes: the first (4 windows) right, the second (1 window) wrong, the third (1 window) right
  const logits = Float32Array.from([5, 1, 0, 3, 1, 2, 0, 1, 9]);
  const r = identificationAccuracy(logits, 3, [0, 1, 2], [4, 1, 1]);
  t.is(r.top1, 5 / 6);
  t.is(r.top1PerUtterance, 2 / 3);
  t.is(r.top5, 1);
});

test('autospeech eer reproduces every fixture to 1e-7 and rejects malformed score files', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'eer-'));
  for (const s of sets) {
    const scores = fixture('eer', s.name, 'scores.npy').data as Float32Array;
    const labels = fixture('eer', s.name, 'labels.npy').data as BigInt64Array;
    // 9 significant digits round-trip float32 exactly
    const file = join(dir, `${s.name}.txt`);
    writeFileSync(file, Array.from(scores, (v, i) => `${labels[i]} ${v.toPrecision(9)} a/b/${i}.wav c/d/${i}.wav`).join('\n'));
    const r = cliJson<{ eer: number; trials: number }>(['eer', '--scores', file]);
    t.true(Math.abs(r.eer - s.eer) <= 1e-7, s.name);
    t.is(r.trials, scores.length);
  }
  const bad: [string, RegExp][] = [['1 0.5\n0 x\n', /:2: score 'x' is not a finite number/], ['2 0.5\n', /:1: label must be 0 or 1/], ['1 0.5 a\n', /:1: expected 'label score'/], ['', /no trials/], ['1 0.3\n1 0.4\n', /needs both target/], ['1 NaN\n0 1\n', /:1: score 'NaN'/]];
  bad.forEach(([text, message], i) => {
    const file = join(dir, `bad${i}.txt`);
    writeFileSync(file, text);
    const r = cli(['eer', '--scores', file]);
    t.is(r.status, 2);
    t.regex(r.stderr, message);
  });
});

test('DET curve: probit axis and a well-formed SVG marking the EER', (t) => {
  t.true(Math.abs(probit(0.975) - 1.959963985) < 1e-8);
  t.true(Math.abs(probit(0.01) + 2.326347874) < 1e-8);
  t.is(probit(0.5), 0);
  const scores = fixture('eer', 'random', 'scores.npy').data as Float32Array;
  const labels = Array.from(fixture('eer', 'random', 'labels.npy').data as BigInt64Array, Number);
  const svg = detSvg(scores, labels, computeEer(scores, labels).eer, 'random <set>');
  t.regex(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]*>.*<polyline[^>]*points="[0-9., ]+"\/>.*EER 21.00 %.*random &lt;set>.*<\/svg>\n$/s);
});
