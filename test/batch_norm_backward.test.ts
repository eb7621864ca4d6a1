// The native batch-norm backward returns exactly ATen's gradients (input, weight, bias) on both of
// ATen's paths: a contiguous gradient and a concat's channel slice, affine or not, every mask, odd
// plane sizes (vector tails) and the network's own map sizes.
import test from 'ava';

import { loadNative } from '../lib/native.ts';
import { Prng } from '../lib/util/prng.ts';

const native = loadNative();

const same = (a: { data: unknown } | null, b: { data: unknown } | null) => {
  if (a === null || b === null) return a === b;
  const x = a.data as Float32Array, y = b.data as Float32Array;
  return x.length === y.length && x.every((v, i) => Object.is(v, y[i]));
};

const SHAPES = [[2, 3, 4, 4], [3, 5, 5, 7], [4, 8, 19, 17], [2, 16, 10, 9], [16, 4, 38, 33], [1, 2, 7, 9], [2, 3, 13, 11]] as const;

for (const slice of [false, true])
  test(`batch-norm backward on a ${slice ? "concat's channel slice" : 'contiguous gradient'} equals ATen bit for bit`, (t) => {
    const rng = new Prng(slice ? 5 : 4);
    let cases = 0;
    for (const [N, C, H, W] of SHAPES)
      for (const affine of [true, false])
        for (const mask of (affine ? [[true, true, true], [true, false, false], [false, true, true]] : [[true, false, false]]) as [boolean, boolean, boolean][]) {
          const x = Float32Array.from({ length: N * C * H * W }, () => rng.normal() * 3 + 0.5);
          const total = slice ? 3 * C : C, offset = slice ? C : 0;
          const dy = Float32Array.from({ length: N * total * H * W }, () => rng.normal());
          const weight = affine ? Float32Array.from({ length: C }, () => rng.uniform(0.5, 1.5)) : undefined;
          const o = { weight, mask, channelOffset: offset };
          const a = native.batchNormBackward(x, [N, C, H, W], dy, [N, total, H, W], { ...o, impl: 'native' });
          const b = native.batchNormBackward(x, [N, C, H, W], dy, [N, total, H, W], { ...o, impl: 'aten' });
          const what = `${[N, C, H, W]} affine=${affine} mask=${mask}`;
          // a one-sample slice is contiguous; planes under 16 values stay ATen's on the contiguous path
          t.is(a.path, slice && N > 1 ? 'strided' : H * W >= 16 ? 'contiguous' : 'aten', what);
          t.true(same(a.dx, b.dx), `dx ${what}`);
          t.true(same(a.dw, b.dw), `dw ${what}`);
          t.true(same(a.db, b.db), `db ${what}`);
          cases++;
        }
    t.log(`${cases} cases identical`);
  });
