// EfficientTDNN's accuracy predictor and subnet encodings (lib/tdnn/encoding.ts, lib/tdnn/predictor.ts,
// native/tdnn/predictor.cc) against the reference's golden numbers: every fixture case under
// test/fixtures/efficienttdnn/ whose manifest says "case": "predictor" (the shipped EER.48.Coarse
// weights, ArchCoder encodings in all modes, one-hot decoding, predictions, GA gene decoding);
// then training (loss going down on a real set, the reference's fit semantics), bit-exact
// save/load, and the strict loader's errors.
import test from 'ava';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { UserError } from '../lib/errors.ts';
import { type NpyArray, readNpy, writeNpy } from '../lib/io/npy.ts';
import { type CoderMode, archCoder, decodeGenes, flatConfig, genesToSubnet, subnetToGenes } from '../lib/tdnn/encoding.ts';
import { AccuracyPredictor, readEerPairs } from '../lib/tdnn/predictor.ts';
import { type Subnet, formatSubnet, subnetFromJson } from '../lib/tdnn/subnet.ts';
import { Prng } from '../lib/util/prng.ts';
import { cli } from './helpers/cli.ts';
import { maxAbs, maxAbsDiff } from './helpers/compare.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'efficienttdnn');
// The fixture README: predictor raw outputs 1e-5, predicted EER 1e-6, of max|ref|; encodings and GA decoding exact.
const TOL = { raw: 1e-5, eer: 1e-6 };

interface Manifest {
  case: string;
  files: Record<string, { shape?: number[] }>;
  scalars: Record<string, { value: any }>;
}

const CASES = existsSync(ROOT)
  ? readdirSync(ROOT).filter((d) => existsSync(join(ROOT, d, 'manifest.json')) && (JSON.parse(readFileSync(join(ROOT, d, 'manifest.json'), 'utf8')) as Manifest).case === 'predictor')
  : [];

test('the fixture set has predictor cases', (t) => {
  t.true(CASES.length >= 1);
});

// Which encoding file is which coder, and the configs its rows encode (the manifest's meanings).
const ENCODING_FILES: [file: string, space: 'coarse' | 'fine', mode: CoderMode, configsKey: string][] = [
  ['encodings_onehot48.npy', 'coarse', null, 'configs'],
  ['encodings_mode_b.npy', 'coarse', 'b', 'configs'],
  ['encodings_mode_c.npy', 'coarse', 'c', 'configs'],
  ['encodings_onehot408.npy', 'fine', null, 'fine_configs'],
];

const rowsOf = (a: NpyArray) => Array.from({ length: a.shape[0] }, (_, i) => Array.from(a.data.subarray(i * a.shape[1], (i + 1) * a.shape[1]) as Float32Array));

