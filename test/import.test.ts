// `autospeech import`: torch.save files read without Python (lib/io/pickle.ts, lib/io/torch_load.ts).
// With Debian's python3-torch (as test/export.test.ts): a derived network trained one Adam step in
// PyTorch (bench/torch_reference.py, the reference's state_dict names), saved as the reference's
// checkpoint dict through DataParallel (zip format) and as a bare state_dict with a transposed
// and an offset tensor (legacy format), imports bit for bit and embeds as PyTorch does; embed and
// verify take the imported checkpoint. Without Python: the project's own torch_save.ts writer
// round-trips, hand-built pickles exercise the opcodes, and bad files (another architecture, an
// unsupported global or opcode, truncation) are one clear error, exit 2, nothing at --out.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadConfig, loadConfigText } from '../lib/config/index.ts';
import { UserError } from '../lib/errors.ts';
import { Job } from '../lib/job/job.ts';
import { type NpyDType, readNpy, writeNpy } from '../lib/io/npy.ts';
import { PickleError, PyTuple, callable, unpickle } from '../lib/io/pickle.ts';
import { loadTorchFile } from '../lib/io/torch_load.ts';
import { saveTorchStateDict, type TorchTensor } from '../lib/io/torch_save.ts';
import { writeStoredZip } from '../lib/io/zip.ts';
import { buildModel } from '../lib/models/build.ts';
import { loadWeights, modelTensorsOf, readWeightsDir } from '../lib/models/weights.ts';
import { loadCheckpoint } from '../lib/run/checkpoint.ts';
import { parseSubnet } from '../lib/tdnn/subnet.ts';
import { cloneSubnet } from '../lib/tdnn/subnet_model.ts';
import { loadInitFrom, resolveInitFrom } from '../lib/train/init_from.ts';
import { cli } from './helpers/cli.ts';
import { relErr } from './helpers/compare.ts';
import { FIXTURES, fixtureWavFile, manifest } from './helpers/fixtures.ts';

const S = manifest('derived').scalars;
const G = S.genotype.value as string;
const work = mkdtempSync(join(tmpdir(), 'import-'));
const cfgFile = join(work, 'derived.yaml');
writeFileSync(cfgFile, `MODEL:\n  NAME: model\n  NUM_CLASSES: ${S.num_classes.value}\n  INIT_CHANNELS: ${S.C.value}\n  LAYERS: ${S.layers.value}\nDATASET:\n  PARTIAL_N_FRAMES: 300\n`);
const CFG = ['--cfg', cfgFile];

const PY = `
import sys, os, collections, types, numpy as np, torch
sys.path.insert(0, 'bench')
import torch_reference as R
# the reference defines Genotype in its utils.py: pickle records it as utils.Genotype
utils = types.ModuleType('utils'); sys.modules['utils'] = utils
Genotype = collections.namedtuple('Genotype', 'normal normal_concat reduce reduce_concat')
Genotype.__module__ = 'utils'; utils.Genotype = Genotype
g = eval(sys.argv[1])
C, classes, layers, out = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
torch.manual_seed(5)
m = R.Network(C, classes, layers, dict(normal=g.normal, normal_concat=list(g.normal_concat), reduce=g.reduce, reduce_concat=list(g.reduce_concat)))
dp = torch.nn.DataParallel(m)
opt = torch.optim.Adam(dp.parameters(), lr=0.01)
m.train()
x = torch.randn(4, 300, 257)
torch.nn.functional.cross_entropy(dp(x), torch.tensor([0, 1, 2, 3])).backward()
opt.step()
ckpt = {'epoch': 7, 'state_dict': dp.state_dict(), 'best_acc1': torch.tensor(42.5), 'optimizer': opt.state_dict(),
        'path_helper': {'prefix': '/runs/x', 'ckpt_path': '/runs/x/Model'}, 'genotype': g}
torch.save(ckpt, os.path.join(out, 'zip.pth'))
# a bare state_dict in the legacy format, with a transposed (strided) and an offset tensor
sd = collections.OrderedDict(m.state_dict())
w = sd['classifier.weight']; sd['classifier.weight'] = torch.empty(w.shape[::-1]).copy_(w.t()).t()
b = sd['classifier.bias']; sd['classifier.bias'] = torch.cat([torch.full((3,), 9.0), b])[3:]
assert not sd['classifier.weight'].is_contiguous() and sd['classifier.bias'].storage_offset() == 3
torch.save(sd, os.path.join(out, 'legacy.pth'), _use_new_zipfile_serialization=False)
# what train_verification.py writes: best_eer a NumPy float64, no genotype (legacy format)
torch.save({'epoch': 3, 'state_dict': dp.state_dict(), 'best_eer': np.float64(0.0625), 'optimizer': opt.state_dict(), 'path_helper': {'prefix': '/runs/v'}},
           os.path.join(out, 'veri_legacy.pth'), _use_new_zipfile_serialization=False)
os.makedirs(os.path.join(out, 'sd'))
for k, v in m.state_dict().items():
    np.save(os.path.join(out, 'sd', k + '.npy'), v.numpy())
m.eval()
with torch.no_grad():
    np.save(os.path.join(out, 'embedding.npy'), m(torch.from_numpy(np.load(sys.argv[6]))).numpy())
`;

