// The EfficientTDNN supernet (native/models/tdnn) against sugar's golden numbers in
// test/fixtures/efficienttdnn/supernet: for EVERY config the manifest lists (read generically, so
// unseen configs and widths run too), the dynamic path's eval embedding, the train-mode embedding,
// AAM logits and loss, every gradient (the set of parameters that got one, exact zeros outside the
// slice, grads/aam.W), every BN buffer after the train forward (write-back quirk; untouched entries
// bit-identical), and clone(): its keys, shapes and tensors, and its standalone eval embedding equal
// to the dynamic path's. Tolerances are the fixtures README's. Plus the forward CLI's error cases.
import test from 'ava';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { loadConfig } from '../lib/config/index.ts';
import { type NpyArray, readNpy } from '../lib/io/npy.ts';
import { buildModel } from '../lib/models/build.ts';
import { loadWeightsDir } from '../lib/models/weights.ts';
import { loadNative } from '../lib/native.ts';
import { runTdnnForward } from '../lib/tdnn/forward.ts';
import { cli } from './helpers/cli.ts';
import { maxAbs, maxAbsDiff, relErr } from './helpers/compare.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const DIR = join(ROOT, 'test', 'fixtures', 'efficienttdnn', 'supernet');
const CFG = join(ROOT, 'exps', 'tdnn', 'supernet.yaml');
type Scalar = { value: any };
const M = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { scalars: Record<string, Scalar> };
const S = M.scalars;
const CONFIGS: Record<string, [number, number[], number[], number]> = S.configs.value;
const ORDER: string[] = S.config_order?.value ?? Object.keys(CONFIGS);

// The fixtures README's tolerances.
const TOL = { eval: 1e-5, train: 1e-4, loss: 1e-5, gradNorm: 1e-3, gradAbs: 1e-4, gradSmall: 1e-4, aamW: 1e-4, bn: 1e-5, clone: 1e-6 };

const npy = (...p: string[]): NpyArray => readNpy(join(DIR, ...p));
const num = (a: NpyArray) => a.data as ArrayLike<number | bigint>;
const keysJson = (p: string) => (JSON.parse(readFileSync(join(DIR, p), 'utf8')) as { key: string; shape: number[]; kind: string }[]);

// The supernet's dims from its state_dict shapes; the AAM head's from its weight and constructor.
function overrides(): string[] {
  const l1 = npy('state_dict', 'layer1.conv.conv.weight.npy').shape; // (c, in, k)
  let blocks = 0;
  while (existsSync(join(DIR, 'state_dict', `blocks.${blocks}.first_conv.conv.conv.weight.npy`))) blocks++;
  const cat = npy('state_dict', 'catconv.conv.weight.npy').shape[0];
  const embed = npy('state_dict', 'linear.linear.weight.npy').shape[0];
  const W = npy('aam.W.npy').shape;
  const lossCtor = String(S.loss_constructor?.value ?? '');
  const arg = (name: string, fallback: string) => new RegExp(`${name}\\s*=\\s*([\\w.+-]+)`).exec(lossCtor)?.[1] ?? fallback;
  return [
    'MODEL.IN_FEATS', String(l1[1]), 'MODEL.EMBED_DIM', String(embed), 'MODEL.CHANNELS', String(l1[0]), 'MODEL.KERNEL_SIZE', String(l1[2]),
    'MODEL.CAT_CHANNELS', String(cat), 'MODEL.NUM_BLOCKS', String(blocks), 'MODEL.NUM_CLASSES', String(W[1]),
    'LOSS.MARGIN', arg('margin', '0.2'), 'LOSS.SCALE', arg('scale', '30.0'), 'LOSS.EASY_MARGIN', arg('easy_margin', 'False'),
    'THREADS', '1', 'DETERMINISTIC', 'True',
  ];
}
const OVERRIDES = overrides();
const subnetText = ([d, c, k, cat]: [number, number[], number[], number]) => [d, ...c, ...k, cat].join('-');
const npyFiles = (dir: string) => (existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.npy')).map((f) => f.slice(0, -4)).sort() : []);
// num_batches_tracked is 0-d in PyTorch (and in the key lists) but stored with shape [1] in the
// fixture files: compare the two as the same shape.
const scalarShape = (shape: number[]) => (shape.length === 1 && shape[0] === 1 ? [] : shape);
const normRel = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let d = 0, n = 0;
  for (let i = 0; i < b.length; i++) {
    d += (a[i] - b[i]) ** 2;
    n += b[i] ** 2;
  }
  return n > 0 ? Math.sqrt(d / n) : Math.sqrt(d);
};

