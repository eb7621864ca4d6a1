// The native depthwise convolution reproduces ATen's (oneDNN's jit_dw and gemm:jit kernels) bit for
// bit: the forward and the input gradient of every depthwise op, and the weight gradient of the
// dilated ones, on the shapes of the derived network and on every tail of the gemv's blocks.
import test from 'ava';

import { loadNative } from '../lib/native.ts';
import { Prng } from '../lib/util/prng.ts';

const native = loadNative();

const same = (a: Float32Array, b: Float32Array) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));
const normals = (n: number, rng: Prng, scale = 1) => Float32Array.from({ length: n }, () => scale * rng.normal());

test('depthwise convolutions (and ReLU + depthwise fused): output and gradients equal ATen\'s bit for bit', (t) => {
  const rng = new Prng(5);
  const cases: Array<[number[], number[], number[], number[], number[]]> = [
    // [N, C, H, W], [KH, KW], stride, padding, dilation
    [[16, 32, 38, 33], [5, 5], [1, 1], [4, 4], [2, 2]], // dil_conv_5x5 at C = 32
    [[16, 64, 19, 17], [3, 3], [1, 1], [2, 2], [2, 2]], // dil_conv_3x3 at C = 64
    [[4, 16, 38, 33], [5, 5], [2, 2], [4, 4], [2, 2]], // dilated, in a reduction cell
    [[16, 32, 38, 33], [3, 3], [1, 1], [1, 1], [1, 1]], // sep_conv_3x3
    [[4, 16, 38, 33], [5, 5], [2, 2], [2, 2], [1, 1]], // sep_conv_5x5 in a reduction cell
    [[2, 4, 20, 17], [7, 7], [1, 1], [3, 3], [1, 1]], // sep_conv_7x7
    [[1, 8, 12, 9], [3, 3], [1, 1], [1, 1], [1, 1]], // batch 1
    [[3, 4, 5, 3], [3, 3], [1, 1], [2, 2], [2, 2]], // 15 outputs per plane: only the 8/4/2/1 tails
    [[2, 3, 21, 23], [3, 1], [1, 1], [2, 0], [2, 1]], // dil_conv_3x1
    [[2, 3, 20, 16], [1, 3], [2, 1], [0, 2], [1, 2]], // dil_conv_1x3, stride 2 x 1
    [[2, 3, 21, 23], [1, 3], [1, 2], [0, 1], [1, 1]], // sep_conv_1x3, stride 1 x 2
    [[1, 2, 4, 4], [5, 5], [1, 1], [4, 4], [2, 2]], // maps smaller than the filter's reach
  ];
  for (const [[N, C, H, W], [KH, KW], stride, padding, dilation] of cases) {
    const OH = Math.floor((H + 2 * padding[0] - dilation[0] * (KH - 1) - 1) / stride[0]) + 1;
    const OW = Math.floor((W + 2 * padding[1] - dilation[1] * (KW - 1) - 1) / stride[1]) + 1;
    const x = normals(N * C * H * W, rng), w = normals(C * KH * KW, rng, 0.3), dy = normals(N * C * OH * OW, rng);
    const args = [x, [N, C, H, W], w, [C, 1, KH, KW], dy, [N, C, OH, OW]] as const;
    // reluInput: the conv of relu(x) with the ReLU fused in, against ATen's relu, conv and threshold_backward
    for (const reluInput of [false, true]) {
      const a = native.depthwiseConv(...args, { stride, padding, dilation, reluInput, impl: 'native' });
      const b = native.depthwiseConv(...args, { stride, padding, dilation, reluInput, impl: 'aten' });
      const what = JSON.stringify({ shape: [N, C, H, W], kernel: [KH, KW], stride, padding, dilation, reluInput });
      t.deepEqual(a.y.shape, [N, C, OH, OW]);
      for (const k of ['y', 'dx', 'dw'] as const) t.true(same(a[k].data as Float32Array, b[k].data as Float32Array), `${k} ${what}`);
    }
  }
  // Every path passed its self-check here, so the kernels above were the native ones.
  t.is(native.info().nativeDepthwise, 'forward: native (verified); undilated input gradient: native (verified); dilated gradients: native (verified)');
});

test('channels-last dilated depthwise gradients equal the NCHW (ATen-exact) ones bit for bit, and ATen\'s NHWC ones to rounding', (t) => {
  const rng = new Prng(9);
  for (const [[N, C, H, W], [KH, KW], stride, padding, dilation] of [
    [[16, 32, 38, 33], [5, 5], [1, 1], [4, 4], [2, 2]],
    [[4, 16, 19, 17], [3, 3], [2, 2], [2, 2], [2, 2]],
    [[3, 12, 5, 3], [3, 3], [1, 1], [2, 2], [2, 2]],
    [[2, 8, 21, 23], [3, 1], [1, 1], [2, 0], [2, 1]],
  ]) {
    const OH = Math.floor((H + 2 * padding[0] - dilation[0] * (KH - 1) - 1) / stride[0]) + 1;
    const OW = Math.floor((W + 2 * padding[1] - dilation[1] * (KW - 1) - 1) / stride[1]) + 1;
    const x = normals(N * C * H * W, rng).map((v) => Math.max(v, 0)), w = normals(C * KH * KW, rng, 0.3), dy = normals(N * C * OH * OW, rng);
    const args = [x, [N, C, H, W], w, [C, 1, KH, KW], dy, [N, C, OH, OW]] as const;
    const nchw = native.depthwiseConv(...args, { stride, padding, dilation });
    const nhwc = native.depthwiseConv(...args, { stride, padding, dilation, channelsLast: true });
    const atenNhwc = native.depthwiseConv(...args, { stride, padding, dilation, channelsLast: true, impl: 'aten' });
    const what = JSON.stringify({ shape: [N, C, H, W], kernel: [KH, KW], stride, dilation });
    for (const k of ['dx', 'dw'] as const) {
      t.true(same(nhwc[k].data as Float32Array, nchw[k].data as Float32Array), `${k} ${what}`);
      const a = nhwc[k].data as Float32Array, b = atenNhwc[k].data as Float32Array;
      // float32 sums of up to 20k terms in another order: within a few ulps of the largest entry
      const scale = b.reduce((m, v) => Math.max(m, Math.abs(v)), 1);
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
      t.true(worst < 1e-5, `${k} vs ATen NHWC ${what}: ${worst}`);
    }
  }
});

test('depthwiseConv rejects what the native kernels do not cover', (t) => {
  const x = new Float32Array(2 * 4 * 4), w = new Float32Array(2 * 9), dy = new Float32Array(2 * 4 * 4);
  t.throws(() => native.depthwiseConv(x, [1, 2, 4, 4], w, [2, 1, 3, 3], dy.subarray(0, 18), [1, 2, 3, 3], { padding: [1, 1] }), { message: /dy must be \[1, 2, 4, 4\], got \[1, 2, 3, 3\]/ });
  t.throws(() => native.depthwiseConv(x, [1, 2, 4, 4], w, [2, 1, 3, 3], dy, [1, 2, 4, 4], { dilation: [2] }), { message: /\[h, w\]/ });
  t.throws(() => native.depthwiseConv(x, [1, 2, 4, 4], w, [2, 1, 3, 3], dy, [1, 2, 4, 4], { padding: [1, 1], impl: 'cuda' as 'aten' }), { message: /impl must be/ });
});