for (const name of CASES) {
  const dir = join(ROOT, name);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  const S = manifest.scalars;
  const configs = (S.configs.value as unknown[]).map((c, i) => subnetFromJson(c, `configs[${i}]`));

  test(`${name}: ArchCoder encodings equal the reference's in every mode`, (t) => {
    let checked = 0;
    for (const [file, space, mode, key] of ENCODING_FILES) {
      if (!manifest.files[file]) continue;
      const ref = readNpy(join(dir, file));
      const subs = (S[key].value as unknown[]).map((c, i) => subnetFromJson(c, `${key}[${i}]`));
      const coder = archCoder(space, mode);
      t.is(coder.nfeat, ref.shape[1], `${file}: nfeat`);
      const rows = rowsOf(ref);
      t.true(rows.length <= subs.length, `${file}: more rows than configs`);
      rows.forEach((row, i) => t.deepEqual(Array.from(coder.encodeSubnet(subs[i])), row, `${file} row ${i} (${formatSubnet(subs[i])})`));
      // What encodes decodes back (decode skips the absent layers, so a consistent code gives the flat config).
      rows.forEach((row, i) => t.deepEqual(coder.decode(row), flatConfig(subs[i]), `${file} row ${i} decode`));
      checked++;
    }
    t.true(checked >= 1 && !!manifest.files['encodings_onehot48.npy']);
    if (S.other_modes) for (const [mode, v] of Object.entries(S.other_modes.value as Record<string, { nfeat: number }>)) t.is(archCoder('coarse', mode as CoderMode).nfeat, v.nfeat);
  });

  test(`${name}: one-hot decode (typ=1) equals the reference's`, (t) => {
    const rows = rowsOf(readNpy(join(dir, 'encodings_onehot48.npy')));
    const expected = S.onehot_decode_list.value as number[][];
    t.true(expected.length >= 1);
    expected.forEach((flat, i) => t.deepEqual(archCoder('coarse').decode(rows[i]), flat, `row ${i}`));
  });

  test(`${name}: GA genes decode as MinimizeError.encode`, (t) => {
    const decoded = S.ga_genes_decoded.value as Record<string, number[][]>;
    t.true(Object.keys(decoded).length >= 1);
    for (const [space, expected] of Object.entries(decoded)) {
      if (space !== 'Coarse' && space !== 'Fine') return t.fail(`unknown GA space ${space}`);
      const genes = readNpy(join(dir, `ga_genes_${space.toLowerCase()}.npy`));
      t.is(genes.shape[0], expected.length);
      expected.forEach((flat, i) => {
        const g = Array.from(genes.data.subarray(i * 12, i * 12 + 12) as BigInt64Array, Number);
        t.deepEqual(decodeGenes(g, space), flat, `${space} row ${i}`);
        // subnetToGenes inverts it (up to the ignored genes beyond the depth).
        const back = subnetToGenes(genesToSubnet(g, space), space);
        t.deepEqual(decodeGenes(back, space), flat, `${space} row ${i} re-encoded`);
      });
    }
  });

  test(`${name}: the reference's weights load strictly and predict its raw outputs and EERs`, (t) => {
    const p = AccuracyPredictor.load(join(dir, 'state_dict'));
    const keys = JSON.parse(readFileSync(join(dir, 'state_dict_keys.json'), 'utf8')) as { key: string; shape: number[]; dtype: string; kind: string }[];
    t.deepEqual(p.native.stateDict().map((e) => [e.name, e.shape, e.dtype, e.kind]), keys.map((k) => [k.key, k.shape, k.dtype, k.kind]), 'state_dict keys in PyTorch order');
    const enc = readNpy(join(dir, 'encodings_onehot48.npy'));
    const n = enc.shape[0];
    const r = p.predictEncoded(enc.data as Float32Array, n);
    const raw = readNpy(join(dir, 'raw_outputs.npy')).data as Float32Array;
    const eer = readNpy(join(dir, 'predicted_eer.npy')).data as Float32Array;
    const errRaw = maxAbsDiff(r.raw, raw), errEer = maxAbsDiff(r.eer, eer);
    t.log(`max abs error: raw ${errRaw.toExponential(2)} (max|ref| ${maxAbs(raw).toFixed(3)}), EER ${errEer.toExponential(2)} (max|ref| ${maxAbs(eer).toFixed(3)})`);
    t.true(errRaw <= TOL.raw * maxAbs(raw), `raw ${errRaw}`);
    t.true(errEer <= TOL.eer * maxAbs(eer), `eer ${errEer}`);
    // Encoding subnets inside the predictor gives the same numbers as the reference's codes.
    t.deepEqual(Array.from(p.predict(configs.slice(0, n)).eer), Array.from(r.eer));
    // ynorm as listed.
    const y = S.ynorm?.value as { running_mean: number[]; running_var: number[]; weight: number[]; bias: number[] } | undefined;
    if (y) {
      const get = (k: string) => Array.from(p.native.getTensor(`ynorm.${k}`).data as Float32Array);
      t.deepEqual(get('running_mean'), y.running_mean.map(Math.fround));
      t.deepEqual(get('running_var'), y.running_var.map(Math.fround));
    }
  });

  test(`${name}: CLI tdnn predict --predictor --subnet --json prints {"eer": x}`, (t) => {
    const eer = readNpy(join(dir, 'predicted_eer.npy')).data as Float32Array;
    const k = Math.min(2, configs.length);
    for (let i = 0; i < k; i++) {
      const r = cli(['tdnn', 'predict', '--predictor', join(dir, 'state_dict'), '--subnet', formatSubnet(configs[i]), '--json']);
      t.is(r.status, 0, r.stderr);
      const out = JSON.parse(r.stdout) as Record<string, number>;
      t.deepEqual(Object.keys(out), ['eer']);
      t.true(Math.abs(out.eer - eer[i]) <= TOL.eer * maxAbs(eer), `${formatSubnet(configs[i])}: ${out.eer} vs ${eer[i]}`);
    }
  });
}

// ---- training ----

const FIXTURE = CASES.length ? join(ROOT, CASES[0]) : join(ROOT, 'predictor');

