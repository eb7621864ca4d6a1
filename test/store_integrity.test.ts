// A damaged feature store is found and named, never read as if it were whole: shard sizes are
// checked on open, checksums by `data check` and when preprocess reuses a shard (which then
// rebuilds it, as it does for shards whose wavs changed), and a shard truncated while a run reads
// it is an error from the checked read path, not a SIGBUS.
import test from 'ava';
import { mkdirSync, mkdtempSync, readFileSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FeatureStore } from '../lib/data/store.ts';
import { encodeWav16 } from '../lib/data/wav.ts';
import { cli } from './helpers/cli.ts';

const voice = (seed: number) => encodeWav16(Int16Array.from({ length: 56000 }, (_, i) => Math.round(5000 * Math.sin(i / (5 + seed)) + 700 * Math.sin(i * 0.91 * seed))));

function preprocessed(): { root: string; store: string; dir: string } {
  const root = mkdtempSync(join(tmpdir(), 'integrity-'));
  const dir = join(root, 'dev', 'wav', 'id00001', 'vid');
  mkdirSync(dir, { recursive: true });
  for (let i = 1; i <= 4; i++) writeFileSync(join(dir, `0000${i}.wav`), voice(i));
  const r = cli(['preprocess', root, '--shard-files', '2', '--json']);
  if (r.status !== 0) throw new Error(r.stderr);
  return { root, store: join(root, 'store'), dir };
}

const shard = (store: string, s: number) => join(store, `shard_000${s}.f32`);

test('a truncated shard: opening the store names it (exit 2), data check reports it (exit 1), preprocess rebuilds it byte-identically', (t) => {
  const { root, store } = preprocessed();
  const original = readFileSync(shard(store, 1));
  truncateSync(shard(store, 1), original.length - 4096);
  const open = () => new FeatureStore(store).reader;
  t.throws(open, { message: /shard_0001\.f32: \d+ bytes, the store's index says \d+ \(truncated or overwritten\); re-run preprocess/ });
  const check = cli(['data', 'check', root]);
  t.is(check.status, 1, check.stderr);
  t.regex(check.stderr, /damaged shard .*shard_0001\.f32: \d+ bytes, \d+ recorded/);
  const again = cli(['preprocess', root, '--shard-files', '2', '--json']);
  t.is(again.status, 0, again.stderr);
  const s = JSON.parse(again.stdout);
  t.is(s.reusedShards, 1);
  t.deepEqual(s.rebuiltShards.map((b: { shard: number }) => b.shard), [1]);
  t.regex(s.rebuiltShards[0].reason, /truncated or overwritten/);
  t.deepEqual(readFileSync(shard(store, 1)), original);
  t.is(cli(['data', 'check', root]).status, 0);
});

test('a shard overwritten with other bytes of the same size fails its checksum and is rebuilt', (t) => {
  const { root, store } = preprocessed();
  const original = readFileSync(shard(store, 0));
  const garbage = Buffer.from(original);
  garbage.fill(0x7f, 1000, 2000);
  writeFileSync(shard(store, 0), garbage);
  const check = cli(['data', 'check', root]);
  t.is(check.status, 1);
  t.regex(check.stderr, /shard_0000\.f32: checksum mismatch \(corrupt\)/);
  const again = cli(['preprocess', root, '--shard-files', '2', '--json']);
  t.is(again.status, 0, again.stderr);
  t.regex(JSON.parse(again.stdout).rebuiltShards[0].reason, /fails its checksum/);
  t.deepEqual(readFileSync(shard(store, 0)), original);
});

test('a changed wav makes its shard stale: preprocess rebuilds that shard only', (t) => {
  const { root, dir } = preprocessed();
  writeFileSync(join(dir, '00003.wav'), voice(7));
  utimesSync(join(dir, '00003.wav'), new Date(), new Date(Date.now() + 5000));
  const again = cli(['preprocess', root, '--shard-files', '2', '--json']);
  t.is(again.status, 0, again.stderr);
  const s = JSON.parse(again.stdout);
  t.is(s.reusedShards, 1);
  t.deepEqual(s.rebuiltShards.map((b: { shard: number; reason: string }) => [b.shard, /00003\.wav changed/.test(b.reason)]), [[1, true]]);
});

test('a shard truncated while a reader has it open: a clear error naming the shard, not a SIGBUS', async (t) => {
  const { store } = preprocessed();
  const s = new FeatureStore(store);
  const u = s.index.utterances.findIndex((x) => x.shard === 1);
  t.is(s.read(u).length, s.index.utterances[u].frames * 257); // opened and readable
  truncateSync(shard(store, 1), 0);
  t.throws(() => s.read(u), { message: /shard_0001\.f32: reading \d+ bytes at offset \d+ returned end of file .*truncated or replaced while this run read it/ });
  const plan = new Int32Array([1, s.index.utterances[u].offset, s.index.utterances[u].frames]);
  const norm = s.meanStd();
  await t.throwsAsync(s.reader.windows(plan, 300, norm.mean, norm.std), { message: /shard_0001\.f32: reading/ });
  s.close();
});
