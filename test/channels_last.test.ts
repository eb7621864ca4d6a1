// MODEL.CHANNELS_LAST, a named option: same parameters (only the memory layout changes), results
// equal to the reference layout's up to last-bit rounding, checkpoints and optimizer state intact.
import test from 'ava';

import { loadNative } from '../lib/native.ts';
import { README_GENOTYPE } from './helpers/fixtures.ts';

const native = loadNative();
const spec = { kind: 'network' as const, C: 8, layers: 3, numClasses: 5, genotype: { normal: README_GENOTYPE.normal, normalConcat: README_GENOTYPE.normalConcat, reduce: README_GENOTYPE.reduce, reduceConcat: README_GENOTYPE.reduceConcat } };
const B = 4, T = 300, F = 257;
const x = Float32Array.from({ length: B * T * F }, (_, i) => Math.sin(i * 0.013) + 0.1 * Math.cos(i * 0.37));
const y = Int32Array.from([0, 3, 1, 4]);

test.serial('channels-last keeps every parameter value and matches the NCHW forward and first step to rounding', async (t) => {
  const a = new native.Model(spec as never, { seed: 4 });
  const b = new native.Model(spec as never, { seed: 4 });
  b.setChannelsLast(true);
  for (const e of a.stateDict()) t.deepEqual(b.getTensor(e.name).data, a.getTensor(e.name).data, e.name);
  const ea = await a.forward(x, [B, T, F], { mode: 'eval' });
  const eb = await b.forward(x, [B, T, F], { mode: 'eval' });
  const va = ea.embedding!.data as Float32Array, vb = eb.embedding!.data as Float32Array;
  let worst = 0, scale = 0;
  va.forEach((v, i) => { worst = Math.max(worst, Math.abs(v - vb[i])); scale = Math.max(scale, Math.abs(v)); });
  t.log(`eval embedding: max |NHWC - NCHW| = ${worst.toExponential(2)} (max |value| ${scale.toFixed(3)})`);
  t.true(worst <= 1e-5 * Math.max(1, scale));
  const ta = new native.Trainer(a), tb = new native.Trainer(b);
  const sa = await ta.step(x, [B, T, F], y), sb = await tb.step(x, [B, T, F], y);
  t.true(Math.abs(sa.loss - sb.loss) <= 1e-5 * Math.abs(sa.loss), `${sa.loss} vs ${sb.loss}`);
  // The optimizer state exports in the usual layout and loads back into channels-last parameters.
  const state = tb.optimizerState();
  const tc = new native.Trainer(b);
  tc.loadOptimizerState(state as never);
  const again = tc.optimizerState();
  for (const k of Object.keys(state)) t.deepEqual(again[k].data, state[k].data, k);
  // Weights written into a channels-last model read back unchanged.
  const w = a.getTensor('stem0.0.weight');
  b.setTensor('stem0.0.weight', w.data as Float32Array, w.shape);
  t.deepEqual(b.getTensor('stem0.0.weight').data, w.data);
});
