// The binary-weight convolution itself (bnn.md §3.1, test plan T1-T5 and T7): the sign convention
// (+0.0 and -0.0 are +1, never sign()), alpha against a float64 reference, the forward against a
// plain float64 convolution with W_b, the custom backward against the closed-form formula in
// float64 (to 1e-12), the alpha path against finite differences, and the .bwn sign packing.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { packSigns, unpackSigns } from '../lib/bnn/pack.ts';
import { PROJECT_ROOT, loadNative } from '../lib/native.ts';
import { Prng } from '../lib/util/prng.ts';

const native = loadNative();
type Scale = 'channel' | 'layer' | 'none';
type Ste = 'clip' | 'identity';
interface Geometry { N: number; C: number; H: number; W: number; O: number; k: number; stride: number; pad: number }

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const outSize = (g: Geometry) => [Math.floor((g.H + 2 * g.pad - g.k) / g.stride) + 1, Math.floor((g.W + 2 * g.pad - g.k) / g.stride) + 1];

// Plain float64 convolution (cross-correlation, zero padding) and its two gradients.
function conv(g: Geometry, x: ArrayLike<number>, w: ArrayLike<number>): Float64Array {
  const [OH, OW] = outSize(g);
  const y = new Float64Array(g.N * g.O * OH * OW);
  for (let n = 0; n < g.N; n++) for (let o = 0; o < g.O; o++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    let s = 0;
    for (let i = 0; i < g.C; i++) for (let ky = 0; ky < g.k; ky++) for (let kx = 0; kx < g.k; kx++) {
      const iy = oy * g.stride - g.pad + ky, ix = ox * g.stride - g.pad + kx;
      if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
      s += x[((n * g.C + i) * g.H + iy) * g.W + ix] * w[((o * g.C + i) * g.k + ky) * g.k + kx];
    }
    y[((n * g.O + o) * OH + oy) * OW + ox] = s;
  }
  return y;
}

function convGrads(g: Geometry, x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>): { dx: Float64Array; dw: Float64Array } {
  const [OH, OW] = outSize(g);
  const dx = new Float64Array(g.N * g.C * g.H * g.W), dw = new Float64Array(g.O * g.C * g.k * g.k);
  for (let n = 0; n < g.N; n++) for (let o = 0; o < g.O; o++) for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const d = dy[((n * g.O + o) * OH + oy) * OW + ox];
    for (let i = 0; i < g.C; i++) for (let ky = 0; ky < g.k; ky++) for (let kx = 0; kx < g.k; kx++) {
      const iy = oy * g.stride - g.pad + ky, ix = ox * g.stride - g.pad + kx;
      if (iy < 0 || iy >= g.H || ix < 0 || ix >= g.W) continue;
      const xi = ((n * g.C + i) * g.H + iy) * g.W + ix, wi = ((o * g.C + i) * g.k + ky) * g.k + kx;
      dw[wi] += d * x[xi];
      dx[xi] += d * w[wi];
    }
  }
  return { dx, dw };
}

const bin = (v: number) => (v >= 0 ? 1 : -1);
const absGrad = (v: number) => (v > 0 ? 1 : v < 0 ? -1 : 0); // PyTorch's abs backward: 0 at 0

// alpha in float64 from the (float32 or float64) latent weight.
function alphaRef(w: ArrayLike<number>, O: number, scale: Scale): number[] {
  const n = w.length / O;
  if (scale === 'none') return Array(O).fill(1);
  if (scale === 'layer') {
    let s = 0;
    for (let j = 0; j < w.length; j++) s += Math.abs(w[j]);
    return Array(O).fill(s / w.length);
  }
  return Array.from({ length: O }, (_, o) => {
    let s = 0;
    for (let j = o * n; j < (o + 1) * n; j++) s += Math.abs(w[j]);
    return s / n;
  });
}