let py: { status: number | null; stderr: string } | null = null;
const pyDir = join(work, 'py');
function pytorchFiles() {
  if (!py) {
    spawnSync('mkdir', ['-p', pyDir]);
    py = spawnSync('/usr/bin/python3', ['-c', PY, G, String(S.C.value), String(S.num_classes.value), String(S.layers.value), pyDir, `${FIXTURES}/derived/input.npy`], { encoding: 'utf8' });
  }
  return py;
}

function meanStdDir(): string {
  const dir = join(work, 'meanstd');
  if (!existsSync(join(dir, 'std.npy'))) {
    spawnSync('mkdir', ['-p', dir]);
    writeNpy(join(dir, 'mean.npy'), { data: Float32Array.from({ length: 257 }, (_, i) => 0.01 * i), shape: [257], dtype: 'float32' });
    writeNpy(join(dir, 'std.npy'), { data: Float32Array.from({ length: 257 }, (_, i) => 1 + 0.02 * i), shape: [257], dtype: 'float32' });
  }
  return dir;
}

async function embedOf(ckptFile: string): Promise<Float32Array> {
  const ckpt = loadCheckpoint<{ config: string; genotype: string }>(ckptFile);
  const { model } = buildModel(loadConfigText(ckpt.meta.config, ckptFile), ckpt.meta.genotype);
  loadWeights(model, modelTensorsOf(ckpt.tensors), ckptFile);
  const x = readNpy(`${FIXTURES}/derived/input.npy`);
  return (await model.forward(x.data as Float32Array, x.shape as [number, number, number], { mode: 'eval' })).embedding!.data as Float32Array;
}

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test.serial('PyTorch zip checkpoint dict (DataParallel, Adam, genotype): bit-identical weights, the same embedding, embed/verify take it', async (t) => {
  const r0 = pytorchFiles();
  t.is(r0.status, 0, r0.stderr);
  const out = join(work, 'zip.ckpt');
  const r = cli(['import', '--pth', join(pyDir, 'zip.pth'), ...CFG, '--mean-std', meanStdDir(), '--out', out]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /zip-format/);
  t.regex(r.stdout, /stripped the DataParallel prefix 'module\.' from 363 keys/);
  t.regex(r.stdout, /optimizer state was read and dropped/);
  const ckpt = loadCheckpoint<{ kind: string; epoch: number; genotype: string; best: number; imported: { format: string; optimizer: string } }>(out);
  t.is(ckpt.meta.kind, 'import');
  t.is(ckpt.meta.epoch, 7);
  t.is(ckpt.meta.genotype, G); // the pickled namedtuple, printed back as its Python repr
  t.is(ckpt.meta.best, 42.5);
  t.is(ckpt.meta.imported.optimizer, 'skipped');
  const ref = readWeightsDir(join(pyDir, 'sd'));
  const got = modelTensorsOf(ckpt.tensors);
  t.is(got.size, ref.size);
  for (const [k, v] of ref) t.true(sameBytes(got.get(k)!.data, v.data), k);
  const e = await embedOf(out), pe = readNpy(join(pyDir, 'embedding.npy')).data as Float32Array;
  const err = relErr(e, pe);
  t.log(`embedding of the imported checkpoint vs PyTorch's: max relative difference ${err.toExponential(2)}`);
  t.true(err <= 1e-5, String(err));

  // embed takes it, and gives bit for bit what the PyTorch weights give through the .npy state_dict loader
  const wav = fixtureWavFile('a_4p10s');
  const a = cli(['embed', '--load_path', out, wav, '--out', join(work, 'emb_import')]);
  t.is(a.status, 0, a.stderr);
  const b = cli(['embed', '--load_path', join(pyDir, 'sd'), ...CFG, '--text_arch', G, '--mean-std', meanStdDir(), wav, '--out', join(work, 'emb_npy')]);
  t.is(b.status, 0, b.stderr);
  t.true(sameBytes(readNpy(join(work, 'emb_import', 'embeddings.npy')).data, readNpy(join(work, 'emb_npy', 'embeddings.npy')).data));
  const v = cli(['verify', '--load_path', out, wav, wav, '--threshold', '0.5', '--json']);
  t.is(v.status, 0, v.stderr);
  t.true(Math.abs(JSON.parse(v.stdout).score - 1) < 1e-5, v.stdout);

  // an import cannot be resumed (no optimizer / schedule / sampler state): a clear pointer to TRAIN.INIT_FROM
  const cfg = loadConfigText(readFileSync(cfgFile, 'utf8'), cfgFile);
  // what it offers instead: TRAIN.INIT_FROM starts a run from its weights
  const initCfg = loadConfigText(`${readFileSync(cfgFile, 'utf8')}TRAIN:\n  INIT_FROM: ${out}\n`, 'init.yaml');
  const init = resolveInitFrom(initCfg, join(work, 'runs'), 'train')!;
  t.is(init.kind, 'import');
  const fresh = buildModel(initCfg, G).model;
  loadInitFrom(fresh, init);
  for (const [k, v] of ref) t.true(sameBytes(fresh.getTensor(k).data as ArrayBufferView, v.data), `INIT_FROM ${k}`);
  const e2 = t.throws(() => new Job(cfg, { resume: out, root: join(work, 'runs'), expName: 'x', quiet: true }, {}), { instanceOf: UserError });
  t.regex(e2!.message, /an imported reference checkpoint .* TRAIN\.INIT_FROM/);
});

