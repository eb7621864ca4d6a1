// The reference preprocessing on the stft fixtures: WAV loading, -30 dBFS gain, |STFT|, mean/std.
import test from 'ava';

import { BINS, MIN_FRAMES, MeanStdAccumulator, spectrogram } from '../lib/data/features.ts';
import { decodeWav } from '../lib/data/wav.ts';
import { fixture, fixtureWav, manifest } from './helpers/fixtures.ts';

const S = manifest('stft').scalars;
const names = Object.keys(S.per_file.value);

for (const name of names) {
  test(`${name}: wav decoding, gain and spectrogram match the reference`, (t) => {
    const p = S.per_file.value[name];
    const wav = decodeWav(fixtureWav(name), name);
    t.deepEqual(wav.samples, fixture('stft', `${name}.waveform_loaded.npy`).data as Float32Array);
    const spec = spectrogram(wav.samples);
    t.is(spec.rms, p.rms_float32);
    t.is(spec.gain, p.gain_float32);
    t.is(spec.gainApplied, p.gain_applied);
    t.is(spec.frames, p.n_frames);
    t.is(spec.frames >= MIN_FRAMES, p.kept_by_300_frame_filter);
    // The normalised waveform is loaded * float32(gain) (or unchanged).
    const normalized = fixture('stft', `${name}.waveform_normalized.npy`).data as Float32Array;
    let worstWave = 0;
    wav.samples.forEach((v, i) => { worstWave = Math.max(worstWave, Math.abs((spec.gainApplied ? Math.fround(v * spec.gain) : v) - normalized[i])); });
    t.is(worstWave, 0);
    const ref = fixture('stft', `${name}.features.npy`).data as Float32Array;
    let max = 0, diff = 0, relWorst = 0;
    for (let i = 0; i < ref.length; i++) {
      max = Math.max(max, ref[i]);
      const d = Math.abs(spec.data[i] - ref[i]);
      diff = Math.max(diff, d);
    }
    for (let i = 0; i < ref.length; i++) {
      const d = Math.abs(spec.data[i] - ref[i]);
      if (d > 1e-6 * max) relWorst = Math.max(relWorst, d / Math.abs(ref[i]));
    }
    t.log(`max |ours - ref| / max|ref| = ${(diff / max).toExponential(2)} (tolerance 1e-6)`);
    t.true(diff / max <= 1e-6);
    t.true(relWorst <= 1e-5);
  });
}

test('mean/std: float32 sequential accumulation in the reference order is bit-exact; from our features within 1e-6', (t) => {
  const order = S.mean_std_file_order_names.value as string[];
  const fromRef = new MeanStdAccumulator();
  const fromOurs = new MeanStdAccumulator();
  for (const name of order) {
    const f = fixture('stft', `${name}.features.npy`);
    fromRef.add(f.data as Float32Array, f.shape[0]);
    const ours = spectrogram(decodeWav(fixtureWav(name), name).samples);
    fromOurs.add(ours.data, ours.frames);
  }
  const a = fromRef.result();
  t.is(a.frames, S.mean_std_frame_count.value);
  t.deepEqual(a.mean, fixture('stft', 'mean.npy').data as Float32Array);
  t.deepEqual(a.std, fixture('stft', 'std.npy').data as Float32Array);
  const b = fromOurs.result();
  const mean = fixture('stft', 'mean.npy').data as Float32Array;
  const std = fixture('stft', 'std.npy').data as Float32Array;
  for (let k = 0; k < BINS; k++) {
    t.true(Math.abs(b.mean[k] - mean[k]) <= 1e-6 * Math.abs(mean[k]));
    t.true(Math.abs(b.std[k] - std[k]) <= 1e-6 * Math.abs(std[k]));
  }
});
