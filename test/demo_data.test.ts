// The built-in demo data: official formats, whole sessions held out, verification speakers kept
// out of dev, flite/festival voices first, bit-identical for a seed.
import test from 'ava';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cli } from './helpers/cli.ts';

function generate(seed: number): string {
  const dir = join(mkdtempSync(join(tmpdir(), 'demo-data-')), 'd');
  const r = cli(['demo-data', dir, '--preset', 'tiny', '--speakers', '8', '--utterances', '7', '--seed', String(seed), '--json']);
  if (r.status !== 0) throw new Error(r.stderr);
  return dir;
}

const wavs = (dir: string): string[] => ['dev', 'test'].flatMap((part) => {
  const root = join(dir, part, 'wav');
  return readdirSync(root, { recursive: true }).map(String).filter((f) => f.endsWith('.wav')).map((f) => `${part}/wav/${f}`);
}).sort();

test.serial('demo-data: formats, session hold-out, disjoint verification speakers, engines, determinism', (t) => {
  const a = generate(5), b = generate(5), c = generate(6);
  const files = wavs(a);
  t.is(files.length, 56);
  t.deepEqual(wavs(b), files);
  for (const f of files) t.true(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f);
  t.notDeepEqual(readFileSync(join(c, 'iden_split.txt'), 'utf8'), readFileSync(join(a, 'iden_split.txt'), 'utf8'));
  // vox1_meta.csv: the official tab-separated header, Set dev|test
  const meta = readFileSync(join(a, 'vox1_meta.csv'), 'utf8').trim().split('\n');
  t.is(meta[0], 'VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet');
  const set = new Map(meta.slice(1).map((l) => { const c = l.split('\t'); return [c[0], c[4]]; }));
  t.deepEqual([...set.values()].filter((s) => s === 'test').length, 2);
  // iden_split.txt: "<1|2|3> spk/video/nnnnn.wav"; per speaker, val and test are one whole video each
  const iden = readFileSync(join(a, 'iden_split.txt'), 'utf8').trim().split('\n').map((l) => l.split(' '));
  t.is(iden.length, 56);
  const videos = new Map<string, Map<string, Set<string>>>();
  for (const [s, path] of iden) {
    t.regex(path, /^id\d{5}\/[\w-]{11}\/\d{5}\.wav$/);
    const [spk, video] = path.split('/');
    if (!videos.has(spk)) videos.set(spk, new Map());
    const m = videos.get(spk)!;
    if (!m.has(s)) m.set(s, new Set());
    m.get(s)!.add(video);
  }
  for (const [spk, m] of videos) {
    t.is(m.get('2')!.size, 1, spk);
    t.is(m.get('3')!.size, 1, spk);
    for (const v of [...m.get('2')!, ...m.get('3')!]) t.false(m.get('1')!.has(v), `${spk}: ${v} is held out whole`);
  }
  // veri_test.txt: test speakers only (never in dev), both labels
  const trials = readFileSync(join(a, 'veri_test.txt'), 'utf8').trim().split('\n').map((l) => l.split(' '));
  t.true(trials.some((x) => x[0] === '1') && trials.some((x) => x[0] === '0'));
  for (const [label, x, y] of trials) {
    t.is(set.get(x.split('/')[0]), 'test');
    t.is(set.get(y.split('/')[0]), 'test');
    t.is(label === '1', x.split('/')[0] === y.split('/')[0]);
  }
  const devSpeakers = new Set(files.filter((f) => f.startsWith('dev/')).map((f) => f.split('/')[2]));
  for (const [id, s] of set) t.is(devSpeakers.has(id), s === 'dev', id);
  // the six flite/festival voices built on real people's recordings come first, then espeak-ng
  const tsv = readFileSync(join(a, 'speakers.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
  t.deepEqual(tsv.map((c) => c[3]).sort(), ['espeak-ng', 'espeak-ng', 'festival', 'festival', 'flite', 'flite', 'flite', 'flite']);
  t.regex(readFileSync(join(a, 'README.txt'), 'utf8'), /^VoxLike-Synth-8: .*\(NOT VoxCeleb\)/);
});

test('demo-data rejects impossible sizes with a clear error', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-bad-'));
  const r = cli(['demo-data', dir, '--speakers', '3']);
  t.is(r.status, 2);
  t.regex(r.stderr, /need at least 4 synthetic speakers \(or 0 with --real\)/);
  const u = cli(['demo-data', dir, '--speakers', '5', '--utterances', '2']);
  t.regex(u.stderr, /need at least 6 utterances per speaker/);
  t.is(cli(['demo-data', dir, '--clean']).status, 2);
});