test.serial('PyTorch legacy-format bare state_dict with strided and offset tensors: bit-identical weights, the same embedding', async (t) => {
  const r0 = pytorchFiles();
  t.is(r0.status, 0, r0.stderr);
  const loaded = loadTorchFile(join(pyDir, 'legacy.pth'));
  t.is(loaded.format, 'legacy');
  const out = join(work, 'legacy.ckpt');
  const r = cli(['import', '--pth', join(pyDir, 'legacy.pth'), ...CFG, '--text_arch', G, '--out', out]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, /legacy-format/);
  t.regex(r.stdout, /need --mean-std/);
  const got = modelTensorsOf(loadCheckpoint(out).tensors);
  for (const [k, v] of readWeightsDir(join(pyDir, 'sd'))) t.true(sameBytes(got.get(k)!.data, v.data), k);
  t.true(relErr(await embedOf(out), readNpy(join(pyDir, 'embedding.npy')).data as Float32Array) <= 1e-5);

  // a verification checkpoint (best_eer a NumPy scalar, no genotype): --text_arch is then needed
  const vout = join(work, 'veri.ckpt');
  const nog = cli(['import', '--pth', join(pyDir, 'veri_legacy.pth'), ...CFG, '--out', vout]);
  t.is(nog.status, 2);
  t.regex(nog.stderr, /holds no genotype .*pass --text_arch/);
  t.false(existsSync(vout));
  const v = cli(['import', '--pth', join(pyDir, 'veri_legacy.pth'), ...CFG, '--text_arch', G, '--out', vout]);
  t.is(v.status, 0, v.stderr);
  const vm = loadCheckpoint<{ epoch: number; best: number; imported: { best: { key: string } } }>(vout).meta;
  t.deepEqual([vm.epoch, vm.best, vm.imported.best.key], [3, 0.0625, 'best_eer']);
  const vgot = modelTensorsOf(loadCheckpoint(vout).tensors);
  for (const [k, x] of readWeightsDir(join(pyDir, 'sd'))) t.true(sameBytes(vgot.get(k)!.data, x.data), k);

  // a truncated legacy file: one line naming the file, exit 2, nothing written
  const bytes = readFileSync(join(pyDir, 'legacy.pth'));
  for (const cut of [bytes.length - 100, Math.floor(bytes.length / 2), 40]) {
    const bad = join(work, `legacy_cut${cut}.pth`), o = join(work, `cut${cut}.ckpt`);
    writeFileSync(bad, bytes.subarray(0, cut));
    const c = cli(['import', '--pth', bad, ...CFG, '--text_arch', G, '--out', o]);
    t.is(c.status, 2, c.stderr);
    t.regex(c.stderr, /^autospeech: error: --pth .*legacy_cut\d+\.pth: .*truncated/);
    t.is(c.stderr.trim().split('\n').length, 1, c.stderr);
    t.false(existsSync(o));
  }
});