// The §3.1 formula, dL/dW_j = alpha_o g_j 1{|W_j| <= 1} + d|W_j| (1/n) sum_{i in o} g_i s_i, as
// its two terms (the second summed over the whole tensor for 'layer', absent for 'none').
function formula(w: ArrayLike<number>, g: ArrayLike<number>, O: number, scale: Scale, ste: Ste): { ste: Float64Array; alpha: Float64Array } {
  const alpha = alphaRef(w, O, scale), n = w.length / O;
  const steTerm = new Float64Array(w.length), alphaTerm = new Float64Array(w.length);
  const meanGs = (lo: number, hi: number) => {
    let s = 0;
    for (let i = lo; i < hi; i++) s += g[i] * bin(w[i]);
    return s / (hi - lo);
  };
  const layerMean = meanGs(0, w.length);
  for (let o = 0; o < O; o++) {
    const m = scale === 'layer' ? layerMean : meanGs(o * n, (o + 1) * n);
    for (let j = o * n; j < (o + 1) * n; j++) {
      steTerm[j] = ste === 'clip' && Math.abs(w[j]) > 1 ? 0 : alpha[o] * g[j];
      alphaTerm[j] = scale === 'none' ? 0 : absGrad(w[j]) * m;
    }
  }
  return { ste: steTerm, alpha: alphaTerm };
}

/** max |a - b| / max(1, |b|) over the elements */
function closeness(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < b.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.max(1, Math.abs(b[i])));
  return m;
}

const G: Geometry = { N: 2, C: 3, H: 7, W: 6, O: 4, k: 3, stride: 2, pad: 1 };

// Random latent weights that include exact zeros, negative zeros, |W| > 1 and |W| = 1 exactly.
function latent(rng: Prng, len: number): Float64Array {
  const w = Float64Array.from({ length: len }, () => (rng.next() - 0.5) * 1.6);
  w[0] = 0; w[5] = -0; w[7] = 1.75; w[11] = -2.5; w[20] = 1; w[31] = -1; w[40] = 0; w[77] = 3;
  return w;
}

function run(x: Float64Array, w: Float64Array, dy: Float64Array, g: Geometry, options: { scale?: Scale; ste?: Ste; alphaGrad?: boolean; impl?: 'fused' | 'aten' }) {
  return native.binaryConv(x, [g.N, g.C, g.H, g.W], w, [g.O, g.C, g.k, g.k], dy, { stride: [g.stride, g.stride], padding: [g.pad, g.pad], ...options });
}

test('T1 sign convention: bin(-1.5, -0.0, +0.0, 1e-30, -1e-30, 2) = (-1, +1, +1, +1, -1, +1), packed bits 0,1,1,1,0,1; NaN is an error', (t) => {
  const w = Float32Array.from([-1.5, -0.0, 0.0, 1e-30, -1e-30, 2.0]);
  t.true(Object.is(w[1], -0));
  const r = native.binaryConv(Float32Array.from([1, 1, 1, 1, 1, 1]), [1, 6, 1, 1], w, [1, 6, 1, 1], Float32Array.from([1]), {});
  const alpha = (r.alpha!.data as Float32Array)[0];
  t.is(alpha, Math.fround((1.5 + 0 + 0 + Math.fround(1e-30) + Math.fround(1e-30) + 2) / 6));
  t.deepEqual([...(r.wb.data as Float32Array)].map((v) => v / alpha), [-1, 1, 1, 1, -1, 1]);
  const bits = packSigns(w);
  t.deepEqual([...bits], [0b101110]);
  t.deepEqual([...Array(6).keys()].map((k) => (bits[0] >> k) & 1), [0, 1, 1, 1, 0, 1]);
  t.deepEqual([...unpackSigns(bits, 6)], [-1, 1, 1, 1, -1, 1]);
  // scale 'none': W_b is s itself
  const none = native.binaryConv(Float32Array.from([1, 1, 1, 1, 1, 1]), [1, 6, 1, 1], w, [1, 6, 1, 1], Float32Array.from([1]), { scale: 'none' });
  t.deepEqual([...(none.wb.data as Float32Array)], [-1, 1, 1, 1, -1, 1]);
  t.is(none.alpha, null);

  const bad = Float32Array.from(w);
  bad[3] = NaN;
  for (const scale of ['channel', 'layer', 'none'] as const)
    t.throws(() => native.binaryConv(Float32Array.from([1, 1, 1, 1, 1, 1]), [1, 6, 1, 1], bad, [1, 6, 1, 1], Float32Array.from([1]), { scale }),
      { message: /binary conv binaryConv: the latent weight holds NaN or infinity \(first at \[0, 3, 0, 0\] = nan\)/ });
  bad[3] = Infinity;
  t.throws(() => native.binaryConv(Float32Array.from([1, 1, 1, 1, 1, 1]), [1, 6, 1, 1], bad, [1, 6, 1, 1], Float32Array.from([1]), {}), { message: /first at \[0, 3, 0, 0\] = inf/ });
  bad[3] = NaN;
  t.throws(() => packSigns(bad, 'layer1.0.conv1'), { message: /layer1.0.conv1: latent weight 3 is NaN/ });
});