test('the manifest lists configs', (t) => {
  t.true(ORDER.length >= 1);
  for (const name of ORDER) t.truthy(CONFIGS[name], name);
});

for (const name of ORDER) {
  test.serial(`${name}: eval/train forward, loss, gradients, BN buffers and clone match sugar`, async (t) => {
    const cfgDir = join(DIR, 'configs', name);
    const cfg = loadConfig(CFG, OVERRIDES);
    const out = mkdtempSync(join(tmpdir(), `tdnn-${name}-`));
    const subnet = subnetText(CONFIGS[name]);
    const common = { weights: join(DIR, 'state_dict'), input: join(DIR, 'input.npy'), subnet, lossWeights: join(DIR, 'aam.W.npy') };
    try {
      await runTdnnForward(cfg, { ...common, mode: 'eval', out: join(out, 'eval') });
      await runTdnnForward(cfg, { ...common, mode: 'train', labels: join(DIR, 'labels.npy'), out: join(out, 'train'), exportSubnet: join(out, 'clone') });
      const errs: Record<string, number> = {};
      const ours = (...p: string[]) => readNpy(join(out, ...p));

      // Forward values and the loss.
      errs.eval_embedding = relErr(num(ours('eval', 'embedding.npy')), num(npy('configs', name, 'eval_embedding.npy')));
      errs.train_embedding = relErr(num(ours('train', 'embedding.npy')), num(npy('configs', name, 'train_embedding.npy')));
      errs.train_logits = relErr(num(ours('train', 'logits.npy')), num(npy('configs', name, 'train_logits.npy')));
      const refLoss = S[`${name}.train_loss`].value as number;
      errs.loss_rel = Math.abs(Number(num(ours('train', 'loss.npy'))[0]) - refLoss) / Math.abs(refLoss);
      t.true(errs.eval_embedding <= TOL.eval, `eval embedding ${errs.eval_embedding}`);
      t.true(errs.train_embedding <= TOL.train, `train embedding ${errs.train_embedding}`);
      t.true(errs.train_logits <= TOL.train, `train logits ${errs.train_logits}`);
      t.true(errs.loss_rel <= TOL.loss, `loss ${errs.loss_rel}`);

      // Gradients: exactly the parameters that got one, then per tensor the README's bounds.
      const params = keysJson('state_dict_keys.json').filter((k) => k.kind === 'parameter').map((k) => k.key);
      const without = new Set<string>(S[`${name}.params_without_grad`].value);
      const expected = params.filter((p) => !without.has(p)).sort();
      const gradFiles = npyFiles(join(out, 'train', 'grads'));
      t.deepEqual(gradFiles.filter((g) => g !== 'aam.W'), expected, 'the set of parameters with a gradient');
      t.deepEqual(npyFiles(join(cfgDir, 'grads')).filter((g) => g !== 'aam.W'), expected, 'the fixture agrees with params_without_grad');
      t.true(gradFiles.includes('aam.W'));
      const structural = new Set(Object.keys(S.float32_vs_float64?.value?.[name]?.structural_zero_grads_f32_maxabs ?? {}));
      let G = 0;
      for (const p of expected) G = Math.max(G, maxAbs(num(npy('configs', name, 'grads', `${p}.npy`))));
      let worstNorm = 0, worstAbs = 0, outside = 0;
      for (const p of expected) {
        const ref = npy('configs', name, 'grads', `${p}.npy`), got = ours('train', 'grads', `${p}.npy`);
        t.deepEqual(got.shape, ref.shape, p);
        const r = ref.data as Float32Array, g = got.data as Float32Array;
        const abs = maxAbsDiff(g, r);
        worstAbs = Math.max(worstAbs, abs / G);
        t.true(abs <= TOL.gradAbs * G, `${p}: max abs ${abs} > ${TOL.gradAbs} * ${G}`);
        if (structural.has(p) || maxAbs(r) < TOL.gradSmall * G) continue;
        const nr = normRel(g, r);
        worstNorm = Math.max(worstNorm, nr);
        t.true(nr <= TOL.gradNorm, `${p}: norm-relative ${nr}`);
        // Outside the slice (and wherever the reference's gradient is exactly zero): exactly zero.
        for (let i = 0; i < r.length; i++) if (r[i] === 0 && g[i] !== 0) outside++;
      }
      t.is(outside, 0, 'gradient entries that are exactly zero in the reference');
      errs.grads_worst_normrel = worstNorm;
      errs.grads_worst_abs_over_G = worstAbs;
      errs.aam_W = relErr(num(ours('train', 'grads', 'aam.W.npy')), num(npy('configs', name, 'grads', 'aam.W.npy')));
      t.true(errs.aam_W <= TOL.aamW, `aam.W grad ${errs.aam_W}`);

      // BN buffers after the train forward: values, untouched entries bit-identical, counters exact.
      const bufRef = npyFiles(join(cfgDir, 'after_train_forward'));
      t.deepEqual(npyFiles(join(out, 'train', 'buffers')), bufRef, 'buffer keys');
      let bnWorst = 0;
      for (const b of bufRef) {
        const ref = npy('configs', name, 'after_train_forward', `${b}.npy`), got = ours('train', 'buffers', `${b}.npy`);
        const before = npy('state_dict', `${b}.npy`);
        t.deepEqual(scalarShape(got.shape), scalarShape(ref.shape), b);
        if (ref.dtype === 'int64') {
          t.deepEqual(Array.from(num(got), Number), Array.from(num(ref), Number), b);
          continue;
        }
        const e = relErr(num(got), num(ref));
        bnWorst = Math.max(bnWorst, e);
        t.true(e <= TOL.bn, `${b}: ${e}`);
        const r = ref.data as Float32Array, g = got.data as Float32Array, o = before.data as Float32Array;
        let changed = 0;
        for (let i = 0; i < r.length; i++) if (r[i] === o[i] && g[i] !== o[i]) changed++;
        t.is(changed, 0, `${b}: entries the reference left untouched changed`);
      }
      errs.bn_buffers = bnWorst;

      // clone(): keys in order with shapes, tensors, and its eval embedding.
      const cloneKeys = keysJson(join('configs', name, 'subnet_state_dict_keys.json'));
      t.deepEqual(npyFiles(join(out, 'clone')), cloneKeys.map((k) => k.key).sort(), 'clone keys');
      let cloneWorst = 0;
      for (const k of cloneKeys) {
        const ref = npy('configs', name, 'subnet_state_dict', `${k.key}.npy`), got = readNpy(join(out, 'clone', `${k.key}.npy`));
        t.deepEqual(got.shape, k.shape, k.key); // the key list's shape: num_batches_tracked 0-d, as PyTorch
        t.is(got.dtype, ref.dtype, k.key);
        const e = relErr(num(got), num(ref));
        cloneWorst = Math.max(cloneWorst, e);
        t.true(e <= (ref.dtype === 'int64' ? 0 : TOL.clone), `${k.key}: ${e}`);
      }
      errs.clone_tensors = cloneWorst;
      // The clone's convs hold the effective (sliced, kernel-transformed) weights of the dynamic path.
      let effWorst = 0;
      for (const f of npyFiles(join(cfgDir, 'effective_weights'))) {
        const ref = npy('configs', name, 'effective_weights', `${f}.npy`), got = readNpy(join(out, 'clone', `${f}.weight.npy`));
        t.deepEqual(got.shape, ref.shape, f);
        effWorst = Math.max(effWorst, relErr(num(got), num(ref)));
      }
      errs.effective_weights = effWorst;
      t.true(effWorst <= TOL.clone, `effective weights ${effWorst}`);
      const s = await runTdnnForward(cfg, { weights: join(out, 'clone'), input: join(DIR, 'input.npy'), mode: 'eval', out: join(out, 'clone_eval') });
      t.true(s.standalone);
      t.is(s.subnet, subnet);
      errs.clone_vs_dynamic = relErr(num(ours('clone_eval', 'embedding.npy')), num(ours('eval', 'embedding.npy')));
      t.true(errs.clone_vs_dynamic <= TOL.clone, `clone eval vs dynamic path ${errs.clone_vs_dynamic}`);
      t.log(Object.entries(errs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', '));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
}

// Intermediate activations (for locating a mismatch): every eval_act/<name>.npy against the
// native trace; `<layer>_item0` files hold batch item 0 only.
for (const name of ORDER) {
  test.serial(`${name}: eval activations (layer1, blocks before the dense add, catconv, pooling, bnpool, linear)`, async (t) => {
    const cfg = loadConfig(CFG, OVERRIDES);
    const model = buildModel(cfg).model;
    loadWeightsDir(model, join(DIR, 'state_dict'));
    const x = npy('input.npy');
    const [depth, channels, kernels, cat] = CONFIGS[name];
    const r = await loadNative().tdnnForward(model, x.data as Float32Array, x.shape as [number, number, number],
      { mode: 'eval', subnet: { depth, channels, kernels, cat }, trace: true });
    const files = npyFiles(join(DIR, 'configs', name, 'eval_act'));
    t.true(files.length > 0);
    const errs: string[] = [];
    for (const f of files) {
      const item0 = f.endsWith('_item0');
      const key = item0 ? f.slice(0, -'_item0'.length) : f;
      const got = r.trace![key];
      t.truthy(got, `trace has no '${key}'`);
      const ref = npy('configs', name, 'eval_act', `${f}.npy`);
      const data = item0 ? (got.data as Float32Array).subarray(0, got.shape.slice(1).reduce((a, b) => a * b, 1)) : got.data as Float32Array;
      t.deepEqual(item0 ? got.shape.slice(1) : got.shape, ref.shape, f);
      const e = relErr(data, num(ref));
      errs.push(`${f} ${e.toExponential(2)}`);
      t.true(e <= TOL.eval, `${f}: ${e}`);
    }
    t.log(errs.join(', '));
  });
}

// Another supernet shape than the fixtures' (3 blocks, 48 wide, cat 96, kernel 3, freshly
// initialised): the clone runs standalone with the dynamic path's eval embedding, and a reduced
// subnet's train forward changes only the first-k running statistics.
test.serial('another supernet width: clone equals the dynamic path, write-back only through first-k BNs', async (t) => {
  const cfg = loadConfig(CFG, ['MODEL.IN_FEATS', '20', 'MODEL.EMBED_DIM', '12', 'MODEL.CHANNELS', '48', 'MODEL.CAT_CHANNELS', '96',
    'MODEL.NUM_BLOCKS', '3', 'MODEL.KERNEL_SIZE', '3', 'MODEL.NUM_CLASSES', '5', 'THREADS', '1', 'SEED', '7']);
  const native = loadNative();
  const model = buildModel(cfg).model;
  const shape: [number, number, number] = [3, 20, 37];
  const x = Float32Array.from({ length: 3 * 20 * 37 }, (_, i) => Math.sin(i * 0.37) + 0.1 * Math.cos(i * 1.3));
  const subnet = { depth: 2, channels: [32, 16, 48], kernels: [1, 3, 1], cat: 72 };
  const dyn = await native.tdnnForward(model, x, shape, { mode: 'eval', subnet, exportSubnet: true });
  const state = dyn.subnetState!;
  t.false(state.some((e) => /k31|k53/.test(e.name)), 'no kernel transforms in a clone');
  t.deepEqual(state.find((e) => e.name === 'layer1.conv.weight')!.tensor.shape, [32, 20, 1]);
  t.deepEqual(state.find((e) => e.name === 'catconv.weight')!.tensor.shape, [72, 64, 1]);
  const clone = new native.Model({ kind: 'tdnn', inFeats: 20, embedDim: 12, numBlocks: 2, channels: subnet.channels, kernels: subnet.kernels, catChannels: 72, standalone: true });
  t.deepEqual(clone.stateDict().map((e) => e.name), state.map((e) => e.name));
  for (const e of state) clone.setTensor(e.name, e.tensor.data, e.tensor.shape);
  const st = await native.tdnnForward(clone, x, shape, { mode: 'eval' });
  t.true(relErr(st.embedding.data as Float32Array, dyn.embedding.data as Float32Array) <= TOL.clone);

  const before = (name: string) => model.getTensor(name).data as Float32Array;
  const firstConvMean = before('blocks.0.first_conv.bn.bn.running_mean'), lastConvMean = before('blocks.0.last_conv.bn.bn.running_mean');
  const poolVar = before('bnpool.bn.running_var');
  const tr = await native.tdnnForward(model, x, shape, { mode: 'train', subnet, buffers: true });
  const after = (name: string) => tr.buffers![name].data as Float32Array;
  t.deepEqual(after('blocks.0.first_conv.bn.bn.running_mean'), firstConvMean, 'index-list BN (mid 16 < 48): update lost');
  t.deepEqual(after('bnpool.bn.running_var'), poolVar, 'index-list bnpool (cat 72 < 96): update lost');
  const last = after('blocks.0.last_conv.bn.bn.running_mean');
  t.true(last.subarray(0, 32).some((v, i) => v !== lastConvMean[i]), 'first-k BN: the first c0 entries updated');
  t.deepEqual(last.subarray(32), lastConvMean.subarray(32), 'first-k BN: entries beyond c0 untouched');
  t.is(Number(tr.buffers!['blocks.0.first_conv.bn.bn.num_batches_tracked'].data[0]), 1);
  t.is(Number(tr.buffers!['blocks.2.first_conv.bn.bn.num_batches_tracked'].data[0]), 0, 'a block beyond the depth does not run');
});

// The CLI itself: one run through commander, and the errors (exit 2, one clear message).
const base = (out: string, extra: string[] = []) => [
  'forward', '--cfg', CFG, ...OVERRIDES, '--weights', join(DIR, 'state_dict'), '--loss-weights', join(DIR, 'aam.W.npy'),
  '--input', join(DIR, 'input.npy'), '--out', out, ...extra,
];

test.serial('forward CLI: eval of the first config writes the reference embedding', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'tdnn-cli-'));
  try {
    const name = ORDER[0];
    const r = cli([...base(out, ['--mode', 'eval', '--subnet', subnetText(CONFIGS[name])]), '--json']);
    t.is(r.status, 0, r.stderr);
    t.true(relErr(num(readNpy(join(out, 'embedding.npy'))), num(npy('configs', name, 'eval_embedding.npy'))) <= TOL.eval);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test.serial('forward CLI: bad subnets, a weights dir for another width and missing keys are one clear error (exit 2)', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'tdnn-cli-err-'));
  try {
    const [depth, channels, kernels, cat] = CONFIGS[ORDER[0]];
    const key = (k: string) => Number(OVERRIDES[OVERRIDES.indexOf(k) + 1]);
    const full = key('MODEL.CHANNELS'), maxKernel = key('MODEL.KERNEL_SIZE');
    const expectError = (args: string[], pattern: RegExp) => {
      const r = cli(args);
      t.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
      t.regex(r.stderr, pattern);
      t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    };
    // Wrong length: one width too few.
    const short = [depth, ...channels.slice(1), ...kernels, cat].join('-');
    expectError(base(out, ['--subnet', short]), /--subnet .*needs \d+ numbers/);
    // A block width beyond the supernet, and a kernel beyond it.
    const wide = [depth, channels[0], full + 8, ...channels.slice(2), ...kernels, cat].join('-');
    expectError(base(out, ['--subnet', wide]), new RegExp(`block 1's width ${full + 8}`));
    const bigKernel = [depth, ...channels, maxKernel + 2, ...kernels.slice(1), cat].join('-');
    expectError(base(out, ['--subnet', bigKernel]), new RegExp(`layer1's kernel ${maxKernel + 2}`));
    // Weights for another width: the key and both shapes.
    const narrow = base(out).map((v, i, a) => (a[i - 1] === 'MODEL.CHANNELS' ? String(full - 8) : v));
    expectError(narrow, /tensor 'layer1\.conv\.conv\.weight' has shape \[\d+,\d+,\d+\], the model needs \[\d+,\d+,\d+\]/);
    // A missing key.
    const partial = join(out, 'partial');
    cpSync(join(DIR, 'state_dict'), partial, { recursive: true });
    rmSync(join(partial, 'bnpool.bn.running_var.npy'));
    expectError(base(out).map((v, i, a) => (a[i - 1] === '--weights' ? partial : v)), /missing tensor\(s\) bnpool\.bn\.running_var/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
