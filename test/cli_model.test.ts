// The "Must show" checks through the CLI: model-info parameter counts, forward on the
// fixtures, genotype commands, and one-line errors.
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readNpy } from '../lib/io/npy.ts';
import { cli, cliJson } from './helpers/cli.ts';
import { relErr } from './helpers/compare.ts';
import { FIXTURES, manifest } from './helpers/fixtures.ts';

const G = manifest('derived').scalars.genotype.value as string;

test('model-info --json: the reference parameter counts', (t) => {
  const count = (args: string[]) => cliJson<{ params: { total: number; alphas: number } }>(['model-info', ...args]).params;
  t.is(count(['--cfg', 'exps/scratch/scratch_iden.yaml', '--text_arch', G]).total, 17674403);
  t.is(count(['--cfg', 'exps/scratch/scratch_veri.yaml', '--text_arch', G]).total, 17592443);
  t.deepEqual(count(['--cfg', 'exps/search.yaml']), { total: 2248915, trainable: 2248915, alphas: 224 } as any);
  t.is(count(['--cfg', 'exps/baseline/resnet18_iden.yaml']).total, 11812003);
  t.is(count(['--cfg', 'exps/baseline/resnet18_veri.yaml']).total, 11791483);
  t.is(count(['--cfg', 'exps/baseline/resnet34_iden.yaml']).total, 21920163);
  t.is(count(['--cfg', 'exps/baseline/resnet34_veri.yaml']).total, 21899643);
  const info = cliJson<{ state_dict: { name: string }[] }>(['model-info', '--cfg', 'exps/search.yaml']);
  t.is(info.state_dict.length, 4188);
  t.is(info.state_dict[0].name, 'alphas_normal');
});

test('forward reproduces the derived fixture (eval) and the hard-Gumbel search fixture (train, with gradients)', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'fwd-'));
  const d = cli(['forward', '--cfg', 'exps/scratch/scratch_iden.yaml', 'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '5', 'MODEL.NUM_CLASSES', '10',
    '--text_arch', G, '--weights', `${FIXTURES}/derived/state_dict`, '--input', `${FIXTURES}/derived/input.npy`, '--out', join(out, 'd')]);
  t.is(d.status, 0, d.stderr);
  t.true(relErr(readNpy(join(out, 'd', 'embedding.npy')).data as Float32Array, readNpy(`${FIXTURES}/derived/eval_embedding.npy`).data as Float32Array) <= 1e-5);
  const s = cli(['forward', '--cfg', 'exps/search.yaml', 'MODEL.INIT_CHANNELS', '4', 'MODEL.LAYERS', '5', 'MODEL.NUM_CLASSES', '10',
    '--weights', `${FIXTURES}/search/state_dict`, '--input', `${FIXTURES}/search/input.npy`, '--labels', `${FIXTURES}/search/labels.npy`,
    '--gumbel-noise', `${FIXTURES}/search/b_gumbel_hard`, '--mode', 'train', '--out', join(out, 's')]);
  t.is(s.status, 0, s.stderr);
  const loss = (readNpy(join(out, 's', 'loss.npy')).data as Float32Array)[0];
  t.true(Math.abs(loss - manifest('search').scalars.b_gumbel_hard_loss.value) < 1e-6 * loss);
  t.true(relErr(readNpy(join(out, 's', 'grads', 'alphas_normal.npy')).data as Float32Array, readNpy(`${FIXTURES}/search/b_gumbel_hard/grad_alphas_normal.npy`).data as Float32Array) <= 5e-3);
});

test('genotype derive and show', (t) => {
  const derived = cli(['genotype', 'derive', '--alphas-normal', `${FIXTURES}/search/state_dict/alphas_normal.npy`, '--alphas-reduce', `${FIXTURES}/search/state_dict/alphas_reduce.npy`]);
  t.is(derived.status, 0, derived.stderr);
  t.is(derived.stdout.trim(), manifest('search').scalars.genotype.value);
  const shown = cli(['genotype', 'show', G]);
  t.is(shown.status, 0);
  t.true(shown.stdout.includes('node 5') && shown.stdout.trim().endsWith(G));
  t.is(cliJson<{ text: string }>(['genotype', 'show', G]).text, G);
});

