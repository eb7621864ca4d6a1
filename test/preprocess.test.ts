// A preprocess killed with SIGKILL and rerun ends byte-identical to an uninterrupted run.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { BIN, cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';

test.serial('preprocess: SIGKILL mid-run, rerun, byte-identical store', async (t) => {
  const data = await tinyDemoSet();
  const a = mkdtempSync(join(tmpdir(), 'store-a-'));
  const b = mkdtempSync(join(tmpdir(), 'store-b-'));
  t.is(cli(['preprocess', data, '--out', a, '--shard-files', '1']).status, 0);
  await new Promise<void>((resolve, reject) => {
    // Serial tests only: a concurrent test's spawnSync would block this polling loop.
    const p = spawn(process.execPath, [BIN, 'preprocess', data, '--out', b, '--shard-files', '1', '--workers', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr!.on('data', (d) => (err += d));
    const timer = setInterval(() => {
      if (readdirSync(b).filter((f) => f.endsWith('.json') && f.startsWith('shard_')).length >= 3) { clearInterval(timer); p.kill('SIGKILL'); }
    }, 5);
    p.on('exit', (code, signal) => { clearInterval(timer); signal === 'SIGKILL' ? resolve() : reject(new Error(`preprocess ended (${code}) before it was killed: ${err}`)); });
  });
  t.false(existsSync(join(b, 'index.json')), 'killed before the index was written');
  const rerun = cli(['preprocess', data, '--out', b, '--shard-files', '1', '--json']);
  t.is(rerun.status, 0, rerun.stderr);
  t.true(JSON.parse(rerun.stdout).reusedShards >= 3);
  const files = readdirSync(a).filter((f) => !f.startsWith('.')).sort();
  t.deepEqual(readdirSync(b).filter((f) => !f.startsWith('.')).sort(), files);
  t.true(files.length > 100);
  for (const f of files) t.true(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), f);
});

test.serial('preprocess with 1 and 3 worker processes writes byte-identical stores', (t) => {
  return tinyDemoSet().then((data) => {
    const one = mkdtempSync(join(tmpdir(), 'store-w1-'));
    const three = mkdtempSync(join(tmpdir(), 'store-w3-'));
    t.is(cli(['preprocess', data, '--out', one, '--shard-files', '7', '--workers', '1']).status, 0);
    const r = cli(['preprocess', data, '--out', three, '--shard-files', '7', '--workers', '3', '--json']);
    t.is(r.status, 0, r.stderr);
    t.is(JSON.parse(r.stdout).workers, 3);
    const files = readdirSync(one).sort();
    t.deepEqual(readdirSync(three).sort(), files);
    for (const f of files) t.true(readFileSync(join(one, f)).equals(readFileSync(join(three, f))), f);
    const bad = cli(['preprocess', data, '--out', three, '--workers', '0']);
    t.is(bad.status, 2);
    t.regex(bad.stderr, /--workers must be a positive integer/);
  });
});

test.serial('export to the reference layout and import back: identical arrays, splits and mean/std', async (t) => {
  const data = await tinyDemoSet();
  const root = mkdtempSync(join(tmpdir(), 'reflayout-'));
  const back = mkdtempSync(join(tmpdir(), 'store-back-'));
  t.is(cli(['store', 'export', join(data, 'store'), root]).status, 0);
  const spk = readdirSync(join(root, 'feature', 'dev'))[0];
  t.true(existsSync(join(root, 'feature', 'dev', spk, '_sources_train.txt')));
  t.regex(readFileSync(join(root, 'feature', 'dev', spk, '_sources.txt'), 'utf8').split('\n')[0], new RegExp(`^[\\w-]{11}_\\d{5}\\.npy,dev/wav/${spk}/`));
  const r = cli(['store', 'import', root, back]);
  t.is(r.status, 0, r.stderr);
  const { FeatureStore } = await import('../lib/data/store.ts');
  const a = new FeatureStore(join(data, 'store'));
  const b = new FeatureStore(back);
  const key = (u: { path: string }) => u.path;
  const ib = new Map(b.index.utterances.map((u, i) => [key(u), i]));
  t.is(b.index.utterances.length, a.index.utterances.length);
  a.index.utterances.forEach((u, i) => {
    const j = ib.get(key(u))!;
    t.is(b.index.utterances[j].iden, u.iden);
    t.is(b.index.utterances[j].speaker, u.speaker);
    t.deepEqual(b.read(j), a.read(i));
  });
  t.deepEqual(b.meanStd(), a.meanStd());
});

test.serial('data check: counts, durations and the MFCC baseline', async (t) => {
  const data = await tinyDemoSet();
  const r = cli(['data', 'check', data, '--json']);
  t.is(r.status, 0, r.stderr);
  const x = JSON.parse(r.stdout);
  t.is(x.utterances, 96);
  t.is(x.speakers, 8);
  t.deepEqual(x.parts, { dev: { utterances: 72, speakers: 6 }, test: { utterances: 24, speakers: 2 } });
  t.deepEqual(x.iden, { train: 64, val: 16, test: 16, none: 0 });
  t.true(x.minSeconds >= 3 && x.maxSeconds < 6);
  t.true(x.baseline.eer >= 0 && x.baseline.eer < 0.5);
  t.true(x.baseline.top1 > 1 / 8, `nearest-centroid top-1 ${x.baseline.top1} above chance`);
});