test('T1 the binariser never calls sign() on the weights (grep-level)', (t) => {
  const code = readFileSync(join(PROJECT_ROOT, 'native', 'nn', 'binary_conv.cc'), 'utf8')
    .replace(/\/\*[\s\S]*?\*\//g, '').replace(/\/\/.*$/gm, ''); // comments may say sign()
  t.notRegex(code, /\b(sign|sgn|signbit)_?\s*\(/);
  t.regex(code, /w\.ge\(0\)/); // bin(w) = where(w >= 0, 1, -1)
  const ts = readFileSync(join(PROJECT_ROOT, 'lib', 'bnn', 'pack.ts'), 'utf8').replace(/\/\/.*$/gm, '');
  t.notRegex(ts, /Math\.sign|signbit/);
});

test('T2 alpha: per output filter mean |W| over (C_in, kh, kw), float32 within 1e-6 of float64; layer and none modes', (t) => {
  const rng = new Prng(11);
  const wShape = [5, 3, 3, 3];
  const w = Float32Array.from({ length: numel(wShape) }, () => (rng.next() - 0.5) * 0.3);
  const x = Float32Array.from({ length: 3 * 25 }, () => rng.next());
  const dy = new Float32Array(5 * 9);
  for (const scale of ['channel', 'layer'] as const) {
    const r = native.binaryConv(x, [1, 3, 5, 5], w, wShape, dy, { scale });
    const alpha = r.alpha!.data as Float32Array;
    t.deepEqual(r.alpha!.shape, scale === 'channel' ? [5] : [1]);
    const ref = alphaRef(w, 5, scale);
    for (let o = 0; o < alpha.length; o++) t.true(Math.abs(alpha[o] - ref[o]) <= 1e-6 * ref[o], `${scale} alpha[${o}] ${alpha[o]} vs ${ref[o]}`);
    // every W_b entry is +alpha_o or -alpha_o (bitwise), with the sign of bin(W)
    const wb = r.wb.data as Float32Array, n = 27;
    for (let j = 0; j < wb.length; j++) if (wb[j] !== bin(w[j]) * alpha[scale === 'channel' ? Math.floor(j / n) : 0]) { t.fail(`wb[${j}]`); break; }
  }
});

test('T3 forward: y equals a float64 convolution with W_b = alpha * s; W_b takes two values per filter', (t) => {
  const rng = new Prng(3);
  const w = latent(rng, G.O * G.C * G.k * G.k);
  const x = Float64Array.from({ length: G.N * G.C * G.H * G.W }, () => rng.next() * 2 - 1);
  const [OH, OW] = outSize(G);
  const dy = new Float64Array(G.N * G.O * OH * OW);
  for (const scale of ['channel', 'layer', 'none'] as const) {
    const r = run(x, w, dy, G, { scale });
    const alpha = alphaRef(w, G.O, scale), n = G.C * G.k * G.k;
    const wb = Float64Array.from(w, (v, j) => alpha[Math.floor(j / n)] * bin(v));
    t.true(closeness(r.wb.data as Float64Array, wb) <= 1e-15, `${scale} W_b`);
    t.true(closeness(r.y.data as Float64Array, conv(G, x, r.wb.data as Float64Array)) <= 1e-12, `${scale} y`);
  }
});

test('T4 backward in float64 equals the closed form to 1e-12 (clip + alphaGrad, clip without, identity + alphaGrad, layer, none), fused and as ATen ops; dx is the conv input gradient with W_b', (t) => {
  const rng = new Prng(4);
  const w = latent(rng, G.O * G.C * G.k * G.k);
  const x = Float64Array.from({ length: G.N * G.C * G.H * G.W }, () => rng.next() * 2 - 1);
  const [OH, OW] = outSize(G);
  const dy = Float64Array.from({ length: G.N * G.O * OH * OW }, () => rng.next() * 2 - 1);
  const g = convGrads(G, x, Float64Array.from(w, () => 0), dy).dw; // dL/dW_b does not depend on W_b
  const cases: [Scale, Ste, boolean][] = [['channel', 'clip', true], ['channel', 'clip', false], ['channel', 'identity', true], ['channel', 'identity', false],
    ['layer', 'clip', true], ['layer', 'identity', false], ['none', 'clip', true], ['none', 'identity', true]];
  for (const impl of ['fused', 'aten'] as const) for (const [scale, ste, alphaGrad] of cases) {
    const r = run(x, w, dy, G, { scale, ste, alphaGrad, impl });
    const f = formula(w, g, G.O, scale, ste);
    const expected = Float64Array.from(f.ste, (v, j) => v + (alphaGrad ? f.alpha[j] : 0));
    const dw = r.dw.data as Float64Array;
    t.true(closeness(dw, expected) <= 1e-12, `${scale}/${ste}/alphaGrad ${alphaGrad}: dW off by ${closeness(dw, expected)}`);
    t.true(closeness(r.dx.data as Float64Array, convGrads(G, x, r.wb.data as Float64Array, dy).dx) <= 1e-12, `${scale}/${ste}: dx`);
    if (ste === 'clip') {
      // |W| > 1: only the alpha-path term sign(W_j) mean_o(g s) (nothing without alphaGrad)
      const alphaOnly = (j: number) => (alphaGrad && scale !== 'none' ? f.alpha[j] : 0);
      for (const j of [7, 11, 77]) t.true(Math.abs(dw[j] - alphaOnly(j)) <= 1e-12, `${scale} dW[${j}] (|W| > 1) = ${dw[j]}, alpha term ${alphaOnly(j)}`);
      t.true(Math.abs(dw[20] - alphaOnly(20)) > 1e-6, '|W| = 1 is inside the clip: the STE term is there too');
    }
    // W = 0 and -0: abs's gradient is 0 there, so only the STE term
    for (const j of [0, 5, 40]) t.true(Math.abs(dw[j] - f.ste[j]) <= 1e-12 * Math.max(1, Math.abs(f.ste[j])), `${scale} dW[${j}] at zero`);
  }
});

test('T5 finite differences: with signs frozen (|W| >= 1e-2, steps 1e-6) dL/dW through alpha equals the alpha-path term (channel and layer)', (t) => {
  const rng = new Prng(5);
  const len = G.O * G.C * G.k * G.k;
  const w = Float64Array.from({ length: len }, () => (rng.next() < 0.5 ? -1 : 1) * (0.01 + rng.next() * 0.8));
  const x = Float64Array.from({ length: G.N * G.C * G.H * G.W }, () => rng.next() * 2 - 1);
  const [OH, OW] = outSize(G);
  const r = Float64Array.from({ length: G.N * G.O * OH * OW }, () => rng.next() * 2 - 1);
  const loss = (wv: Float64Array, scale: Scale) => {
    const y = run(x, wv, r, G, { scale }).y.data as Float64Array;
    let s = 0;
    for (let i = 0; i < y.length; i++) s += r[i] * y[i];
    return s;
  };
  const eps = 1e-6;
  for (const scale of ['channel', 'layer'] as const) {
    const alphaPath = Float64Array.from(run(x, w, r, G, { scale, alphaGrad: true }).dw.data as Float64Array);
    const steOnly = run(x, w, r, G, { scale, alphaGrad: false }).dw.data as Float64Array;
    for (let j = 0; j < len; j++) alphaPath[j] -= steOnly[j];
    let worst = 0;
    for (let j = 0; j < len; j++) {
      const plus = Float64Array.from(w), minus = Float64Array.from(w);
      plus[j] += eps;
      minus[j] -= eps;
      const numeric = (loss(plus, scale) - loss(minus, scale)) / (2 * eps);
      worst = Math.max(worst, Math.abs(numeric - alphaPath[j]) / Math.max(1e-3, Math.abs(alphaPath[j])));
    }
    t.true(worst <= 1e-6, `${scale}: worst relative error ${worst}`);
  }
});

test('T7 pack/unpack round trip for shapes whose size is not a multiple of 8; padding bits zero; a wrong length or set padding bit is refused', (t) => {
  const rng = new Prng(7);
  for (const shape of [[3, 5, 7, 7], [1, 1, 1, 1], [2, 3, 1, 1], [8, 8, 3, 3], [64, 64, 3, 3], [5, 1, 1, 3]]) {
    const n = numel(shape);
    const w = Float32Array.from({ length: n }, () => (rng.next() < 0.1 ? (rng.next() < 0.5 ? -0 : 0) : rng.next() - 0.5));
    const bits = packSigns(w);
    t.is(bits.length, Math.ceil(n / 8), `${shape}`);
    if (n % 8) t.is(bits[bits.length - 1] >> (n % 8), 0, `${shape}: padding bits`);
    t.deepEqual([...unpackSigns(bits, n)], [...w].map(bin), `${shape}`);
  }
  t.is(packSigns(new Float32Array(735)).length, 92); // 3x5x7x7
  t.deepEqual([...unpackSigns(new Uint8Array(3), 17)], Array(17).fill(-1));
  t.throws(() => unpackSigns(new Uint8Array(2), 17), { message: /2 bytes for 17 signs \(needs 3\)/ });
  t.throws(() => unpackSigns(Uint8Array.from([0, 0, 0b10]), 17), { message: /padding bits after sign 16 are not zero/ });
});

test('the fused float32 backward agrees with the ATen-op one (1e-6 relative; the filter sums round differently) and the forward is identical', (t) => {
  const rng = new Prng(8);
  const g: Geometry = { N: 2, C: 16, H: 9, W: 9, O: 24, k: 3, stride: 1, pad: 1 };
  const w = Float32Array.from(latent(rng, g.O * g.C * 9));
  const x = Float32Array.from({ length: g.N * g.C * 81 }, () => rng.next() * 2 - 1);
  const dy = Float32Array.from({ length: g.N * g.O * 81 }, () => rng.next() * 2 - 1);
  for (const scale of ['channel', 'layer', 'none'] as const) for (const ste of ['clip', 'identity'] as const) {
    const opts = { stride: [1, 1] as [number, number], padding: [1, 1] as [number, number], scale, ste };
    const a = native.binaryConv(x, [g.N, g.C, 9, 9], w, [g.O, g.C, 3, 3], dy, { ...opts, impl: 'fused' });
    const b = native.binaryConv(x, [g.N, g.C, 9, 9], w, [g.O, g.C, 3, 3], dy, { ...opts, impl: 'aten' });
    t.true(Buffer.from((a.y.data as Float32Array).buffer).equals(Buffer.from((b.y.data as Float32Array).buffer)), `${scale}/${ste} y`);
    t.true(Buffer.from((a.dx.data as Float32Array).buffer).equals(Buffer.from((b.dx.data as Float32Array).buffer)), `${scale}/${ste} dx`);
    const da = a.dw.data as Float32Array, db = b.dw.data as Float32Array;
    let worst = 0, scaleOf = 0;
    for (let j = 0; j < da.length; j++) { worst = Math.max(worst, Math.abs(da[j] - db[j])); scaleOf = Math.max(scaleOf, Math.abs(db[j])); }
    t.true(worst <= 1e-6 * scaleOf, `${scale}/${ste} dW: ${worst} of ${scaleOf}`);
  }
});

test('binaryConv refuses bad arguments with messages naming them', (t) => {
  const x = new Float32Array(9), w = new Float32Array(9), dy = new Float32Array(1);
  t.throws(() => native.binaryConv(x, [1, 1, 3, 3], w, [1, 1, 3, 3], dy, { scale: 'filter' as never }), { message: /scale must be 'channel', 'layer' or 'none', got 'filter'/ });
  t.throws(() => native.binaryConv(x, [1, 1, 3, 3], w, [1, 1, 3, 3], dy, { ste: 'tanh' as never }), { message: /ste must be 'clip' or 'identity'/ });
  t.throws(() => native.binaryConv(x, [1, 1, 3, 3], new Float64Array(9) as never, [1, 1, 3, 3], dy, {}), { message: /of one type/ });
  t.throws(() => native.binaryConv(x, [1, 1, 3, 3], w, [1, 2, 3, 3], dy, {}), { message: /x has 1 channels, w expects 2/ });
  t.throws(() => native.binaryConv(x, [1, 1, 3, 3], w, [1, 1, 3, 3], dy, { padding: [-1, 0] }), { message: /options.padding/ });
  t.throws(() => native.binaryConv(x, [1, 1, 3, 3], w, [1, 1, 3, 3], dy, { impl: 'cuda' as never }), { message: /options.impl must be 'fused' or 'aten'/ });
});
