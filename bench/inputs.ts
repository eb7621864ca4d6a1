// Deterministic bench inputs, identical to workloads.py's _hash_floats (plain integer hashing,
// so both languages build the same tensors without sharing an RNG).
/** Same integers as workloads.py's _hash_floats. */
export function hashFloats(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  const add = (seed * 40503) >>> 0;
  for (let i = 0; i < n; i++) {
    let x = (Math.imul(i, 2654435761 | 0) >>> 0) + add;
    x = x >>> 0;
    x = (x ^ (x >>> 13)) >>> 0;
    x = Math.imul(x, 1274126177) >>> 0;
    out[i] = Math.fround(Math.fround((x % 20000) / 10000) - 1);
  }
  return out;
}
