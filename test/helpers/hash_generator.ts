// The integer-hash weight generator of the resnet fixtures (manifest scalars.generator): every
// value is exactly representable in float32, so generated tensors are bit-exact.
export function generateTensor(numel: number, seed: number, exp2: number): Float32Array {
  const out = new Float32Array(numel);
  const seedMix = Math.imul(seed, 0x85ebca77) >>> 0;
  const scale = 2 ** (exp2 - 23);
  for (let i = 0; i < numel; i++) {
    let x = (Math.imul(i, 0x9e3779b1) + seedMix) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    x = Math.imul(x, 0x7feb352d) >>> 0;
    x = (x ^ (x >>> 15)) >>> 0;
    x = Math.imul(x, 0x846ca68b) >>> 0;
    x = (x ^ (x >>> 16)) >>> 0;
    const u = x >>> 8;
    out[i] = (u - 8388608) * scale;
  }
  return out;
}