// ---- without Python ----

function randomTensor(shape: number[], dtype: NpyDType, seed: number): TorchTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  let s = seed;
  const next = () => { s = (s * 1103515245 + 12345) % 2 ** 31; return s / 2 ** 31; };
  const data = dtype === 'float32' ? Float32Array.from({ length: n }, () => next() - 0.5) : dtype === 'float64' ? Float64Array.from({ length: n }, () => next() - 0.5)
    : dtype === 'int64' ? BigInt64Array.from({ length: n }, () => BigInt(Math.floor(next() * 1e6) - 5e5)) : dtype === 'int32' ? Int32Array.from({ length: n }, () => Math.floor(next() * 1e6))
      : Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
  return { data, shape, dtype };
}

test('a file of the project\'s torch_save.ts writer round-trips through the reader', (t) => {
  const entries: [string, TorchTensor][] = [
    ['a.weight', randomTensor([3, 4, 5], 'float32', 1)], ['a.bias', randomTensor([5], 'float64', 2)],
    ['n', randomTensor([], 'int64', 3)], ['big', randomTensor([2, 3000], 'int64', 4)], ['i', randomTensor([7], 'int32', 5)], ['u', randomTensor([9], 'uint8', 6)],
    ['empty', randomTensor([0, 4], 'float32', 7)],
  ];
  const file = join(work, 'own.pth');
  saveTorchStateDict(file, entries);
  const r = loadTorchFile(file);
  t.is(r.format, 'zip');
  t.true(r.value instanceof Map);
  const m = r.value as Map<string, TorchTensor>;
  t.deepEqual([...m.keys()], entries.map(([k]) => k));
  for (const [k, v] of entries) {
    t.is(m.get(k)!.dtype, v.dtype, k);
    t.deepEqual(m.get(k)!.shape, v.shape, k);
    t.true(sameBytes(m.get(k)!.data, v.data), k);
  }
});

class P {
  b: number[] = [];
  op(...x: number[]) { this.b.push(...x); return this; }
  u32(n: number) { return this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24); }
  short(s: string) { const x = Buffer.from(s); return this.op(0x8c, x.length, ...x); }
  uni(s: string) { const x = Buffer.from(s); return this.op(0x58).u32(x.length).op(...x); }
  buf() { return Buffer.from(this.b); }
}

