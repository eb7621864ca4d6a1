// Recorded Debian voices for demo-data --real. The full run fetches ~300 MB of packages, so it
// runs only with AUTOSPEECH_TEST_REAL=1 (it needs apt sources); the clip-duration parser runs always.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { decodeClip, oggSeconds } from '../lib/data/real_voices.ts';
import { cli } from './helpers/cli.ts';

test('Ogg Vorbis durations come from the last granule position (checked against ffmpeg decoding)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ogg-'));
  const file = join(dir, 'tone.ogg');
  const r = spawnSync('ffmpeg', ['-v', 'error', '-f', 'lavfi', '-i', 'sine=frequency=300:sample_rate=22050:duration=3.7', '-c:a', 'libvorbis', file]);
  t.is(r.status, 0, String(r.stderr));
  t.true(Math.abs(oggSeconds(readFileSync(file)) - 3.7) < 1e-3);
  const samples = await decodeClip(file);
  t.true(Math.abs(samples.length / 16000 - 3.7) < 0.01);
  t.throws(() => oggSeconds(Buffer.from('RIFF....WAVEfmt ')), { message: /not an Ogg Vorbis/ });
});

const real = process.env.AUTOSPEECH_TEST_REAL === '1' ? test : test.skip;

real('demo-data --real: 9 recorded speakers, official formats, bit-identical for a seed', (t) => {
  const cache = process.env.AUTOSPEECH_VOICE_CACHE || mkdtempSync(join(tmpdir(), 'voices-'));
  const a = mkdtempSync(join(tmpdir(), 'real-a-'));
  const b = mkdtempSync(join(tmpdir(), 'real-b-'));
  for (const dir of [a, b]) {
    const r = cli(['demo-data', dir, '--speakers', '0', '--real', '--utterances', '12', '--voice-cache', cache, '--json']);
    t.is(r.status, 0, r.stderr);
    t.is(JSON.parse(r.stdout).name, 'VoxLike-Real-9');
  }
  const tsv = readFileSync(join(a, 'speakers.tsv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split('\t'));
  t.is(tsv.length, 9);
  t.deepEqual(tsv.filter((c) => c[1] === 'test').map((c) => c[3]), ['fillets_nl_v', 'asterisk_june', 'festvox_ru_nsh']);
  const list = (d: string) => spawnSync('find', [d, '-name', '*.wav'], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean).map((f) => f.slice(d.length)).sort();
  t.is(list(a).length, 108);
  for (const f of list(a)) t.true(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f);
  t.true(readdirSync(join(a, 'test', 'wav')).length === 3);
  const pre = cli(['preprocess', a, '--json']);
  t.is(pre.status, 0, pre.stderr);
  t.is(JSON.parse(pre.stdout).utterances, 108);
});