/** n distinct-ish random coarse subnets (uniform over the 12 genes, as the reference's sampler). */
function randomCoarseSubnets(n: number, seed: number): Subnet[] {
  const rng = new Prng(seed);
  return Array.from({ length: n }, () => genesToSubnet([rng.int(2, 5), ...Array.from({ length: 5 }, () => rng.int(0, 5)), ...Array.from({ length: 5 }, () => rng.int(1, 4)), rng.int(0, 5)], 'Coarse'));
}

const tmp = () => mkdtempSync(join(tmpdir(), 'tdnn-predictor-'));

test('training: the reference fit (Adam, batches of 256, StepLR) drives the loss down on real EER targets', async (t) => {
  // Targets: the reference predictor's EERs of 768 sampled subnets (the shipped weights stand in for
  // measured EERs, which the reference does not ship); held out: the fixture's own configs.
  const teacher = AccuracyPredictor.load(join(FIXTURE, 'state_dict'));
  const subnets = randomCoarseSubnets(768, 11);
  const eers = teacher.predict(subnets).eer;
  const pairs = subnets.map((subnet, i) => ({ subnet, eer: eers[i] }));
  const heldOut = (JSON.parse(readFileSync(join(FIXTURE, 'manifest.json'), 'utf8')) as Manifest).scalars.configs.value.map((c: unknown) => subnetFromJson(c));
  const heldEer = teacher.predict(heldOut).eer;
  const student = AccuracyPredictor.create(48, { seed: 0 });
  const before = maxAbsDiff(student.predict(heldOut).eer, heldEer);
  const r = await student.fit(pairs, { epochs: 24, seed: 1 });
  t.is(r.batchesPerEpoch, 3); // 768 // 256, drop_last
  t.is(r.epochLoss.length, 24);
  t.log(`epoch loss ${r.epochLoss[0].toFixed(4)} -> ${r.epochLoss[23].toFixed(4)}; train L1 ${r.l1Error.toFixed(4)}`);
  t.true(r.epochLoss.every(Number.isFinite));
  t.true(r.epochLoss[23] < 0.25 * r.epochLoss[0], JSON.stringify(r.epochLoss));
  const after = maxAbsDiff(student.predict(heldOut).eer, heldEer);
  t.log(`held-out max |EER error| ${before.toFixed(3)} -> ${after.toFixed(3)}`);
  t.true(after < before);
  // StepLR(24 // 2, 0.5), stepped after every epoch but the last: 1e-3 for 12 epochs, then 5e-4.
  t.deepEqual(r.epochLr, [...Array(11).fill(1e-3), ...Array(13).fill(5e-4)]);
});

test('training: ynorm normalises the targets but is never stepped; BN counters count every batch', async (t) => {
  const p = AccuracyPredictor.create(48, { seed: 3 });
  const subnets = randomCoarseSubnets(40, 5);
  const pairs = subnets.map((subnet, i) => ({ subnet, eer: 1 + (i % 7) * 0.5 }));
  await p.fit(pairs, { epochs: 3, batchSize: 8, seed: 2 });
  const get = (k: string) => p.native.getTensor(k).data;
  t.deepEqual(Array.from(get('ynorm.weight') as Float32Array), [1]);
  t.deepEqual(Array.from(get('ynorm.bias') as Float32Array), [0]);
  t.deepEqual(Array.from(get('ynorm.num_batches_tracked') as BigInt64Array), [15n]); // 3 epochs x 5 batches
  t.deepEqual(Array.from(get('model.0.num_batches_tracked') as BigInt64Array), [15n]);
  const mean = (get('ynorm.running_mean') as Float32Array)[0];
  t.true(mean > 0.5 && mean < 2.75, `${mean}`); // an EMA (momentum 0.1) of batch means of targets in [1, 4]
  // Fewer pairs than one batch: the reference's drop_last gives no batch at all.
  await t.throwsAsync(p.fit(pairs, { batchSize: 256 }), { message: /no full batch of 256/ });
});

