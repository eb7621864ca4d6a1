// The .bwn file (bnn.md §3.4; test plan T7 hash, T8 path A, T11 file size): a trained BWN written
// and loaded back as its fp32 twin holding W_b gives bit-identical eval embeddings (utterance-length
// and 300-frame inputs); the stored alphas are the module's bits; the file is header + payload and
// its tensor bytes are the memory table's deployable-file row; corruption, truncation, other
// versions and a mismatching config are clear errors; the materialised state_dict holds +-alpha.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadBwnInto, materialisedStateDict, readBwn, twinSpec, writeBwn } from '../lib/bnn/format.ts';
import { modelFromBwn } from '../lib/bnn/load.ts';
import { memoryReport } from '../lib/bnn/memory.ts';
import { loadConfig } from '../lib/config/index.ts';
import { writeNpy } from '../lib/io/npy.ts';
import { saveTorchStateDict } from '../lib/io/torch_save.ts';
import type { NpyDType } from '../lib/io/npy.ts';
import { modelSpecFromConfig } from '../lib/models/spec.ts';
import { type ModelSpec, loadNative } from '../lib/native.ts';
import { Prng } from '../lib/util/prng.ts';

const native = loadNative();
const dir = mkdtempSync(join(tmpdir(), 'bwn-file-'));
const bits = (a: ArrayLike<number>) => Buffer.from(Float32Array.from(a).buffer);
const input = (B: number, T: number, F: number, seed: number) => {
  const rng = new Prng(seed);
  return Float32Array.from({ length: B * T * F }, () => rng.next() * 2 - 1);
};

test('T8 path A: a trained BWN written as .bwn and loaded as its fp32 twin embeds bit for bit; alphas stored bit-equal', async (t) => {
  for (const extra of [{}, { activation: 'prelu' as const, binaryScale: 'layer' as const, binarize: ['stem' as const, 'blocks' as const] }, { binaryScale: 'none' as const }]) {
    const spec: ModelSpec = { kind: 'resnet', depth: 18, numClasses: 5, widthMult: 0.125, binarize: ['blocks', 'shortcuts'], ...extra };
    const bwn = new native.Model(spec, { seed: 21 });
    const trainer = new native.Trainer(bwn, { weights: { lr: 0.01 } });
    for (let i = 0; i < 3; i++) await trainer.step(input(4, 60, 64, i), [4, 60, 64], Int32Array.from([0, 1, 2, 4])); // moves weights and BN statistics
    const file = join(dir, `a${JSON.stringify(extra).length}.bwn`);
    const w = writeBwn(file, bwn, spec, { run: { id: 'test' } });
    const f = readBwn(file);
    t.is(f.fileBytes, w.bytes);
    t.is(w.bytes, w.headerBytes + w.payloadBytes);
    for (const l of bwn.binaryLayers()) {
      const stored = f.tensors.get(`${l.name}.alpha`);
      if (!l.alpha) { t.is(stored, undefined); continue; }
      t.true(Buffer.from(stored!.data).equals(bits(l.alpha.data as Float32Array)), `${l.name} alpha`);
    }
    const twin = new native.Model(twinSpec(spec), { seed: 99 });
    loadBwnInto(twin, f, file);
    t.deepEqual(twin.binaryLayers(), []);
    for (const [T, seed] of [[300, 7], [173, 8]] as const) {
      const x = input(3, T, 64, seed);
      const a = await bwn.forward(x, [3, T, 64], { mode: 'eval' }), b = await twin.forward(x, [3, T, 64], { mode: 'eval' });
      t.true(bits(a.embedding!.data as Float32Array).equals(bits(b.embedding!.data as Float32Array)), `${JSON.stringify(extra)} ${T} frames: max |diff| 0`);
    }
  }
});

