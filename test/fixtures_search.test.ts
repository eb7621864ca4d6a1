// The search supernet against the real reference (C=4, 5 cells): plain softmax mixing, and the
// reference's hard straight-through Gumbel mixing replayed from the recorded noise.
import test from 'ava';
import { readdirSync } from 'node:fs';

import { loadWeightsDir } from '../lib/models/weights.ts';
import { loadNative } from '../lib/native.ts';
import { maxAbs, maxAbsDiff, relErr } from './helpers/compare.ts';
import { FIXTURES, fixture, manifest, stateDictKeys } from './helpers/fixtures.ts';

const S = manifest('search').scalars;

function build(mixing: 'softmax' | 'gumbel') {
  const model = new (loadNative().Model)({ kind: 'search', C: S.C.value, layers: S.layers.value, numClasses: S.num_classes.value, primitives: S.primitives.value, mixing });
  loadWeightsDir(model, `${FIXTURES}/search/state_dict`);
  return model;
}

test('state_dict keys (alphas first), shapes and parameter counts equal the reference', (t) => {
  const model = build('softmax');
  t.deepEqual(model.stateDict().map((e) => [e.name, e.shape, e.kind]), stateDictKeys('search').map((k) => [k.key, k.shape, k.kind]));
  const counts = model.paramCounts();
  t.is(counts.total, S.param_count_including_alphas.value);
  t.is(counts.total - counts.alphas, S.param_count_excluding_alphas.value);
});

for (const kase of ['a_softmax', 'b_gumbel_hard'] as const) {
  test(`${kase}: logits, loss, alpha and weight gradients`, async (t) => {
    const model = build(kase === 'a_softmax' ? 'softmax' : 'gumbel');
    const x = fixture('search', 'input.npy');
    const y = fixture('search', 'labels.npy');
    const cells = (S.cell_kinds.value as string[]).length;
    const gumbelNoise = kase === 'b_gumbel_hard'
      ? Array.from({ length: cells }, (_, i) => fixture('search', kase, `gumbel_noise_${i}.npy`).data as Float32Array)
      : undefined;
    const r = await model.forward(x.data as Float32Array, x.shape as [number, number, number], { mode: 'train', labels: y.data as BigInt64Array, grads: true, gumbelNoise });
    t.true(relErr(r.logits.data as Float32Array, fixture('search', kase, 'logits.npy').data as Float32Array) <= 1e-5);
    const loss = S[`${kase}_loss`].value;
    t.true(Math.abs(r.loss! - loss) <= 1e-6 * loss, `loss ${r.loss} vs ${loss}`);
    // The mixing weights the reference used.
    if (kase === 'a_softmax') {
      (S.cell_kinds.value as string[]).forEach((kind, i) =>
        t.true(relErr(r.mixingWeights![i].data as Float32Array, fixture('search', kase, `weights_${kind}.npy`).data as Float32Array) <= 1e-6));
    } else {
      for (let i = 0; i < cells; i++) t.true(maxAbsDiff(r.mixingWeights![i].data as Float32Array, fixture('search', kase, `weights_${i}.npy`).data as Float32Array) <= 1e-6);
    }
    for (const which of ['normal', 'reduce']) {
      const err = relErr(r.grads![`alphas_${which}`].data as Float32Array, fixture('search', kase, `grad_alphas_${which}.npy`).data as Float32Array);
      t.true(err <= 5e-3, `alphas_${which}: ${err}`);
    }
    for (const file of readdirSync(`${FIXTURES}/search/${kase}/grads`)) {
      const name = file.slice(0, -4);
      const ref = fixture('search', kase, 'grads', file).data as Float32Array;
      const got = r.grads![name].data as Float32Array;
      // Unselected ops under hard mixing get exactly zero gradient: compare absolutely there.
      const err = maxAbs(ref) === 0 ? maxAbs(got) : relErr(got, ref);
      t.true(err <= 2e-2, `${name}: ${err}`);
    }
  });
}

test('gumbel mixing samples one-hot weights per cell when no noise is given, in eval mode too', async (t) => {
  const model = build('gumbel');
  const x = fixture('search', 'input.npy');
  const r = await model.forward(x.data as Float32Array, x.shape as [number, number, number], { mode: 'eval' });
  t.is(r.embedding!.shape[1], 64);
  t.is(r.mixingWeights!.length, 5);
  for (const w of r.mixingWeights!) {
    const d = w.data as Float32Array;
    for (let row = 0; row < 14; row++) {
      const vals = Array.from(d.subarray(row * 8, row * 8 + 8));
      t.is(vals.filter((v) => Math.abs(v - 1) < 1e-6).length, 1);
      t.is(vals.filter((v) => Math.abs(v) < 1e-6).length, 7);
    }
  }
});