test('hand-built pickles: every opcode torch.save emits', (t) => {
  const f = Buffer.alloc(8); f.writeDoubleBE(-2.5);
  const p = new P()
    .op(0x80, 4, 0x95, ...Array(8).fill(0)) // PROTO 4, FRAME
    .short('collections').op(0x94).short('OrderedDict').op(0x94, 0x93, 0x94, 0x29, 0x52, 0x94) // STACK_GLOBAL OrderedDict() MEMOIZE
    .op(0x28) // MARK
    .uni('ints').op(0x5d, 0x94, 0x28, 0x4b, 7, 0x4d, 0x34, 0x12, 0x4a, 0xfe, 0xff, 0xff, 0xff, 0x8a, 0x00, 0x8a, 2, 0xff, 0x7f, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x65) // [7, 0x1234, -2, 0, 32767, 2^64]
    .uni('misc').op(0x5d, 0x4e, 0x61, 0x88, 0x61, 0x89, 0x61, 0x47, ...f, 0x61, 0x43, 3, 1, 2, 3, 0x61) // [None, True, False, -2.5, b'\x01\x02\x03']
    .short('tuples').op(0x4b, 1, 0x85, 0x4b, 1, 0x4b, 2, 0x86, 0x4b, 1, 0x4b, 2, 0x4b, 3, 0x87, 0x87, 0x72).u32(300) // ((1,), (1, 2), (1, 2, 3)) LONG_BINPUT 300
    .short('again').op(0x6a).u32(300).short('memo0').op(0x68, 0) // LONG_BINGET 300 (the same tuple), BINGET 0 (the 'collections' string)
    .op(0x75) // SETITEMS
    .short('late').op(0x7d, 0x71, 9, 0x73) // SETITEM 'late': {} (BINPUT 9)
    .op(0x2e);
  const { value, end } = unpickle(p.buf(), { where: 'hand.pkl', globals: { 'collections.OrderedDict': callable('OrderedDict', () => new Map()) } });
  t.is(end, p.b.length);
  const m = value as Map<string, unknown>;
  t.deepEqual([...m.keys()], ['ints', 'misc', 'tuples', 'again', 'memo0', 'late']);
  t.deepEqual(m.get('ints'), [7, 0x1234, -2, 0, 32767, 2n ** 64n]);
  t.deepEqual(m.get('misc'), [null, true, false, -2.5, Buffer.from([1, 2, 3])]);
  const tuples = m.get('tuples') as unknown[];
  t.true(tuples instanceof PyTuple);
  t.deepEqual([...tuples].map((x) => [...(x as unknown[])]), [[1], [1, 2], [1, 2, 3]]);
  t.is(m.get('again'), tuples); // memo: the same object
  t.is(m.get('memo0'), 'collections');
  t.deepEqual(m.get('late'), new Map());
});

test('an unsupported global or opcode is one error naming it', (t) => {
  const evil = new P().op(0x80, 2, 0x63, ...Buffer.from('os\nsystem\n'), 0x58).u32(2).op(0x6c, 0x73, 0x85, 0x52, 0x2e).buf();
  const e1 = t.throws(() => unpickle(evil, { where: 'evil.pkl', globals: {} }), { instanceOf: PickleError });
  t.regex(e1!.message, /evil\.pkl: unsupported object os\.system .*GLOBAL at byte 2/);
  const inst = new P().op(0x80, 2, 0x28, 0x69, ...Buffer.from('x\ny\n'), 0x2e).buf();
  t.regex(t.throws(() => unpickle(inst, { where: 'inst.pkl', globals: {} }))!.message, /unsupported opcode \(opcode INST at byte 3\)/);

  // through the CLI: a torch.save archive whose data.pkl reaches for os.system
  const pth = join(work, 'evil.pth'), out = join(work, 'evil.ckpt');
  writeStoredZip(pth, [{ name: 'evil/data.pkl', data: evil }, { name: 'evil/version', data: Buffer.from('3\n') }]);
  const r = cli(['import', '--pth', pth, ...CFG, '--text_arch', G, '--out', out]);
  t.is(r.status, 2);
  t.regex(r.stderr, /^autospeech: error: --pth .*evil\.pth: evil\/data\.pkl: unsupported object os\.system/);
  t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  t.false(existsSync(out));
});