test('training: a second fit continues the first one\'s optimiser and StepLR (fit_process); CyclicLR triangular2 per batch', async (t) => {
  const pairs = randomCoarseSubnets(32, 13).map((subnet, i) => ({ subnet, eer: 1 + (i % 5) }));
  const p = AccuracyPredictor.create(48, { seed: 1 });
  t.deepEqual((await p.fit(pairs, { epochs: 4, batchSize: 8, seed: 1 })).epochLr, [1e-3, 5e-4, 5e-4, 5e-4]); // StepLR(4 // 2)
  // The reference reuses its optimiser and scheduler: the new lr is ignored, the schedule goes on.
  t.deepEqual((await p.fit(pairs, { epochs: 2, lr: 0.1, batchSize: 8, seed: 1 })).epochLr, [2.5e-4, 2.5e-4]);
  // Named option: a fresh optimiser and StepLR(2 // 2).
  t.deepEqual((await p.fit(pairs, { epochs: 2, lr: 0.1, batchSize: 8, seed: 1, freshOptimizer: true })).epochLr, [0.05, 0.05]);
  // CyclicLR(lr * 0.5, lr, step_size_up = (32 // 8) * (4 // 2 // 1) = 8): after 4, 8, 12, 16 batches.
  const c = AccuracyPredictor.create(48, { seed: 1 });
  const lrs = (await c.fit(pairs, { epochs: 4, batchSize: 8, cycle: 1, scheduler: 'cycliclr', seed: 1 })).epochLr;
  [7.5e-4, 1e-3, 7.5e-4, 5e-4].forEach((v, i) => t.true(Math.abs(lrs[i] - v) < 1e-15, `${lrs}`));
  const sgd = AccuracyPredictor.create(48, { seed: 1 });
  const r = await sgd.fit(pairs, { epochs: 6, batchSize: 8, optimizer: 'sgd', lr: 1e-2, seed: 1 });
  t.true(r.epochLoss.every(Number.isFinite) && r.epochLoss[5] < r.epochLoss[0], JSON.stringify(r.epochLoss));
});

test('training: the same seeds give the same predictor; a trained predictor round-trips through save/load bit-exactly', async (t) => {
  const subnets = randomCoarseSubnets(64, 9);
  const pairs = subnets.map((subnet, i) => ({ subnet, eer: 1 + Math.sin(i) ** 2 * 3 }));
  const a = AccuracyPredictor.create(48, { seed: 4 });
  const b = AccuracyPredictor.create(48, { seed: 4 });
  await a.fit(pairs, { epochs: 5, batchSize: 16, seed: 6 });
  await b.fit(pairs, { epochs: 5, batchSize: 16, seed: 6 });
  const bytes = (p: AccuracyPredictor) => p.tensors().map(([k, v]) => [k, Buffer.from(v.data.buffer, v.data.byteOffset, v.data.byteLength).toString('hex')]);
  t.deepEqual(bytes(a), bytes(b));

  const dir = join(tmp(), 'trained');
  a.save(dir);
  t.deepEqual(readdirSync(dir).sort(), a.native.stateDict().map((e) => `${e.name}.npy`).sort());
  t.deepEqual(readNpy(join(dir, 'ynorm.num_batches_tracked.npy')).shape, []); // 0-d, as PyTorch
  const c = AccuracyPredictor.load(dir);
  t.deepEqual(bytes(c), bytes(a));
  const x = a.encode(subnets);
  t.deepEqual(Buffer.from(c.predictEncoded(x, 64).eer.buffer), Buffer.from(a.predictEncoded(x, 64).eer.buffer));
  // No overwrite by accident; with overwrite the directory is replaced whole and no temp is left.
  t.throws(() => a.save(dir), { instanceOf: UserError, message: /already exists/ });
  b.save(dir, { overwrite: true });
  t.deepEqual(bytes(AccuracyPredictor.load(dir)), bytes(b));
  t.deepEqual(readdirSync(dirname(dir)), ['trained']);
});

test('CLI: tdnn predict --train pairs.jsonl --out dir trains, saves and predicts with the result', (t) => {
  const d = tmp();
  const teacher = AccuracyPredictor.load(join(FIXTURE, 'state_dict'));
  const subnets = randomCoarseSubnets(32, 21);
  const eers = teacher.predict(subnets).eer;
  writeFileSync(join(d, 'pairs.jsonl'), subnets.map((s, i) => JSON.stringify({ subnet: formatSubnet(s), eer: eers[i] })).join('\n') + '\n');
  t.is(readEerPairs(join(d, 'pairs.jsonl')).length, 32);
  const r = cli(['tdnn', 'predict', '--train', join(d, 'pairs.jsonl'), '--out', join(d, 'p'), '--epochs', '20', '--batch-size', '8', '--seed', '0', '--subnet', formatSubnet(subnets[0]), '--json']);
  t.is(r.status, 0, r.stderr);
  const lines = r.stdout.trim();
  t.true(lines.includes('"final_loss"') && lines.includes('"eer"'));
  const again = cli(['tdnn', 'predict', '--predictor', join(d, 'p'), '--subnet', formatSubnet(subnets[0]), '--json']);
  t.is(again.status, 0, again.stderr);
  t.is(JSON.parse(again.stdout).eer, AccuracyPredictor.load(join(d, 'p')).predict([subnets[0]]).eer[0]);
  const summary = JSON.parse(r.stdout.slice(0, r.stdout.indexOf('}\n') + 1)) as { first_loss: number; final_loss: number };
  t.true(summary.final_loss < summary.first_loss);
});