test('bad inputs end with one clear error line and a non-zero exit', (t) => {
  const cases: [string[], RegExp][] = [
    [['model-info', '--cfg', 'exps/nope.yaml'], /config file exps\/nope.yaml not found/],
    [['model-info', '--cfg', 'exps/search.yaml', 'TRAIN.BACH_SIZE', '2'], /did you mean TRAIN.BATCH_SIZE/],
    [['model-info', '--cfg', 'exps/scratch/scratch_iden.yaml'], /needs a genotype: pass --text_arch/],
    [['model-info', '--cfg', 'exps/scratch/scratch_iden.yaml', '--text_arch', G.replace('sep_conv_3x3', 'sep_conv_4x4')], /unknown op 'sep_conv_4x4'/],
    [['model-info', '--cfg', 'exps/search.yaml', 'DEVICE', 'cuda'], /no CUDA/],
    [['forward', '--cfg', 'exps/search.yaml', '--weights', `${FIXTURES}/derived/state_dict`, '--input', `${FIXTURES}/search/input.npy`, '--out', '/tmp/x'], /missing tensor\(s\) alphas_normal/],
    [['genotype', 'derive', '--alphas-normal', 'nope.npy', '--alphas-reduce', 'nope.npy'], /nope.npy: file not found/],
    [['genotype', 'show', 'Genotype(normal=[])'], /column/],
  ];
  for (const [args, message] of cases) {
    const r = cli(args);
    t.not(r.status, 0, args.join(' '));
    t.regex(r.stderr, message, args.join(' '));
    t.false(r.stderr.includes('    at '), `no stack trace: ${args.join(' ')}`);
  }
});

test('genotype draw writes SVGs with every op and readable PNGs', (t) => {
  const prefix = join(mkdtempSync(join(tmpdir(), 'draw-')), 'cell');
  const r = cli(['genotype', 'draw', G, '--out', prefix]);
  t.is(r.status, 0, r.stderr);
  for (const cell of ['normal', 'reduce']) {
    const svg = readFileSync(`${prefix}_${cell}.svg`, 'utf8');
    t.regex(svg, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg".*<\/svg>\n$/s);
    const ops = (G.match(cell === 'normal' ? /normal=\[(.*?)\]/ : /reduce=\[(.*?)\]/)![1].match(/'(\w+)'/g) ?? []).map((o) => o.slice(1, -1));
    for (const op of ops) t.true(svg.includes(`>${op}</text>`), `${cell}: ${op}`);
    t.is((svg.match(/<line [^>]*marker-end/g) ?? []).length, 8 + 4);
    const png = readFileSync(`${prefix}_${cell}.png`);
    t.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    t.is(png.toString('latin1', 12, 16), 'IHDR');
    t.true(png.readUInt32BE(16) >= 600 && png.readUInt32BE(20) >= 300);
  }
});

test('doctor --json reports the libtorch build and runs the native kernels\' self-checks', (t) => {
  const r = cliJson<{ torchVersion: string; mkldnn: boolean; threads: { intraop: number }; nativeKernels: { enabled: boolean; depthwise: string; batchNorm: string; batchNormBackward: string; adam: string } }>(['doctor', '--json']);
  t.regex(r.torchVersion, /^\d+\.\d+/);
  t.true(r.threads.intraop >= 1);
  t.true(r.nativeKernels.enabled);
  // Every path either verified bit-identical against this libtorch or fell back to ATen's: never unchecked.
  t.notRegex(r.nativeKernels.depthwise, /not checked yet/);
  t.notRegex(r.nativeKernels.batchNorm, /not checked yet/);
  t.notRegex(r.nativeKernels.batchNormBackward, /not checked yet/);
  t.notRegex(r.nativeKernels.adam, /not checked yet/);
  if (r.mkldnn) t.regex(r.nativeKernels.depthwise, /forward: native \(verified\)/);
});
