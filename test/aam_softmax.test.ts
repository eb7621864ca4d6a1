// sugar's AAM-softmax head (native/train/aam_softmax.cc) against the reference's golden numbers in
// test/fixtures/efficienttdnn/aam: every variant its manifest lists (margins, scales, easy margin,
// soft mode, rows at the branch point), forward values, loss and both gradients.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { readNpy } from '../lib/io/npy.ts';
import { loadNative } from '../lib/native.ts';
import { aamMargin } from '../lib/train/schedule.ts';
import { relErr } from './helpers/compare.ts';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'efficienttdnn', 'aam');
const MANIFEST = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { scalars: Record<string, { value: any }> };
const VARIANTS = MANIFEST.scalars.variants.value as [string, number, number, boolean, boolean][];

// The fixture README: logits (and the cosines and phi they are made of) 1e-5, gradients 1e-4, of
// max|ref|; the loss 1e-5 relative.
const TOL = { forward: 1e-5, grad: 1e-4, loss: 1e-5 };

const npy = (variant: string, name: string) => readNpy(join(DIR, variant, `${name}.npy`));

test('the fixture set lists variants', (t) => {
  t.true(VARIANTS.length >= 1);
});

for (const [name, margin, scale, easyMargin, soft] of VARIANTS) {
  test(`${name}: cosine, phi, logits, loss and gradients match AAMSoftmax (m ${margin}, s ${scale}${easyMargin ? ', easy' : ''}${soft ? ', soft' : ''})`, (t) => {
    const x = npy(name, 'x'), W = npy(name, 'W'), labels = npy(name, 'labels');
    const r = loadNative().aamSoftmax(x.data as Float32Array, x.shape as [number, number], W.data as Float32Array, W.shape as [number, number],
      labels.data as BigInt64Array, { margin, scale, easyMargin, soft });
    t.deepEqual(r.logits.shape, [x.shape[0], W.shape[1]]);
    t.deepEqual(r.gradX.shape, x.shape);
    t.deepEqual(r.gradW.shape, W.shape);
    const errs = {
      cosine: relErr(r.cosine.data as Float32Array, npy(name, 'cosine').data as Float32Array),
      phi: relErr(r.phi.data as Float32Array, npy(name, 'phi_raw').data as Float32Array),
      logits: relErr(r.logits.data as Float32Array, npy(name, 'logits').data as Float32Array),
      gradX: relErr(r.gradX.data as Float32Array, npy(name, 'grad_x').data as Float32Array),
      gradW: relErr(r.gradW.data as Float32Array, npy(name, 'grad_W').data as Float32Array),
    };
    const loss = MANIFEST.scalars[`${name}.loss`].value as number;
    const lossErr = Math.abs(r.loss - loss) / Math.abs(loss);
    t.log(Object.entries(errs).map(([k, v]) => `${k} ${v.toExponential(2)}`).join(', ') + ` (of max); loss ${lossErr.toExponential(2)} relative`);
    t.true(errs.cosine <= TOL.forward && errs.phi <= TOL.forward && errs.logits <= TOL.forward, JSON.stringify(errs));
    t.true(errs.gradX <= TOL.grad && errs.gradW <= TOL.grad, JSON.stringify(errs));
    t.true(lossErr <= TOL.loss, `${lossErr}`);
    // Which branch each target took, rows next to the branch point included: exact.
    t.deepEqual(Array.from(r.targetUsesPhi.data as Uint8Array), Array.from(npy(name, 'target_uses_phi').data as BigInt64Array, Number));
  });
}

test('Int32Array labels give the same numbers as BigInt64Array labels', (t) => {
  const [name, margin, scale, easyMargin, soft] = VARIANTS[0];
  const x = npy(name, 'x'), W = npy(name, 'W'), labels = npy(name, 'labels').data as BigInt64Array;
  const run = (y: Int32Array | BigInt64Array) => loadNative().aamSoftmax(x.data as Float32Array, x.shape as [number, number], W.data as Float32Array,
    W.shape as [number, number], y, { margin, scale, easyMargin, soft });
  const a = run(labels), b = run(Int32Array.from(labels, Number));
  t.is(a.loss, b.loss);
  t.deepEqual(a.gradW.data, b.gradW.data);
});

test('aamSoftmax rejects bad shapes and labels', (t) => {
  const native = loadNative();
  const x = new Float32Array(6).fill(0.5), W = new Float32Array(12).fill(0.25);
  t.throws(() => native.aamSoftmax(x, [2, 3], W, [4, 3], new Int32Array([0, 1])), { message: /wShape/ });
  t.throws(() => native.aamSoftmax(x, [2, 3], W, [3, 4], new Int32Array([0, 4])), { message: /labels must be in \[0, 4\)/ });
  t.throws(() => native.aamSoftmax(x, [2, 3], W, [3, 4], new Float32Array([0, 1]) as unknown as Int32Array), { message: /Int32Array or a BigInt64Array/ });
  t.throws(() => native.aamSoftmax(x, [2, 3], W, [3, 4], new Int32Array([0, 1]), { margin: Number.NaN }), { message: /finite/ });
  t.notThrows(() => native.aamSoftmax(x, [2, 3], W, [3, 4], new Int32Array([0, 3])));
});

test('aamMargin: constant by default (the reference), linear warm-up as a named option', (t) => {
  t.is(aamMargin(0, 0.2), 0.2);
  t.is(aamMargin(123456, 0.2), 0.2);
  t.is(aamMargin(0, 0.2, { warmupSteps: 100 }), 0);
  t.is(aamMargin(50, 0.2, { warmupSteps: 100 }), 0.1);
  t.is(aamMargin(100, 0.2, { warmupSteps: 100 }), 0.2);
  t.is(aamMargin(5000, 0.2, { warmupSteps: 100 }), 0.2);
  t.throws(() => aamMargin(0, 0.2, { warmupSteps: -1 }), { message: /warmupSteps/ });
});
