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

/** 32-bit FNV-1a of a key (tdnn_reference.py's fnv1a): a supernet tensor's values are seeded by its name. */
export function fnv1a(text: string): number {
  let h = 2166136261;
  for (const b of new TextEncoder().encode(text)) h = Math.imul(h ^ b, 16777619) >>> 0;
  return h;
}

/**
 * The bench's deterministic supernet tensor for `key` (tdnn_reference.py's bench_value): kernel
 * transforms and BN statistics away from their initial values, so every sliced path is exercised.
 * num_batches_tracked (int64) stays 0 and is not returned.
 */
export function tdnnBenchValue(key: string, shape: number[]): Float32Array | undefined {
  const n = shape.reduce((a, b) => a * b, 1);
  const leaf = key.slice(key.lastIndexOf('.') + 1);
  if (leaf === 'num_batches_tracked') return undefined;
  const h = hashFloats(n, fnv1a(key) % 1000003);
  const f = Math.fround;
  const isBn = key.includes('.bn.') || key.startsWith('bnpool.') || key.startsWith('bnembed.');
  if (leaf === 'k53' || leaf === 'k31' || leaf === 'k75') return h.map((v, i) => f((i % (shape[0] + 1) === 0 ? 1 : 0) + f(f(0.05) * v)));
  if (leaf === 'running_mean') return h.map((v) => f(f(0.1) * v));
  if (leaf === 'running_var') return h.map((v) => f(1 + f(0.25 * f(v + 1))));
  if (isBn && leaf === 'weight') return h.map((v) => f(1 + f(f(0.1) * v)));
  if (leaf === 'bias') return h.map((v) => f(f(0.1) * v));
  const scale = f(1 / Math.sqrt(shape.slice(1).reduce((a, b) => a * b, 1)));
  return h.map((v) => f(v * scale));
}
