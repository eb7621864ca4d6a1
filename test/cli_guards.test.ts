// What a newcomer meets first: --version, truthful help, one exit-code convention (2 = usage,
// config or input error, before anything is written; 1 = failure during the run), every numeric
// config key range-checked naming the key and where its value came from, a preflight memory
// estimate refusing configs this machine cannot hold, and --gumbel-noise with the wrong file count.
import test from 'ava';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DEFAULTS, RANGES, loadConfig } from '../lib/config/index.ts';
import { PRESETS } from '../lib/data/demo.ts';
import { estimateTrainingMemory, memoryRefusal } from '../lib/models/memory_estimate.ts';
import { cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';
import { FIXTURES, manifest } from './helpers/fixtures.ts';

const G = manifest('derived').scalars.genotype.value as string;

test('--version prints the package version; demo-data --help describes the presets as they are', (t) => {
  const v = cli(['--version']);
  t.is(v.status, 0);
  t.is(v.stdout.trim(), JSON.parse(readFileSync('package.json', 'utf8')).version);
  const h = cli(['demo-data', '--help']).stdout.replace(/\s+/g, ' ');
  for (const [name, p] of Object.entries(PRESETS)) t.true(h.includes(`${name} (${p.speakers} speakers x ${p.utterances} utterances of ${p.minSeconds}-${p.maxSeconds} s)`), name);
  t.regex(cli(['--help']).stdout, /Exit status: 0 success; 2 a usage, config or input error/);
});

test('every numeric config key has a range', (t) => {
  const numeric: string[] = [];
  const walk = (o: Record<string, unknown>, prefix: string) => {
    for (const [k, v] of Object.entries(o)) {
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, `${prefix}${k}.`);
      else if (typeof v === 'number' || (Array.isArray(v) && typeof v[0] === 'number')) numeric.push(`${prefix}${k}`);
    }
  };
  walk(DEFAULTS, '');
  t.deepEqual(numeric.filter((k) => !(k in RANGES)), []);
});

const tmp = mkdtempSync(join(tmpdir(), 'guards-cfg-'));
const yaml = (text: string) => {
  const f = join(tmp, `c${readdirSync(tmp).length}.yaml`);
  writeFileSync(f, text);
  return f;
};

test('out-of-range values name the key and the file:line or override they came from', (t) => {
  const cases: [string | undefined, string[], RegExp][] = [
    [yaml('TRAIN:\n  BATCH_SIZE: 0\n'), [], /c\d\.yaml:2: TRAIN\.BATCH_SIZE must be >= 1, got 0/],
    [undefined, ['TRAIN.BATCH_SIZE', '-4'], /override TRAIN\.BATCH_SIZE: TRAIN\.BATCH_SIZE must be >= 1, got -4/],
    [undefined, ['TRAIN.END_EPOCH', '-1'], /TRAIN\.END_EPOCH must be >= 0, got -1/],
    [undefined, ['TRAIN.STEPS_PER_EPOCH', '-2'], /TRAIN\.STEPS_PER_EPOCH must be >= 0/],
    [undefined, ['THREADS', '-1'], /THREADS must be in \[0, 1024\], got -1/],
    [yaml('MODEL:\n  NAME: model\n  DROP_PATH_PROB: 1.0\n'), [], /c\d\.yaml:3: MODEL\.DROP_PATH_PROB must be in \[0, 1\), got 1/],
    [undefined, ['TRAIN.DROPPATH_PROB', '1.5'], /TRAIN\.DROPPATH_PROB must be in \[0, 1\)/],
    [undefined, ['MODEL.INIT_CHANNELS', '0'], /MODEL\.INIT_CHANNELS must be >= 2, got 0/],
    [undefined, ['MODEL.INIT_CHANNELS', '5'], /MODEL\.INIT_CHANNELS must be a multiple of 2, got 5/],
    [undefined, ['TRAIN.LR', '-0.1'], /TRAIN\.LR must be >= 0, got -0\.1/],
    [undefined, ['SEED', '-3'], /override SEED: SEED must be in \[0, 9007199254740991\], got -3/],
    [undefined, ['EVAL.P_TARGETS', '[0.01, 1.5]'], /EVAL\.P_TARGETS must be in \(0, 1\), got \[0\.01,1\.5\]/],
    [undefined, ['TRAIN.BEGIN_EPOCH', '5', 'TRAIN.END_EPOCH', '3'], /TRAIN\.BEGIN_EPOCH \(5\) is after TRAIN\.END_EPOCH \(3\)/],
    [undefined, ['MODEL.CHANNELS', '60'], /MODEL\.CHANNELS must be a multiple of 8, got 60/],
    [undefined, ['MODEL.KERNEL_SIZE', '4'], /MODEL\.KERNEL_SIZE must be odd, got 4/],
  ];
  for (const [file, overrides, message] of cases) t.throws(() => loadConfig(file, overrides), { message }, overrides.join(' ') || file);
});