test('a .pth of another architecture: the missing, unexpected and mismatched keys, exit 2, nothing written', (t) => {
  // a ResNet-18's state_dict against the derived network
  const resnet = buildModel(loadConfigText('MODEL:\n  NAME: resnet18\n  NUM_CLASSES: 10\n', 'inline')).model;
  const pth = join(work, 'resnet.pth'), out = join(work, 'resnet.ckpt');
  saveTorchStateDict(pth, resnet.stateDict().map((e) => { const v = resnet.getTensor(e.name); return [e.name, { data: v.data as TorchTensor['data'], shape: v.shape, dtype: v.dtype as NpyDType }]; }));
  const r = cli(['import', '--pth', pth, ...CFG, '--text_arch', G, '--out', out]);
  t.is(r.status, 2);
  t.regex(r.stderr, /does not match the network of --cfg .*derived\.yaml \(MODEL\.NAME model, its genotype\)/);
  t.regex(r.stderr, /\d+ missing: stem0\.0\.weight \[4,1,3,3\]/);
  t.regex(r.stderr, /\d+ unexpected: conv1\.weight/);
  t.regex(r.stderr, /1 with another shape: classifier\.weight: \[10,512\] in the file, \[10,128\] in the network/);
  t.false(existsSync(out));

  // the same network at another width: every key present, shapes listed
  const wide = buildModel(loadConfigText(`MODEL:\n  NAME: model\n  NUM_CLASSES: 10\n  INIT_CHANNELS: 16\n  LAYERS: 5\n`, 'inline'), G).model;
  const wpth = join(work, 'wide.pth');
  saveTorchStateDict(wpth, wide.stateDict().map((e) => { const v = wide.getTensor(e.name); return [`module.${e.name}`, { data: v.data as TorchTensor['data'], shape: v.shape, dtype: v.dtype as NpyDType }]; }));
  const w = cli(['import', '--pth', wpth, ...CFG, '--text_arch', G, '--out', out]);
  t.is(w.status, 2);
  t.regex(w.stderr, /after stripping 'module\.'/);
  t.notRegex(w.stderr, /missing|unexpected/);
  t.regex(w.stderr, /with another shape: stem0\.0\.weight: \[8,1,3,3\] in the file, \[4,1,3,3\] in the network; .*\(\d+ in all\)/);
  // --keep-module-prefix: every key is then unexpected
  const k = cli(['import', '--pth', wpth, ...CFG, '--text_arch', G, '--keep-module-prefix', '--out', out]);
  t.regex(k.stderr, /363 unexpected: module\.stem0\.0\.weight/);
  t.false(existsSync(out));
});

test('truncated and non-torch files: one line naming the file, exit 2, nothing written', (t) => {
  const good = join(work, 'small.pth');
  saveTorchStateDict(good, [['w', randomTensor([64, 64], 'float32', 9)]]);
  const bytes = readFileSync(good);
  const cases: [string, Buffer, RegExp][] = [
    ['cut_end.pth', bytes.subarray(0, bytes.length - 10), /not a zip archive or truncated/],
    ['cut_half.pth', bytes.subarray(0, bytes.length >> 1), /not a zip archive or truncated/],
    ['text.pth', Buffer.from('hello\n'), /neither a zip archive nor a pickle/],
    ['empty.pth', Buffer.alloc(0), /neither a zip archive nor a pickle/],
  ];
  const flipped = Buffer.from(bytes); flipped[200] ^= 0xff;
  cases.push(['flipped.pth', flipped, /CRC mismatch|corrupt/]);
  for (const [name, data, why] of cases) {
    const pth = join(work, name), out = join(work, `${name}.ckpt`);
    writeFileSync(pth, data);
    const r = cli(['import', '--pth', pth, ...CFG, '--text_arch', G, '--out', out]);
    t.is(r.status, 2, name);
    t.regex(r.stderr, new RegExp(`^autospeech: error: --pth .*${name.replace('.', '\\.')}: `), name);
    t.regex(r.stderr, why, name);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    t.false(existsSync(out), name);
  }
  const missing = cli(['import', '--pth', join(work, 'absent.pth'), ...CFG, '--out', join(work, 'x.ckpt')]);
  t.is(missing.status, 2);
  t.regex(missing.stderr, /absent\.pth: no such file/);
});

