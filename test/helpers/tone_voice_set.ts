// A tiny VoxCeleb1-layout set of synthetic "voices" made in milliseconds (tinyDemoSet's speech
// synthesis takes about a minute): each speaker a harmonic tone with its own pitch, vibrato and
// spectral tilt plus noise, 16 kHz int16 wavs under dev/wav (training speakers) and test/wav (trial
// speakers), lengths 2.5-4.5 s so that some files are at most 48000 samples (the evaluation's
// wrap-padding path), and a veri_test.txt with as many target as non-target trials.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { encodeWav16 } from '../../lib/data/wav.ts';
import { Prng } from '../../lib/util/prng.ts';

export interface ToneSet { dir: string; trials: number; shortFiles: number }

export function toneVoiceSet(dir: string, options: { devSpeakers?: number; testSpeakers?: number; utterances?: number; seed?: number } = {}): ToneSet {
  const { devSpeakers = 4, testSpeakers = 4, utterances = 6, seed = 1 } = options;
  const rng = new Prng(seed);
  let shortFiles = 0;
  const test: string[][] = [];
  for (let s = 0; s < devSpeakers + testSpeakers; s++) {
    const part = s < devSpeakers ? 'dev' : 'test';
    const spk = `id1${String(s).padStart(4, '0')}`;
    const f0 = 90 + 25 * s + 10 * rng.next(), tilt = 0.5 + rng.next(), vib = 2 + 4 * rng.next();
    const paths: string[] = [];
    for (let u = 0; u < utterances; u++) {
      const video = `v${u % 2}`;
      const n = Math.floor(16000 * (2.5 + 2 * rng.next()));
      if (n <= 48000) shortFiles++;
      const x = new Int16Array(n);
      for (let i = 0; i < n; i++) {
        const t = i / 16000;
        const f = f0 * (1 + 0.03 * Math.sin(2 * Math.PI * vib * t));
        let v = 0;
        for (let h = 1; h <= 12; h++) v += Math.sin(2 * Math.PI * h * f * t + h * u) / h ** tilt;
        v = v * (0.6 + 0.4 * Math.sin(2 * Math.PI * 1.5 * t + u)) + 0.05 * (2 * rng.next() - 1);
        x[i] = Math.max(-32767, Math.min(32767, Math.round(6000 * v)));
      }
      const rel = `${spk}/${video}/${String(u + 1).padStart(5, '0')}.wav`;
      mkdirSync(join(dir, part, 'wav', spk, video), { recursive: true });
      writeFileSync(join(dir, part, 'wav', rel), encodeWav16(x));
      paths.push(rel);
    }
    if (part === 'test') test.push(paths);
  }
  const lines: string[] = [];
  test.forEach((paths, s) => {
    for (let u = 0; u + 1 < paths.length; u += 2) {
      lines.push(`1 ${paths[u]} ${paths[u + 1]}`);
      lines.push(`0 ${paths[u]} ${test[(s + 1) % test.length][u + 1]}`);
    }
  });
  writeFileSync(join(dir, 'veri_test.txt'), lines.join('\n') + '\n');
  return { dir, trials: lines.length, shortFiles };
}
