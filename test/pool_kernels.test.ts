// The native pooling kernels return exactly ATen's values (and, for the training max pool, ATen's
// input gradient), on edges, strides, odd sizes, ties of signed zeros, infinities and NaN.
import test from 'ava';

import { loadNative } from '../lib/native.ts';
import { Prng } from '../lib/util/prng.ts';

const native = loadNative();

function input(n: number, rng: Prng, special: boolean): Float32Array {
  const x = Float32Array.from({ length: n }, () => rng.normal());
  if (special) for (let i = 0; i < n; i += 7) x[i] = [0, -0, Infinity, -Infinity, Number.NaN, 1e-42][rng.int(0, 6)];
  return x;
}

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

test('max and avg pooling kernels equal ATen bit for bit', (t) => {
  const rng = new Prng(3);
  let cases = 0;
  for (const [N, C, H, W] of [[2, 3, 15, 16], [1, 2, 5, 4], [3, 4, 3, 3], [2, 1, 150, 128], [1, 2, 8, 33]] as const)
    for (const [k, s, p] of [[3, 1, 1], [3, 2, 1], [3, 1, 0], [2, 2, 0], [5, 1, 2], [3, 3, 1]])
      for (const special of [false, true]) {
        if (H + 2 * p < k || W + 2 * p < k) continue;
        const x = input(N * C * H * W, rng, special);
        const shape: [number, number, number, number] = [N, C, H, W];
        for (const kind of ['max', 'avg'] as const)
          for (const countIncludePad of kind === 'avg' ? [false, true] : [true]) {
            const o = { kind, kernel: k, stride: s, padding: p, countIncludePad };
            const a = native.pool2d(x, shape, { ...o, impl: 'native' });
            const b = native.pool2d(x, shape, { ...o, impl: 'aten' });
            t.deepEqual(a.shape, b.shape);
            t.true(same(a.data as Float32Array, b.data as Float32Array), `${kind} ${JSON.stringify(o)} on ${shape}${special ? ' with specials' : ''}`);
            cases++;
          }
      }
  t.log(`${cases} cases identical`);
});

test('the training max pool (one-byte argmax taps) gives ATen\'s output and input gradient bit for bit', (t) => {
  const rng = new Prng(11);
  let cases = 0;
  for (const [N, C, H, W] of [[2, 3, 15, 16], [1, 2, 5, 4], [3, 4, 3, 3], [2, 1, 38, 33], [1, 2, 8, 33]] as const)
    for (const [k, s, p] of [[3, 1, 1], [3, 2, 1], [3, 1, 0], [2, 2, 0], [5, 1, 2], [3, 3, 1]])
      for (const special of [false, true]) {
        if (H + 2 * p < k || W + 2 * p < k) continue;
        // ReLU-like inputs: many tied zeros, where the first-maximum rule decides the gradient.
        const x = input(N * C * H * W, rng, special).map((v) => (v < 0 && !special ? 0 : v));
        const shape: [number, number, number, number] = [N, C, H, W];
        const OH = Math.floor((H + 2 * p - k) / s) + 1, OW = Math.floor((W + 2 * p - k) / s) + 1;
        const gradOutput = Float32Array.from({ length: N * C * OH * OW }, () => rng.normal());
        const o = { kind: 'max' as const, kernel: k, stride: s, padding: p, gradOutput };
        const a = native.pool2d(x, shape, { ...o, impl: 'native' });
        const b = native.pool2d(x, shape, { ...o, impl: 'aten' });
        const what = `${JSON.stringify({ k, s, p })} on ${shape}${special ? ' with specials' : ''}`;
        t.true(same(a.output.data as Float32Array, b.output.data as Float32Array), `output ${what}`);
        t.true(same(a.gradInput.data as Float32Array, b.gradInput.data as Float32Array), `gradInput ${what}`);
        cases++;
      }
  t.log(`${cases} cases identical`);
});
