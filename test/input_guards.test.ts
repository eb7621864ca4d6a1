// Inputs that used to slip through as wrong results or raw crashes: a silent wav (infinite gain,
// NaN features and statistics), a header claiming an absurd rate, dangling symlinks and symlink
// loops in the data tree. Each is now a per-file error record or one clear error line.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { encodeWav16 } from '../lib/data/wav.ts';
import { readNpy } from '../lib/io/npy.ts';
import { cli } from './helpers/cli.ts';

const voice = (seed: number) => encodeWav16(Int16Array.from({ length: 64000 }, (_, i) => Math.round(6000 * Math.sin(i / (7 + seed)) + 900 * Math.sin(i * 1.37 * seed))));

function dataTree(): { root: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'guards-'));
  const dir = join(root, 'dev', 'wav', 'id00001', 'vid');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, '00001.wav'), voice(1));
  writeFileSync(join(dir, '00002.wav'), voice(2));
  return { root, dir };
}

test('a silent wav is a per-file error: kept out of the store and of finite statistics, exit 1; `features` refuses it (exit 2)', (t) => {
  const { root, dir } = dataTree();
  writeFileSync(join(dir, '00003.wav'), encodeWav16(new Int16Array(64000)));
  const r = cli(['preprocess', root, '--json']);
  t.is(r.status, 1, r.stderr);
  const s = JSON.parse(r.stdout);
  t.is(s.utterances, 2);
  t.deepEqual(s.errors.map((e: { file: string; reason: string }) => [e.file.endsWith('00003.wav'), e.reason]), [[true, 'silent: all samples zero']]);
  for (const f of ['mean.npy', 'std.npy']) t.true((readNpy(join(root, 'store', f)).data as Float32Array).every(Number.isFinite), f);
  const index = JSON.parse(readFileSync(join(root, 'store', 'index.json'), 'utf8'));
  t.false(index.utterances.some((u: { path: string }) => u.path.endsWith('00003.wav')));
  for (const frontend of ['stft', 'fbank', 'logmel']) {
    const f = cli(['features', join(dir, '00003.wav'), '--out', join(root, 'x.npy'), '--frontend', frontend]);
    t.is(f.status, 2, frontend);
    t.regex(f.stderr, /00003\.wav: silent: all samples zero/, frontend);
  }
});

test('a header claiming 2 Hz is rejected at once, also with --resample', (t) => {
  const { root, dir } = dataTree();
  const bad = voice(3);
  bad.writeUInt32LE(2, 24); // sample rate
  bad.writeUInt32LE(4, 28); // byte rate
  writeFileSync(join(dir, '00003.wav'), bad);
  const t0 = Date.now();
  const r = cli(['preprocess', root, '--resample', '--json']);
  t.is(r.status, 1, r.stderr);
  t.true(Date.now() - t0 < 60_000);
  t.regex(JSON.parse(r.stdout).errors[0].reason, /sample rate 2 Hz is outside 1-384 kHz/);
  const f = cli(['features', join(dir, '00003.wav'), '--out', join(root, 'x.npy'), '--resample']);
  t.is(f.status, 2);
  t.regex(f.stderr, /sample rate 2 Hz is outside/);
});

test('dangling symlinks, symlink loops and directory cycles in the data tree are error records, not aborts', (t) => {
  const { root, dir } = dataTree();
  symlinkSync(join(root, 'nowhere.wav'), join(dir, '00003.wav'));
  symlinkSync(join(dir, '00005.wav'), join(dir, '00004.wav'));
  symlinkSync(join(dir, '00004.wav'), join(dir, '00005.wav'));
  symlinkSync(join(root, 'dev', 'wav', 'id00001'), join(dir, 'back')); // a directory cycle
  const r = cli(['preprocess', root, '--json']);
  t.is(r.status, 1, r.stderr);
  const s = JSON.parse(r.stdout);
  t.is(s.utterances, 2);
  const reasons = Object.fromEntries(s.errors.map((e: { file: string; reason: string }) => [e.file.slice(dir.length + 1), e.reason]));
  t.regex(reasons['00003.wav'], /dangling symlink to .*nowhere\.wav/);
  t.regex(reasons['00004.wav'], /symlink loop/);
  t.regex(reasons['00005.wav'], /symlink loop/);
  t.regex(reasons['back'], /symlink cycle/);
});