// ---- errors ----

function brokenCopy(edit: (dir: string) => void): string {
  const dir = join(tmp(), 'state_dict');
  cpSync(join(FIXTURE, 'state_dict'), dir, { recursive: true });
  edit(dir);
  return dir;
}

test('a predictor dir with a missing key is one error naming it (API and CLI exit 2)', (t) => {
  const dir = brokenCopy((d) => rmSync(join(d, 'ynorm.running_var.npy')));
  t.throws(() => AccuracyPredictor.load(dir), { instanceOf: UserError, message: /missing tensor 'ynorm\.running_var'/ });
  const r = cli(['tdnn', 'predict', '--predictor', dir, '--subnet', '2-128-128-128-1-1-1-384', '--json']);
  t.is(r.status, 2);
  t.regex(r.stderr, /missing tensor 'ynorm\.running_var'/);
  t.is(r.stdout, '');
});

test('a predictor dir with a wrong shape, an extra key, a wrong dtype or NaN is an error naming the key', (t) => {
  const wrongShape = brokenCopy((d) => writeNpy(join(d, 'model.3.weight.npy'), { data: new Float32Array(400 * 399), shape: [400, 399] }));
  t.throws(() => AccuracyPredictor.load(wrongShape), { instanceOf: UserError, message: /tensor 'model\.3\.weight' has shape \[400,399\].*needs \[400,400\]/ });
  const extra = brokenCopy((d) => writeNpy(join(d, 'model.9.weight.npy'), { data: new Float32Array(4), shape: [4] }));
  t.throws(() => AccuracyPredictor.load(extra), { instanceOf: UserError, message: /unexpected tensor 'model\.9\.weight'/ });
  const dtype = brokenCopy((d) => writeNpy(join(d, 'model.7.bias.npy'), { data: new Float64Array(1), shape: [1] }));
  t.throws(() => AccuracyPredictor.load(dtype), { instanceOf: UserError, message: /tensor 'model\.7\.bias' is float64/ });
  const nan = brokenCopy((d) => writeNpy(join(d, 'model.5.bias.npy'), { data: new Float32Array(400).fill(NaN), shape: [400] }));
  t.throws(() => AccuracyPredictor.load(nan), { instanceOf: UserError, message: /tensor 'model\.5\.bias' holds NaN/ });
  const noInput = brokenCopy((d) => rmSync(join(d, 'model.0.weight.npy')));
  t.throws(() => AccuracyPredictor.load(noInput), { instanceOf: UserError, message: /missing tensor 'model\.0\.weight'/ });
  t.throws(() => AccuracyPredictor.load(join(tmp(), 'nothing')), { instanceOf: UserError, message: /not a directory/ });
});

test('subnets outside the encoding, or of the wrong length, are errors naming the field', (t) => {
  const p = AccuracyPredictor.load(join(FIXTURE, 'state_dict'));
  t.throws(() => p.predict([{ depth: 2, channels: [128, 200, 128], kernels: [1, 1, 1], cat: 384 }]), { instanceOf: UserError, message: /width1 = 200 is not in the encoding's choices/ });
  t.throws(() => p.predict([{ depth: 1, channels: [128, 128], kernels: [1, 1], cat: 384 }]), { instanceOf: UserError, message: /depth = 1 is not in/ });
  const r = cli(['tdnn', 'predict', '--predictor', join(FIXTURE, 'state_dict'), '--subnet', '3-512-512-512-1536', '--json']);
  t.is(r.status, 2);
  t.regex(r.stderr, /depth 3 needs 10 numbers/);
  const k = cli(['tdnn', 'predict', '--predictor', join(FIXTURE, 'state_dict'), '--subnet', '2-128-128-128-7-1-1-384', '--json']);
  t.is(k.status, 2);
  t.regex(k.stderr, /kernel0 = 7 is not in the encoding's choices/);
  t.throws(() => decodeGenes([5, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0], 'Coarse'), { instanceOf: UserError, message: /gene 0 \(depth\) = 5/ });
  t.throws(() => decodeGenes([2, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 145], 'Fine'), { instanceOf: UserError, message: /gene 11 \(cat\) = 145/ });
});