test.serial('bad values are refused before a run dir exists, exit 2; the memory preflight refuses MODEL.LAYERS 100000 (estimate in the message) unless --force', async (t) => {
  const data = await tinyDemoSet();
  const root = mkdtempSync(join(tmpdir(), 'guards-run-'));
  const base = ['train', '--cfg', 'exps/demo/scratch_iden.yaml', '--text_arch', G, 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'OUTPUT_DIR', root];
  const zero = cli([...base, 'TRAIN.BATCH_SIZE', '0']);
  t.is(zero.status, 2);
  t.regex(zero.stderr, /override TRAIN\.BATCH_SIZE: TRAIN\.BATCH_SIZE must be >= 1, got 0/);
  const huge = cli([...base, 'MODEL.LAYERS', '100000']);
  t.is(huge.status, 2);
  t.regex(huge.stderr, /needs an estimated [\d.]+ GiB per training step .*MODEL\.LAYERS from override MODEL\.LAYERS.*more than this machine's [\d.]+ GiB of RAM.*--force/);
  t.false(existsSync(root) && readdirSync(root).length > 0, 'no run dir was created');
  // The estimate follows the measured growth: the demo configs fit, the reference's full-size ones are in the GiB.
  const demo = estimateTrainingMemory(loadConfig('exps/demo/scratch_iden.yaml'))!;
  t.true(demo.bytes > 100 * 2 ** 20 && demo.bytes < 2 * 2 ** 30, String(demo.bytes));
  t.is(memoryRefusal(loadConfig('exps/demo/search.yaml')), null);
  t.truthy(memoryRefusal(loadConfig('exps/demo/scratch_iden.yaml', ['TRAIN.BATCH_SIZE', '4096']), 24 * 2 ** 30));
});

test('--gumbel-noise with fewer files than cells is an error, not fresh noise for the rest', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'noise-'));
  const src = join(FIXTURES, 'search', 'b_gumbel_hard');
  const files = readdirSync(src).filter((f) => /^gumbel_noise_\d+\.npy$/.test(f));
  t.is(files.length, 5); // one per cell of the fixture's 5-cell supernet
  mkdirSync(join(dir, 'few'));
  for (const f of files.filter((f) => f !== `gumbel_noise_${files.length - 1}.npy`)) copyFileSync(join(src, f), join(dir, 'few', f));
  const r = cli(['forward', '--cfg', 'exps/search.yaml', 'MODEL.INIT_CHANNELS', '4', 'MODEL.LAYERS', '5', 'MODEL.NUM_CLASSES', '10', '--weights', join(FIXTURES, 'search', 'state_dict'),
    '--input', join(FIXTURES, 'search', 'input.npy'), '--mode', 'eval', '--gumbel-noise', join(dir, 'few'), '--out', join(dir, 'out')]);
  t.is(r.status, 2, r.stderr);
  t.regex(r.stderr, new RegExp(`--gumbel-noise: .*few has gumbel_noise_0\\.\\.${files.length - 2}\\.npy \\(${files.length - 1} file\\(s\\)\\) but the network has ${files.length} cells`));
});

test('export --load_path takes a run directory (its checkpoint_best.ckpt, else last.ckpt) and names what is missing in one line', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'export-run-'));
  let r = cli(['export', '--load_path', join(dir, 'nope'), '--format', 'npy', '--out', join(dir, 'sd')]);
  t.is(r.status, 2);
  t.regex(r.stderr, /--load_path .*nope: no such file or directory/);
  mkdirSync(join(dir, 'run', 'Model'), { recursive: true });
  r = cli(['export', '--load_path', join(dir, 'run'), '--format', 'npy', '--out', join(dir, 'sd')]);
  t.is(r.status, 2);
  t.regex(r.stderr, /--load_path .*run: a run directory without Model\/checkpoint_best\.ckpt or Model\/last\.ckpt/);
  t.false(existsSync(join(dir, 'sd')));
});