const PY_TDNN = `
import sys, os, glob, collections, numpy as np, torch
sup, bn, out, subnet = sys.argv[1], sys.argv[2], sys.argv[3], [int(v) for v in sys.argv[4].split('-')]
d = subnet[0]
sd = collections.OrderedDict((os.path.basename(f)[:-4], torch.from_numpy(np.load(f))) for f in sorted(glob.glob(sup + '/*.npy')))
torch.save(sd, os.path.join(out, 'supernet.torchparams'))
bns = collections.OrderedDict()
for f in sorted(glob.glob(bn + '/*.npy')):
    key = os.path.basename(f)[:-4]
    module, field = key.rsplit('.', 1)
    bns.setdefault(module, collections.OrderedDict())[field] = torch.from_numpy(np.load(f))
cfg = (d, subnet[1:d + 2], subnet[d + 2:2 * d + 3], subnet[-1])
torch.save({'subnet': cfg, 'bn': bns, 'EER': 1.25, 'minDCF': 0.1}, os.path.join(out, 'sub.bn.tar'))
`;

test.serial('EfficientTDNN: a supernet .torchparams + a subnet .bn.tar written by PyTorch import as that standalone subnet with those BN tensors', async (t) => {
  const tcfgArgs = ['MODEL.CHANNELS', '64', 'MODEL.CAT_CHANNELS', '192', 'MODEL.NUM_CLASSES', '4'];
  const tcfg = loadConfig('exps/tdnn/supernet.yaml', tcfgArgs);
  const supernet = buildModel(tcfg, undefined, 11).model;
  const subnetText = '3-64-32-48-64-5-3-3-1-192';
  const clone = await cloneSubnet(tcfg, supernet, parseSubnet(subnetText));
  const supDir = join(work, 'tdnn_sup'), bnDir = join(work, 'tdnn_bn'), outDir = join(work, 'tdnn_py');
  for (const d of [supDir, bnDir, outDir]) mkdirSync(d, { recursive: true });
  for (const e of supernet.stateDict()) { const v = supernet.getTensor(e.name); writeNpy(join(supDir, `${e.name}.npy`), { data: v.data as TorchTensor['data'], shape: v.shape, dtype: v.dtype as NpyDType }); }
  // the recalibrated BN statistics: the clone's, shifted, so that the import visibly takes them
  const bnModules = new Set(clone.stateDict().filter((e) => e.name.endsWith('.running_mean')).map((e) => e.name.slice(0, -13)));
  const bnWritten = new Map<string, TorchTensor>();
  for (const e of clone.stateDict()) {
    if (!bnModules.has(e.name.slice(0, e.name.lastIndexOf('.')))) continue;
    const v = clone.getTensor(e.name);
    const data = v.data instanceof Float32Array ? Float32Array.from(v.data, (x, i) => x + 0.25 + 0.001 * i) : BigInt64Array.from(v.data as BigInt64Array, (x) => x + 7n);
    const tt = { data, shape: v.shape, dtype: v.dtype as NpyDType };
    bnWritten.set(e.name, tt);
    writeNpy(join(bnDir, `${e.name}.npy`), tt);
  }
  const p = spawnSync('/usr/bin/python3', ['-c', PY_TDNN, supDir, bnDir, outDir, subnetText], { encoding: 'utf8' });
  t.is(p.status, 0, p.stderr);
  const out = join(work, 'tdnn_sub.ckpt');
  const r = cli(['import', '--pth', join(outDir, 'supernet.torchparams'), '--cfg', 'exps/tdnn/supernet.yaml', '--bn', join(outDir, 'sub.bn.tar'), '--out', out, ...tcfgArgs]);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stdout, new RegExp(`subnet ${subnetText} \\(with the BN tensors of`));
  const got = modelTensorsOf(loadCheckpoint(out).tensors);
  t.is(got.size, clone.stateDict().length);
  let bnCount = 0;
  for (const e of clone.stateDict()) {
    const want = bnWritten.get(e.name) ?? clone.getTensor(e.name);
    if (bnWritten.has(e.name)) bnCount++;
    t.true(sameBytes(got.get(e.name)!.data, want.data as ArrayBufferView), e.name);
  }
  t.true(bnCount > 20, String(bnCount));
  const wav = fixtureWavFile('a_4p10s');
  const emb = cli(['embed', '--load_path', out, wav, '--out', join(work, 'tdnn_emb')]);
  t.is(emb.status, 0, emb.stderr);
  t.regex(emb.stdout, new RegExp(`EfficientTDNN subnet ${subnetText} \\(a standalone clone\\)`));

  // a BN file of another subnet's widths: the mismatched keys listed, nothing written
  const bad = join(work, 'tdnn_bad.ckpt');
  const other = spawnSync('/usr/bin/python3', ['-c', PY_TDNN, supDir, bnDir, join(work, 'tdnn_py'), '3-64-48-48-64-5-3-3-1-192'], { encoding: 'utf8' });
  t.is(other.status, 0, other.stderr);
  const w = cli(['import', '--pth', join(outDir, 'supernet.torchparams'), '--cfg', 'exps/tdnn/supernet.yaml', '--bn', join(outDir, 'sub.bn.tar'), '--out', bad, ...tcfgArgs]);
  t.is(w.status, 2);
  t.regex(w.stderr, /does not match the BatchNorms of subnet 3-64-48-48-64-5-3-3-1-192 .*\n.*with another shape: blocks\.0\.first_conv\.bn\.weight: \[32\] in the file, \[48\] in the network/);
  t.false(existsSync(bad));
});

