// demo-compare names the first pipeline stage where two demo runs part, next to the environment.
import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { compareResults } from '../lib/run/compare_results.ts';
import { cli } from './helpers/cli.ts';

const base = {
  top1: 0.8, top1_per_utterance: 0.79, eer: 0.17, 'minDCF_0.01': 0.7, 'minDCF_0.05': 0.6, params: 1000,
  fingerprint: {
    data_sha256: 'd1', data_files: 3, store_sha256: 's1', genotype_sha256: 'g1', weights_sha256: { identification: 'i1', verification: 'v1' },
    threads: 2, cpu: { model: 'Xeon A', isa: ['avx2'], caches: 'L2 1280K' }, packages: { sox: '14.4' },
  },
};

test('identical runs: every stage the same', (t) => {
  const r = compareResults(base, structuredClone(base));
  t.is(r.firstDifferentStage, undefined);
  t.true(r.rows.every((x) => x.same));
});

test('the first differing stage is named, later ones and the CPU difference are listed', (t) => {
  const b = structuredClone(base) as any;
  b.fingerprint.genotype_sha256 = 'g2';
  b.fingerprint.weights_sha256.identification = 'i2';
  b.fingerprint.cpu.caches = 'L2 2048K';
  b.top1 = 0.86;
  const r = compareResults(base, b);
  t.is(r.firstDifferentStage, '3 searched genotype');
  t.deepEqual(r.rows.filter((x) => !x.same).map((x) => x.stage), ['cpu.caches', '3 searched genotype', '4 identification weights', 'top1']);
});

test('CLI: exit 1 and the stage when runs differ, exit 2 for a file without a fingerprint', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'cmp-'));
  const b = structuredClone(base) as any;
  b.fingerprint.store_sha256 = 's2';
  writeFileSync(join(dir, 'a.json'), JSON.stringify(base));
  writeFileSync(join(dir, 'b.json'), JSON.stringify(b));
  writeFileSync(join(dir, 'old.json'), JSON.stringify({ top1: 0.8 }));
  const same = cli(['demo-compare', join(dir, 'a.json'), join(dir, 'a.json')]);
  t.is(same.status, 0, same.stderr);
  t.regex(same.stdout, /every stage is identical/);
  const diff = cli(['demo-compare', join(dir, 'a.json'), join(dir, 'b.json')]);
  t.is(diff.status, 1);
  t.regex(diff.stdout, /first stage that differs: 2 feature store/);
  const old = cli(['demo-compare', join(dir, 'a.json'), join(dir, 'old.json')]);
  t.is(old.status, 2);
  t.regex(old.stderr, /old\.json: no "fingerprint" field/);
});
