// The derived (genotype) network against the real reference: README genotype, C=8, 5 cells.
import test from 'ava';

import { loadWeightsDir } from '../lib/models/weights.ts';
import { loadNative } from '../lib/native.ts';
import { relErr } from './helpers/compare.ts';
import { FIXTURES, README_GENOTYPE, fixture, manifest, stateDictKeys } from './helpers/fixtures.ts';

const man = manifest('derived');
const S = man.scalars;

function build() {
  const model = new (loadNative().Model)({ kind: 'network', C: S.C.value, layers: S.layers.value, numClasses: S.num_classes.value, genotype: README_GENOTYPE });
  loadWeightsDir(model, `${FIXTURES}/derived/state_dict`);
  return model;
}

test('state_dict keys, order, shapes and parameter count equal the reference', (t) => {
  const model = build();
  const keys = stateDictKeys('derived');
  t.deepEqual(model.stateDict().map((e) => [e.name, e.shape, e.kind]), keys.map((k) => [k.key, k.shape, k.kind]));
  t.is(model.paramCounts().total, S.param_count.value);
});

test('eval mode: embedding, logits and every activation within 1e-5', async (t) => {
  const model = build();
  const x = fixture('derived', 'input.npy');
  const r = await model.forward(x.data as Float32Array, x.shape as [number, number, number], { mode: 'eval', trace: true });
  t.true(relErr(r.embedding!.data as Float32Array, fixture('derived', 'eval_embedding.npy').data as Float32Array) <= 1e-5);
  t.true(relErr(r.logits.data as Float32Array, fixture('derived', 'eval_logits.npy').data as Float32Array) <= 1e-5);
  for (const [name, shape] of Object.entries(S.activation_shapes.value as Record<string, number[]>)) {
    t.deepEqual(r.trace![name].shape, shape, name);
    const err = relErr(r.trace![name].data as Float32Array, fixture('derived', 'eval_activations', `${name}.npy`).data as Float32Array);
    t.true(err <= 1e-5, `${name}: ${err}`);
  }
});

test('train mode: logits, label-smoothed loss, every gradient and the BN running-stat update', async (t) => {
  const model = build();
  const x = fixture('derived', 'input.npy');
  const y = fixture('derived', 'labels.npy');
  const r = await model.forward(x.data as Float32Array, x.shape as [number, number, number], { mode: 'train', labels: y.data as BigInt64Array, grads: true });
  t.true(relErr(r.logits.data as Float32Array, fixture('derived', 'train_logits.npy').data as Float32Array) <= 1e-5);
  t.true(Math.abs(r.loss! - S.train_loss.value) <= 1e-6 * Math.abs(S.train_loss.value));
  const names = Object.keys(r.grads!);
  t.is(names.length, model.stateDict().filter((e) => e.kind === 'parameter').length);
  let worst = 0;
  for (const name of names) {
    const err = relErr(r.grads![name].data as Float32Array, fixture('derived', 'grads', `${name}.npy`).data as Float32Array);
    worst = Math.max(worst, err);
    t.true(err <= 1e-3, `grad ${name}: ${err}`);
  }
  t.log(`worst gradient error ${worst.toExponential(2)} (tolerance 1e-3)`);
  for (const e of model.stateDict().filter((e) => e.kind === 'buffer')) {
    const got = model.getTensor(e.name);
    const ref = fixture('derived', 'after_train_forward', `${e.name}.npy`);
    t.true(relErr(got.data as Float32Array, ref.data as Float32Array) <= 1e-5, e.name);
  }
});