test('EfficientTDNN: a bare supernet state_dict imports as a tdnn checkpoint that embed clones to the largest subnet', async (t) => {
  const args = ['MODEL.CHANNELS', '64', 'MODEL.CAT_CHANNELS', '192', 'MODEL.NUM_CLASSES', '4'];
  const supernet = buildModel(loadConfig('exps/tdnn/supernet.yaml', args), undefined, 12).model;
  const pth = join(work, 'supernet_own.torchparams'), out = join(work, 'supernet.ckpt');
  saveTorchStateDict(pth, supernet.stateDict().map((e) => { const v = supernet.getTensor(e.name); return [e.name, { data: v.data as TorchTensor['data'], shape: v.shape, dtype: v.dtype as NpyDType }]; }));
  const r = cli(['import', '--pth', pth, '--cfg', 'exps/tdnn/supernet.yaml', '--out', out, ...args]);
  t.is(r.status, 0, r.stderr);
  t.notRegex(r.stdout, /mean-std/); // a TDNN computes its own features
  const ckpt = loadCheckpoint<{ kind: string }>(out);
  t.is(ckpt.meta.kind, 'tdnn');
  const got = modelTensorsOf(ckpt.tensors);
  for (const e of supernet.stateDict()) t.true(sameBytes(got.get(e.name)!.data, supernet.getTensor(e.name).data as ArrayBufferView), e.name);
  const emb = cli(['embed', '--load_path', out, fixtureWavFile('a_4p10s'), '--out', join(work, 'supernet_emb')]);
  t.is(emb.status, 0, emb.stderr);
  t.regex(emb.stdout, /EfficientTDNN subnet 4-64-64-64-64-64-5-5-5-5-5-192 \(cloned from the supernet\)/);
});
