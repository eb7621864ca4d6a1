// CPython's `random.Random(seed)` (3.11), bit for bit: MT19937 seeded by init_by_array with the
// 32-bit little-endian words of |seed| (what CPython does for int seeds, so std::mt19937(seed),
// which uses init_genrand, gives other numbers), getrandbits, _randbelow (getrandbits-based
// rejection), random() and choice(). sugar's TDNNPath draws its paths with one of these.
import { UserError } from '../errors.ts';

const N = 624;
const M = 397;
const MATRIX_A = 0x9908b0df;
const UPPER = 0x80000000;
const LOWER = 0x7fffffff;

/** The generator state: the 624 MT words and the position in them (Python's getstate() tuple). */
export interface MtState {
  key: number[];
  pos: number;
}

export class PythonRandom {
  private readonly mt = new Uint32Array(N);
  private mti = N + 1;

  constructor(seed: number | bigint) {
    this.seed(seed);
  }

  /** random.seed(n) for an int n. */
  seed(seed: number | bigint): void {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) throw new UserError(`seed ${seed}: expected an integer`);
    let n = BigInt(seed);
    if (n < 0n) n = -n;
    const key: number[] = [];
    while (n > 0n) {
      key.push(Number(n & 0xffffffffn));
      n >>= 32n;
    }
    if (key.length === 0) key.push(0);
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < N; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.mti = N;
  }

  private initByArray(key: number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(N, key.length); k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1664525)) + key[j] + j) >>> 0;
      i++;
      j++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = N - 1; k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= N) {
        mt[0] = mt[N - 1];
        i = 1;
      }
    }
    mt[0] = 0x80000000; // MSB is 1, assuring a non-zero initial array
  }

  /** One tempered 32-bit output (genrand_uint32). */
  genrandUint32(): number {
    const mt = this.mt;
    if (this.mti >= N) {
      let kk = 0;
      for (; kk < N - M; kk++) {
        const y = (mt[kk] & UPPER) | (mt[kk + 1] & LOWER);
        mt[kk] = mt[kk + M] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      for (; kk < N - 1; kk++) {
        const y = (mt[kk] & UPPER) | (mt[kk + 1] & LOWER);
        mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      }
      const y = (mt[N - 1] & UPPER) | (mt[0] & LOWER);
      mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ (y & 1 ? MATRIX_A : 0);
      this.mti = 0;
    }
    let y = mt[this.mti++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  }

  /** getrandbits(k) for 0 <= k <= 32 as a number (one MT output, its top k bits; k = 0 draws nothing). */
  getrandbits(k: number): number {
    if (!Number.isInteger(k) || k < 0 || k > 32) throw new RangeError(`getrandbits(${k}): use getrandbitsBig for k > 32`);
    if (k === 0) return 0;
    return this.genrandUint32() >>> (32 - k);
  }

  /** getrandbits(k) for any k >= 0: 32-bit words from the least significant up, the last one shifted. */
  getrandbitsBig(k: number): bigint {
    if (!Number.isInteger(k) || k < 0) throw new RangeError(`getrandbits(${k}): k must be a non-negative integer`);
    let r = 0n;
    for (let shift = 0n, left = k; left > 0; left -= 32, shift += 32n) {
      let w = this.genrandUint32();
      if (left < 32) w >>>= 32 - left;
      r |= BigInt(w) << shift;
    }
    return r;
  }

  /** _randbelow(n) = _randbelow_with_getrandbits: k = n.bit_length(), redraw getrandbits(k) until < n. */
  randbelow(n: number): number {
    if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`randbelow(${n}): n must be a positive integer`);
    const k = n.toString(2).length;
    if (k <= 32) {
      let r = this.getrandbits(k);
      while (r >= n) r = this.getrandbits(k);
      return r;
    }
    const big = BigInt(n);
    let r = this.getrandbitsBig(k);
    while (r >= big) r = this.getrandbitsBig(k);
    return Number(r);
  }

  /** random(): 53 bits from two outputs, (a·2^26 + b) / 2^53. */
  random(): number {
    const a = this.genrandUint32() >>> 5;
    const b = this.genrandUint32() >>> 6;
    return (a * 67108864 + b) * (1 / 9007199254740992);
  }

  /** choice(seq) = seq[_randbelow(len(seq))]; an empty sequence is an error, as in Python. */
  choice<T>(seq: readonly T[]): T {
    if (seq.length === 0) throw new RangeError('Cannot choose from an empty sequence');
    return seq[this.randbelow(seq.length)];
  }

  getState(): MtState {
    return { key: Array.from(this.mt), pos: this.mti };
  }

  setState(state: MtState): void {
    const ok = state && Array.isArray(state.key) && state.key.length === N && state.key.every((w) => Number.isInteger(w) && w >= 0 && w <= 0xffffffff) &&
      Number.isInteger(state.pos) && state.pos >= 0 && state.pos <= N;
    if (!ok) throw new UserError(`MT19937 state: expected {key: ${N} uint32 words, pos: 0..${N}}`);
    this.mt.set(state.key);
    this.mti = state.pos;
  }
}
