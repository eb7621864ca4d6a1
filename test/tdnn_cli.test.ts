// `autospeech tdnn macs|space|sample` through the real CLI (node bin/autospeech), on the
// EfficientTDNN fixtures: the acceptance interface's JSON shapes, the numbers of every manifest case,
// and one clear error (exit 2) for bad input.
import test from 'ava';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

import { BIN } from './helpers/cli.ts';
import { constructorDims, tdnnManifest } from './helpers/tdnn_fixtures.ts';

// at most two CLI processes at a time (the machine has 2 cores; ava starts every test at once)
let running = 0;
const waiting: (() => void)[] = [];
const run = async (args: string[]) => {
  if (running >= 2) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await spawnCli(args);
  } finally {
    running--;
    waiting.shift()?.();
  }
};
const spawnCli = async (args: string[]) => {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, 'tdnn', ...args], { encoding: 'utf8', maxBuffer: 16 << 20 });
    return { status: 0, stdout, stderr };
  } catch (err: any) {
    return { status: err.code as number, stdout: err.stdout as string, stderr: err.stderr as string };
  }
};
const json = async (args: string[]) => {
  const r = await run([...args, '--json']);
  if (r.status !== 0) throw new Error(`tdnn ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

const MACS = tdnnManifest('macs').scalars;
const SAMPLER = tdnnManifest('sampler').scalars;
const SUPERNET = tdnnManifest('supernet').scalars;
// a loaded 2-core machine can take seconds per CLI start
const LONG = 300_000;
const subnetText = ([d, c, k, cat]: [number, number[], number[], number]) => [d, ...c, ...k, cat].join('-');

test('tdnn macs --json: the issue numbers, {"macs", "params"} only', async (t) => {
  t.timeout(LONG);
  t.deepEqual(await json(['macs', '--subnet', '4-512-512-512-512-512-5-5-5-5-5-1536', '--frames', '300']), { macs: 1929261440, params: 7550528 });
  t.deepEqual(await json(['macs', '--subnet', '2-128-128-128-1-1-1-384', '--frames', '300', '--cfg', 'exps/tdnn/supernet.yaml']), { macs: 83474560, params: 443968 });
  const human = await run(['macs', '--subnet', '2-128-128-128-1-1-1-384', '--frames', '300']);
  t.is(human.status, 0);
  t.regex(human.stdout, /83,474,560 MACs \(83\.47M\), 443,968 params \(443\.97K\)/);
});

// every third config of macs/, each at one of the listed lengths in turn (the CLI's wiring; the
// library test covers every config at every length)
Object.entries(MACS.results.value as Record<string, any>).filter((_, i) => i % 3 === 0).forEach(([name, r], i) => {
  const lengths = MACS.input_lengths_T.value as number[];
  const T = lengths[i % lengths.length];
  test(`tdnn macs: macs/${name} at T = ${T}`, async (t) => {
    t.timeout(LONG);
    t.deepEqual(await json(['macs', '--subnet', subnetText(r.config), '--frames', String(T)]), { macs: r[`count_ops_T${T}`], params: r.count_params });
  });
});

test('tdnn macs with the reduced supernet dims as KEY VALUE overrides: the first and last supernet/ config', async (t) => {
  const d = constructorDims(SUPERNET['constructor' as string].value);
  const cfg = ['--cfg', 'exps/tdnn/supernet.yaml', 'MODEL.IN_FEATS', String(d.inFeats), 'MODEL.EMBED_DIM', String(d.embedDim), 'MODEL.NUM_BLOCKS', String(d.numBlocks),
    'MODEL.CHANNELS', String(d.channels), 'MODEL.KERNEL_SIZE', String(d.kernelSize), 'MODEL.CAT_CHANNELS', String(d.catChannels)];
  t.timeout(LONG);
  const all = SUPERNET.config_order.value as string[];
  t.true(all.length > 0);
  for (const name of [all[0], all[all.length - 1]]) {
    const got = await json(['macs', '--subnet', subnetText(SUPERNET.configs.value[name]), '--frames', String(SUPERNET.T.value), ...cfg]);
    t.deepEqual(got, { macs: SUPERNET[`${name}.count_ops`].value, params: SUPERNET[`${name}.count_params`].value }, name);
  }
});

test('tdnn space --json: the named stage spaces and a JSON space of macs/search_spaces', async (t) => {
  const named: [string, number][] = [['largest', 1], ['kernel', 243], ['depth', 351], ['width1', 199017], ['width2', 4066875], ['coarse', 4066875], ['fine', 10021183582095]];
  t.timeout(LONG);
  for (const [name, n] of named) t.deepEqual(await json(['space', '--space', name]), { subnets: n }, name);
  const [key, s] = Object.entries(MACS.search_spaces.value as Record<string, any>).filter(([, v]) => v.space).pop()!;
  t.deepEqual(await json(['space', '--space', JSON.stringify(s.space)]), { subnets: s.distinct_subnets }, key);
  const human = await run(['space', '--space', 'fine']);
  t.regex(human.stdout, /10,021,183,582,095 distinct subnets \(29,859,046,195,545 raw/);
});

test('tdnn sample --json: the first N paths of a fresh sampler, for every stage space (JSON and named)', async (t) => {
  t.timeout(LONG);
  const stages = Object.keys(SAMPLER).filter((k) => k.endsWith('.space')).map((k) => k.slice(0, -'.space'.length));
  t.true(stages.length > 0);
  for (const stage of stages) {
    const samples = SAMPLER[`${stage}.samples`].value as unknown[];
    t.deepEqual(await json(['sample', '--space', JSON.stringify(SAMPLER[`${stage}.space`].value), '--count', String(samples.length)]), samples, stage);
  }
  const w2 = SAMPLER['width2.samples']?.value as unknown[] | undefined;
  if (w2) t.deepEqual(await json(['sample', '--space', 'width2', '--count', '5']), w2.slice(0, 5));
});

test('bad input: one error line and exit 2', async (t) => {
  const w2 = JSON.parse(JSON.stringify(MACS.search_spaces.value.width2_coarse?.space ?? SAMPLER['width2.space'].value));
  w2[8][2] = 6;
  t.timeout(LONG);
  const cases: [string[], RegExp][] = [
    [['macs', '--subnet', '4-512-512-512-512-5-5-5-5-5-1536', '--frames', '300'], /depth 4 needs 12 numbers/],
    [['macs', '--subnet', '2-128-128-136-1-1-1-384', '--frames', '300', 'MODEL.CHANNELS', '128'], /block 2's width 136 must be a multiple of 8 in \[8, 128\]/],
    [['macs', '--subnet', '2-128-128-128-1-7-1-384', '--frames', '300'], /block 1's kernel 7 must be odd and at most 5/],
    [['macs', '--subnet', '2-128-128-128-1-1-1-2000', '--frames', '300'], /cat width 2000 is outside \[1, 1536\]/],
    [['macs', '--subnet', '5-128-128-128-128-128-128-1-1-1-1-1-1-384', '--frames', '300'], /depth 5 exceeds the supernet's 4 blocks/],
    [['macs', '--subnet', '2-128-128-128-1-1-1-384', '--frames', '0'], /--frames '0': expected a positive integer/],
    [['space', '--space', '[[2,3,4],[512]]'], /expected 12 lists/],
    [['space', '--space', JSON.stringify(w2)], /list 8 \(k2\), element 2: 6 is not a kernel/],
    [['space', '--space', '[[2,3,4],'], /not valid JSON/],
    [['sample', '--space', 'width2', '--count', '0'], /--count '0': expected a positive integer/],
    [['sample', '--space', '[[2,3,4],[512],[512],[512],[512],[512],[1,3,5],[1,3,5],[1,3,5],[1,3,5],[1,3,5],["1536"]]', '--count', '3'], /list 11 \(cat\), element 0: "1536" is not an integer/],
  ];
  for (const [args, re] of cases) {
    const r = await run(args);
    t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, re, args.join(' '));
    t.is(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    t.is(r.stdout, '');
  }
});
