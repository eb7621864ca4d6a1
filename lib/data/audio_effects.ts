// Per-session channel effects for the synthetic demo speakers, all driven by the seeded PRNG so a
// seed gives bit-identical audio: band-limiting biquads, a Schroeder reverb, additive noise at a
// given SNR, and a level. Without these, synthetic voices are trivially separable.
import type { Prng } from '../util/prng.ts';

export interface Channel {
  highpassHz: number;
  lowpassHz: number;
  reverbMix: number;
  reverbSeconds: number;
  snrDb: number;
  noiseColor: number; // 0 white .. 1 brown-ish
  levelDbfs: number;
}

export function randomChannel(rng: Prng): Channel {
  return {
    highpassHz: rng.uniform(60, 400),
    lowpassHz: rng.uniform(2500, 7500),
    reverbMix: rng.uniform(0.05, 0.45),
    reverbSeconds: rng.uniform(0.15, 0.6),
    snrDb: rng.uniform(3, 20),
    noiseColor: rng.uniform(0, 1),
    levelDbfs: rng.uniform(-40, -12),
  };
}

function biquad(x: Float64Array, kind: 'low' | 'high', hz: number, rate: number): void {
  const w = (2 * Math.PI * hz) / rate;
  const q = Math.SQRT1_2;
  const alpha = Math.sin(w) / (2 * q);
  const cos = Math.cos(w);
  const b0 = kind === 'low' ? (1 - cos) / 2 : (1 + cos) / 2;
  const b1 = kind === 'low' ? 1 - cos : -(1 + cos);
  const a0 = 1 + alpha, a1 = -2 * cos, a2 = 1 - alpha;
  let x1 = 0, x2 = 0, y1 = 0, y2 = 0;
  for (let i = 0; i < x.length; i++) {
    const y = (b0 * x[i] + b1 * x1 + b0 * x2 - a1 * y1 - a2 * y2) / a0;
    x2 = x1; x1 = x[i]; y2 = y1; y1 = y;
    x[i] = y;
  }
}

function reverb(x: Float64Array, seconds: number, mix: number, rate: number): void {
  const combs = [1557, 1617, 1491, 1422].map((d) => Math.round((d * rate) / 44100));
  const wet = new Float64Array(x.length);
  for (const d of combs) {
    const g = Math.pow(10, (-3 * d) / (seconds * rate));
    const buf = new Float64Array(d);
    for (let i = 0, p = 0; i < x.length; i++, p = (p + 1) % d) {
      const out = buf[p];
      buf[p] = x[i] + g * out;
      wet[i] += out / combs.length;
    }
  }
  for (let i = 0; i < x.length; i++) x[i] = (1 - mix) * x[i] + mix * wet[i];
}

function rms(x: Float64Array): number {
  let s = 0;
  for (const v of x) s += v * v;
  return Math.sqrt(s / Math.max(1, x.length));
}

/** Applies `ch` to 16 kHz `samples` (in [-1, 1]) and returns 16-bit PCM. */
export function applyChannel(samples: Float64Array, ch: Channel, rng: Prng, rate = 16000): Int16Array {
  const x = Float64Array.from(samples);
  biquad(x, 'high', ch.highpassHz, rate);
  biquad(x, 'low', ch.lowpassHz, rate);
  reverb(x, ch.reverbSeconds, ch.reverbMix, rate);
  const signal = rms(x);
  const noise = new Float64Array(x.length);
  let brown = 0;
  for (let i = 0; i < x.length; i++) {
    const white = rng.normal();
    brown = 0.98 * brown + 0.2 * white;
    noise[i] = (1 - ch.noiseColor) * white + ch.noiseColor * brown;
  }
  const noiseScale = signal > 0 ? signal / (rms(noise) * Math.pow(10, ch.snrDb / 20)) : 0;
  for (let i = 0; i < x.length; i++) x[i] += noiseScale * noise[i];
  const level = Math.pow(10, ch.levelDbfs / 20) / Math.max(rms(x), 1e-9);
  const out = new Int16Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = Math.max(-32768, Math.min(32767, Math.round(x[i] * level * 32768)));
  return out;
}
