import test from 'ava';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { defaultConfig, loadConfig, parseLiteral } from '../lib/config/index.ts';

const tmp = mkdtempSync(join(tmpdir(), 'cfg-'));
const yamlFile = (name: string, text: string) => {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
};

test('defaults are the reference config/default.py values', (t) => {
  const c = defaultConfig();
  t.is(c.SEED, 3);
  t.is(c.TRAIN.END_EPOCH, 140);
  t.is(c.DATASET.PARTIAL_N_FRAMES, 32);
  t.is(c.MODEL.DROP_PATH_PROB, 0.2);
  t.is(c.MODEL.MIXING, 'gumbel');
  t.is(c.TRAIN.ARCH_ORDER, 'first');
});

test('every YAML under exps/ validates; the reference ones carry the reference values', (t) => {
  const files: string[] = [];
  const walk = (d: string) => readdirSync(d).forEach((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : f.endsWith('.yaml') && files.push(join(d, f))));
  walk('exps');
  t.true(files.length >= 10);
  for (const f of files) t.notThrows(() => loadConfig(f), f);
  const s = loadConfig('exps/search.yaml');
  t.deepEqual([s.TRAIN.BATCH_SIZE, s.TRAIN.END_EPOCH, s.TRAIN.ARCH_LR, s.TRAIN.ARCH_WD, s.MODEL.INIT_CHANNELS, s.MODEL.NUM_CLASSES, s.VAL_FREQ, s.MODEL.NAME], [2, 50, 0.001, 0.001, 16, 1251, 5, 'model_search']);
  const v = loadConfig('exps/scratch/scratch_veri.yaml');
  t.deepEqual([v.TRAIN.BATCH_SIZE, v.MODEL.NUM_CLASSES, v.DATASET.SUB_DIR, v.MODEL.INIT_CHANNELS, v.TRAIN.END_EPOCH], [48, 1211, 'dev', 128, 301]);
  t.is(loadConfig('exps/baseline/resnet34_iden.yaml').TRAIN.BATCH_SIZE, 128);
});

test('KEY VALUE overrides are parsed like yacs literal_eval and type-checked', (t) => {
  const c = loadConfig('exps/search.yaml', ['TRAIN.BATCH_SIZE', '4', 'MODEL.MIXING', 'softmax', 'TRAIN.FAST_SEARCH', 'True', 'EVAL.P_TARGETS', '[0.01, 0.001]', 'DATASET.DATA_DIR', "'/data/vox'"]);
  t.deepEqual([c.TRAIN.BATCH_SIZE, c.MODEL.MIXING, c.TRAIN.FAST_SEARCH, c.EVAL.P_TARGETS, c.DATASET.DATA_DIR], [4, 'softmax', true, [0.01, 0.001], '/data/vox']);
  t.is(loadConfig(undefined, ['TRAIN.WD', '0.0003']).TRAIN.WD, 0.0003);
  t.deepEqual(parseLiteral('(1, 2)'), [1, 2]);
  t.throws(() => loadConfig(undefined, ['TRAIN.BATCH_SIZE']), { message: /KEY VALUE pairs; 'TRAIN.BATCH_SIZE' has no value/ });
  t.throws(() => loadConfig(undefined, ['TRAIN.BATCH_SIZE', '2.5']), { message: /TRAIN.BATCH_SIZE must be an integer, got 2.5/ });
  t.throws(() => loadConfig(undefined, ['TRAIN.BACH_SIZE', '2']), { message: /unknown config key TRAIN.BACH_SIZE \(did you mean TRAIN.BATCH_SIZE\?\)/ });
  t.throws(() => loadConfig(undefined, ['MODEL.MIXING', 'argmax']), { message: /MODEL.MIXING must be one of 'gumbel', 'softmax'/ });
  t.throws(() => loadConfig(undefined, ['TRAIN', '3']), { message: /TRAIN is a section/ });
  t.throws(() => loadConfig(undefined, ['CUDNN.ENABLED', '1']), { message: /CUDNN.ENABLED must be a bool/ });
});

test('YAML errors name the file, line and key', (t) => {
  t.throws(() => loadConfig(join(tmp, 'missing.yaml')), { message: /config file .*missing.yaml not found/ });
  t.throws(() => loadConfig(yamlFile('a.yaml', 'TRAIN:\n  BATCH_SIZE: 4\n  LR: fast\n')), { message: /a.yaml:3: TRAIN.LR must be a number, got "fast"/ });
  t.throws(() => loadConfig(yamlFile('b.yaml', 'MODEL:\n  NAME: model\n  INIT_CHANELS: 16\n')), { message: /b.yaml:3: unknown config key MODEL.INIT_CHANELS \(did you mean MODEL.INIT_CHANNELS\?\)/ });
  t.throws(() => loadConfig(yamlFile('c.yaml', 'TRAIN:\n  LR: [1\n')), { message: /c.yaml:\d+: invalid YAML/ });
  t.throws(() => loadConfig(yamlFile('d.yaml', '- 1\n- 2\n')), { message: /d.yaml:1: the config must be a YAML mapping/ });
  t.throws(() => loadConfig(yamlFile('e.yaml', 'TRAINING:\n  LR: 0.1\n')), { message: /e.yaml:1: unknown config key TRAINING/ });
  t.throws(() => loadConfig(yamlFile('f.yaml', 'SEED: 1\nSEED: 2\n')), { message: /f.yaml:2: invalid YAML/ });
});

test('the resolved config is frozen', (t) => {
  const c = loadConfig(undefined);
  t.throws(() => { (c.TRAIN as { LR: number }).LR = 1; });
});