test('T11 the 1,211-class BWN ResNet-34 file: tensor bytes = the memory table\'s file row (2,839,808), file = header + payload, no alignment padding; the classifier adds its fp32 bytes', (t) => {
  const cfg = loadConfig('exps/bnn/resnet34_bwn_veri.yaml');
  const spec = modelSpecFromConfig(cfg);
  const model = new native.Model(spec, { seed: 3 });
  const mem = memoryReport(model.stateDict(), model.binaryLayers());
  const w = writeBwn(join(dir, 'r34.bwn'), model, spec);
  t.is(w.dataBytes, mem.rows[3].bwnBytes);
  t.is(w.dataBytes, 2_839_808);
  t.is(w.paddingBytes, 0);
  // the JSON tensor table of ~250 entries: about 22 KiB (0.8 % of the file), more than bnn.md's '< 1 KiB' guess
  t.true(w.headerBytes < 32768, `header ${w.headerBytes} bytes`);
  t.log(`header ${w.headerBytes} bytes, payload ${w.payloadBytes}, file ${w.bytes}`);
  t.is(readFileSync(join(dir, 'r34.bwn')).length, w.headerBytes + w.payloadBytes);
  const wc = writeBwn(join(dir, 'r34c.bwn'), model, spec, { withClassifier: true });
  t.is(wc.dataBytes, 2_839_808 + 4 * 621_243);
  const f = readBwn(join(dir, 'r34.bwn'));
  t.is(f.header.tensors.filter((e) => e.kind === 'packed').length, 35);
  t.deepEqual(f.header.tensors.find((e) => e.name === 'layer1.0.conv1.weight'), { name: 'layer1.0.conv1.weight', kind: 'packed', shape: [64, 64, 3, 3], offset: f.header.tensors.find((e) => e.name === 'layer1.0.conv1.weight')!.offset, bytes: 4608 });
  t.false(f.tensors.has('classifier.weight') || [...f.tensors.keys()].some((k) => k.endsWith('num_batches_tracked')));
  t.deepEqual([f.header.binConvention, f.header.bitMeaning, f.header.bitOrder], ['ge0_plus', '1=+1', 'lsb-first']);
});

test('T7 a flipped payload bit, truncation, bad magic, another version and a mismatching config are clear errors', (t) => {
  const spec: ModelSpec = { kind: 'resnet', depth: 18, numClasses: 3, widthMult: 0.0625, binarize: ['blocks', 'shortcuts'] };
  const file = join(dir, 'c.bwn');
  writeBwn(file, new native.Model(spec, { seed: 1 }), spec);
  const good = readFileSync(file);
  const f = readBwn(file);
  const variant = (name: string, edit: (b: Buffer) => Buffer) => { const p = join(dir, name); writeFileSync(p, edit(Buffer.from(good))); return p; };
  const flip = variant('flip.bwn', (b) => { b[f.payloadStart + f.header.tensors[3].offset] ^= 0x10; return b; });
  t.throws(() => readBwn(flip), { message: /flip\.bwn is not a valid \.bwn file: payload SHA-256 mismatch/ });
  t.throws(() => readBwn(variant('short.bwn', (b) => b.subarray(0, b.length - 5))), { message: /the payload is \d+ bytes, the header says \d+ \(truncated\?\)/ });
  t.throws(() => readBwn(variant('magic.bwn', (b) => { b[0] = 0x58; return b; })), { message: /bad magic/ });
  const v2 = variant('v2.bwn', (b) => { const i = b.indexOf('"version":1'); b.write('"version":2', i); return b; });
  t.throws(() => readBwn(v2), { message: /version 2 \(this tool reads bwn version 1\)/ });
  t.throws(() => readBwn(join(dir, 'none.bwn')), { message: /none\.bwn: cannot read \(ENOENT\)/ });
  const cfg = loadConfig('exps/demo/resnet34_bwn_veri.yaml', ['MODEL.NAME', 'resnet18_bwn', 'MODEL.NUM_CLASSES', '3', 'MODEL.WIDTH_MULT', '0.125']);
  t.throws(() => modelFromBwn(cfg, file), { message: /the file's network has widthMult 0.0625, the config's MODEL.WIDTH_MULT gives 0.125/ });
  const ok = modelFromBwn(loadConfig('exps/demo/resnet34_bwn_veri.yaml', ['MODEL.NAME', 'resnet18_bwn', 'MODEL.NUM_CLASSES', '3', 'MODEL.WIDTH_MULT', '0.0625']), file);
  t.false(ok.withClassifier);
  // loading into a binary model, or a NaN weight at export, is refused
  t.throws(() => loadBwnInto(new native.Model(spec), f, file), { message: /loads into the fp32 twin/ });
  const nan = new native.Model(spec, { seed: 1 });
  const w = Float32Array.from(nan.getTensor('layer1.0.conv2.weight').data as Float32Array);
  w[3] = NaN;
  nan.setTensor('layer1.0.conv2.weight', w, [4, 4, 3, 3]);
  t.throws(() => writeBwn(join(dir, 'nan.bwn'), nan, spec), { message: /export --format bwn: layer1\.0\.conv2: latent weight 3 is NaN/ });
});

