// ResNet-18 baseline against the reference: BN tensors from .npy, conv/linear weights from the
// fixtures' integer-hash generator (bit-exact), eval embedding/logits and train logits.
import test from 'ava';

import type { NpyArray } from '../lib/io/npy.ts';
import { loadWeights } from '../lib/models/weights.ts';
import { loadNative } from '../lib/native.ts';
import { relErr } from './helpers/compare.ts';
import { FIXTURES, fixture, manifest, stateDictKeys } from './helpers/fixtures.ts';
import { generateTensor } from './helpers/hash_generator.ts';

const S = manifest('resnet').scalars;

function build() {
  const model = new (loadNative().Model)({ kind: 'resnet', depth: 18, numClasses: 10 });
  const generated = new Map((S.generated.value as { key: string; seed: number; exp2: number; shape: number[]; sum: number }[]).map((g) => [g.key, g]));
  const tensors = new Map<string, NpyArray>();
  for (const k of stateDictKeys('resnet')) {
    if (k.source === 'generated') {
      const g = generated.get(k.key)!;
      const numel = g.shape.reduce((a, b) => a * b, 1);
      tensors.set(k.key, { dtype: 'float32', shape: g.shape, data: generateTensor(numel, g.seed, g.exp2) });
    } else {
      tensors.set(k.key, fixture('resnet', 'state_dict', `${k.key}.npy`));
    }
  }
  loadWeights(model, tensors, `${FIXTURES}/resnet`);
  return { model, generated };
}

test('generator reproduces the checked tensors and checksums', (t) => {
  const { generated } = build();
  for (const name of ['conv1.weight', 'classifier.weight', 'classifier.bias']) {
    const g = generated.get(name)! as unknown as { seed: number; exp2: number; shape: number[]; sum: number };
    const ref = fixture('resnet', 'generated_check', `${name}.npy`).data as Float32Array;
    t.deepEqual(generateTensor(ref.length, g.seed, g.exp2), ref);
  }
  for (const g of generated.values()) {
    const v = generateTensor(g.shape.reduce((a, b) => a * b, 1), g.seed, g.exp2);
    t.true(Math.abs(v.reduce((a, b) => a + b, 0) - g.sum) < 1e-6 * Math.max(1, Math.abs(g.sum)), g.key);
  }
});

test('state_dict keys and parameter counts equal the reference', (t) => {
  const { model } = build();
  t.deepEqual(model.stateDict().map((e) => [e.name, e.shape]), stateDictKeys('resnet').map((k) => [k.key, k.shape]));
  t.is(model.paramCounts().total, S.param_count.value);
});

test('eval embedding/logits and train logits within 1e-5', async (t) => {
  const { model } = build();
  const x = fixture('resnet', 'input.npy');
  const shape = x.shape as [number, number, number];
  const e = await model.forward(x.data as Float32Array, shape, { mode: 'eval', trace: true });
  t.deepEqual(e.trace!.layer4.shape, S.featuremap_shape.value);
  t.true(relErr(e.embedding!.data as Float32Array, fixture('resnet', 'eval_embedding.npy').data as Float32Array) <= 1e-5);
  t.true(relErr(e.logits.data as Float32Array, fixture('resnet', 'eval_logits.npy').data as Float32Array) <= 1e-5);
  const tr = await model.forward(x.data as Float32Array, shape, { mode: 'train' });
  t.true(relErr(tr.logits.data as Float32Array, fixture('resnet', 'train_logits.npy').data as Float32Array) <= 1e-5);
});
