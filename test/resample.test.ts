// --resample: librosa.load(sr=16000)'s resampling (resampy kaiser_best + fix_length), bit-identical
// to Debian's python3-resampy 0.4.2 (test/fixtures/resample, from scripts/make_resample_fixtures.py).
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encodeWav16 } from '../lib/data/wav.ts';
import { readNpy } from '../lib/io/npy.ts';
import { loadNative } from '../lib/native.ts';
import { cli } from './helpers/cli.ts';
import { FIXTURES } from './helpers/fixtures.ts';

const DIR = join(FIXTURES, '..', 'resample');

for (const rate of [44100, 22050, 8000]) {
  test(`${rate} Hz -> 16 kHz is bit-identical to resampy kaiser_best + librosa fix_length`, (t) => {
    const x = readNpy(join(DIR, `${rate}.in.npy`)).data as Float32Array;
    const want = readNpy(join(DIR, `${rate}.out.npy`)).data as Float32Array;
    const y = loadNative().resample(x, rate, 16000);
    t.is(y.length, want.length);
    t.deepEqual(y, want);
  });
}

test('resample: same rate is a copy; bad input is an error', (t) => {
  const x = Float32Array.from({ length: 100 }, (_, i) => Math.sin(i));
  t.deepEqual(loadNative().resample(x, 16000, 16000), x);
  t.throws(() => loadNative().resample(x, 0, 16000), { message: /positive integers/ });
  t.throws(() => loadNative().resample(new Float32Array(1), 44100, 16000), { message: /too few to resample/ });
  const nan = x.slice();
  nan[4] = Number.NaN;
  t.throws(() => loadNative().resample(nan, 8000, 16000), { message: /NaN/ });
});

test('preprocess --resample converts other rates (logged in the index); without it they are errors', (t) => {
  const root = mkdtempSync(join(tmpdir(), 'resample-'));
  const tone = (rate: number, seconds: number) => Int16Array.from({ length: Math.round(rate * seconds) }, (_, i) => Math.round(8000 * Math.sin((2 * Math.PI * 220 * i) / rate)));
  const put = (rel: string, rate: number) => {
    mkdirSync(join(root, 'wav', rel, '..'), { recursive: true });
    writeFileSync(join(root, 'wav', rel), encodeWav16(tone(rate, 3.5), rate));
  };
  put('id1/v1/00001.wav', 16000);
  put('id1/v1/00002.wav', 22050);
  put('id2/v1/00001.wav', 44100);
  const plain = cli(['preprocess', root, '--json', '--workers', '1']);
  t.is(plain.status, 1);
  t.regex(plain.stdout, /00002\.wav",\s*"reason": "sample rate 22050 Hz; 16000 Hz is required \(use --resample to convert\)"/);
  const r = cli(['preprocess', root, '--json', '--workers', '1', '--resample']);
  t.is(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout);
  t.is(s.utterances, 3);
  t.is(s.resampled, 2);
  t.is(s.reusedShards, 0, 'a shard built without --resample is rebuilt with it');
  const index = JSON.parse(readFileSync(join(root, 'store', 'index.json'), 'utf8'));
  t.deepEqual(index.utterances.map((u: { resampledFrom?: number }) => u.resampledFrom ?? 16000), [16000, 22050, 44100]);
  // 3.5 s at any rate -> 56000 samples -> 351 frames
  t.deepEqual(index.utterances.map((u: { frames: number }) => u.frames), [351, 351, 351]);
  const f = cli(['features', join(root, 'wav', 'id2', 'v1', '00001.wav'), '--out', join(root, 'f.npy'), '--resample', '--frontend', 'fbank']);
  t.is(f.status, 0, f.stderr);
  t.regex(f.stdout, /348 x 80 log-mel fbank \(resampled from 44100 Hz\)/);
});