test('the materialised state_dict has the fp32 keys with W_b = +-alpha_o in each binarised weight', (t) => {
  const spec: ModelSpec = { kind: 'resnet', depth: 18, numClasses: 3, widthMult: 0.0625, binarize: ['blocks', 'shortcuts'] };
  const model = new native.Model(spec, { seed: 2 });
  const sd = materialisedStateDict(model);
  t.deepEqual([...sd.keys()], model.stateDict().map((e) => e.name));
  for (const l of model.binaryLayers()) {
    const wb = sd.get(l.key)!.data as Float32Array, a = l.alpha!.data as Float32Array, n = wb.length / l.shape[0];
    t.true(wb.every((v, j) => Math.abs(v) === a[Math.floor(j / n)]), l.name);
  }
  t.true(bits(sd.get('conv1.weight')!.data as Float32Array).equals(bits(model.getTensor('conv1.weight').data as Float32Array)));
});

// T9: a plain PyTorch ResNet-34 (torchvision's BasicBlock layout, the reference resnet.py's stem
// and head, written here independently) loads the materialised .pth strictly and embeds like us.
const PY_RESNET = `
import sys, numpy as np, torch, torch.nn as nn
class Block(nn.Module):
    def __init__(s, i, o, st):
        super().__init__()
        s.conv1 = nn.Conv2d(i, o, 3, st, 1, bias=False); s.bn1 = nn.BatchNorm2d(o); s.relu = nn.ReLU()
        s.conv2 = nn.Conv2d(o, o, 3, 1, 1, bias=False); s.bn2 = nn.BatchNorm2d(o)
        s.downsample = nn.Sequential(nn.Conv2d(i, o, 1, st, bias=False), nn.BatchNorm2d(o)) if st != 1 or i != o else None
    def forward(s, x):
        y = s.bn2(s.conv2(s.relu(s.bn1(s.conv1(x)))))
        return s.relu(y + (s.downsample(x) if s.downsample is not None else x))
class ResNet34(nn.Module):
    def __init__(s, base, classes):
        super().__init__()
        s.conv1 = nn.Conv2d(1, base, 7, 2, 2, bias=False); s.bn1 = nn.BatchNorm2d(base); s.relu = nn.ReLU(); s.maxpool = nn.MaxPool2d(3, 2, 1)
        i = base
        for l, (n, w) in enumerate(zip([3, 4, 6, 3], [base, 2 * base, 4 * base, 8 * base])):
            blocks = []
            for b in range(n):
                blocks.append(Block(i, w, (1 if l == 0 else 2) if b == 0 else 1)); i = w
            setattr(s, 'layer%d' % (l + 1), nn.Sequential(*blocks))
        s.classifier = nn.Linear(8 * base, classes)
    def forward(s, x):
        x = s.maxpool(s.relu(s.bn1(s.conv1(x.unsqueeze(1)))))
        x = s.layer4(s.layer3(s.layer2(s.layer1(x))))
        return torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1)
torch.set_num_threads(1)
m = ResNet34(int(sys.argv[2]), int(sys.argv[3]))
m.load_state_dict(torch.load(sys.argv[1]), strict=True)
m.eval()
with torch.no_grad():
    e = m(torch.from_numpy(np.load(sys.argv[4]))).numpy()
ref = np.load(sys.argv[5])
print(float(np.abs(e - ref).max() / np.abs(ref).max()))
`;

test('T9 the materialised .pth loads strictly into a plain PyTorch ResNet-34 and gives our BWN embeddings within 1e-5', async (t) => {
  const spec: ModelSpec = { kind: 'resnet', depth: 34, numClasses: 7, widthMult: 0.25, binarize: ['blocks', 'shortcuts'] };
  const bwn = new native.Model(spec, { seed: 31 });
  const trainer = new native.Trainer(bwn, { weights: { lr: 0.01 } });
  for (let i = 0; i < 2; i++) await trainer.step(input(4, 80, 64, 40 + i), [4, 80, 64], Int32Array.from([0, 3, 5, 6]));
  const pth = join(dir, 'wb.pth');
  saveTorchStateDict(pth, [...materialisedStateDict(bwn)].map(([name, v]) => [name, { data: v.data, shape: v.shape, dtype: v.dtype as NpyDType }]));
  const x = input(3, 300, 64, 50);
  const e = (await bwn.forward(x, [3, 300, 64], { mode: 'eval' })).embedding!;
  writeNpy(join(dir, 'x.npy'), { data: x, shape: [3, 300, 64], dtype: 'float32' });
  writeNpy(join(dir, 'e.npy'), { data: e.data as Float32Array, shape: e.shape, dtype: 'float32' });
  const out = spawnSync('/usr/bin/python3', ['-c', PY_RESNET, pth, '16', '7', join(dir, 'x.npy'), join(dir, 'e.npy')], { encoding: 'utf8' });
  t.is(out.status, 0, out.stderr);
  t.log(`PyTorch vs ours: max relative difference ${out.stdout.trim()}`);
  t.true(Number(out.stdout.trim()) <= 1e-5, out.stdout);
});
