// The .bwn sign stream (bnn.md §3.4): a binarised conv's s = bin(W) in PyTorch contiguous order
// (o, i, y, x), bit k of byte floor(k / 8) at position k mod 8 (LSB first), bit 1 <=> s = +1 <=>
// W >= 0 (so +0.0 and -0.0 are +1, never a sign bit); ceil(numel / 8) bytes, the padding bits of
// the last byte zero. A NaN latent weight has no sign: packing it is an error.
import { UserError } from '../errors.ts';

/** Packed signs of `w`; `what` names the layer in the error for a NaN. */
export function packSigns(w: ArrayLike<number>, what = 'weight'): Uint8Array {
  const out = new Uint8Array(Math.ceil(w.length / 8));
  for (let k = 0; k < w.length; k++) {
    const v = w[k];
    if (v >= 0) out[k >> 3] |= 1 << (k & 7);
    else if (!(v < 0)) throw new UserError(`${what}: latent weight ${k} is NaN; it cannot be binarised`);
  }
  return out;
}

/** The n signs (+1 / -1) of a packed stream; refuses a wrong length or non-zero padding bits. */
export function unpackSigns(bits: Uint8Array, n: number, what = 'sign stream'): Int8Array {
  if (bits.length !== Math.ceil(n / 8)) throw new UserError(`${what}: ${bits.length} bytes for ${n} signs (needs ${Math.ceil(n / 8)})`);
  if (n % 8 !== 0 && bits[bits.length - 1] >> (n % 8) !== 0) throw new UserError(`${what}: padding bits after sign ${n - 1} are not zero`);
  const s = new Int8Array(n);
  for (let k = 0; k < n; k++) s[k] = (bits[k >> 3] >> (k & 7)) & 1 ? 1 : -1;
  return s;
}
