// EfficientTDNN's front end (sugar's LogMelFbanks(80)) against the reference's golden numbers in
// test/fixtures/efficienttdnn/fbank (every wave its manifest lists), stage by stage, and the CLI.
import test from 'ava';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { LOGMEL_MIN_SAMPLES, logmel } from '../lib/data/features.ts';
import { encodeWav16 } from '../lib/data/wav.ts';
import { readNpy } from '../lib/io/npy.ts';
import { loadNative } from '../lib/native.ts';
import { cli } from './helpers/cli.ts';
import { maxAbsDiff, relErr } from './helpers/compare.ts';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'efficienttdnn', 'fbank');
const MANIFEST = JSON.parse(readFileSync(join(DIR, 'manifest.json'), 'utf8')) as { files: Record<string, { shape: number[] }> };
const SAMPLES = '.samples_int16.npy';
const WAVES = Object.keys(MANIFEST.files).filter((f) => f.endsWith(SAMPLES)).map((f) => f.slice(0, -SAMPLES.length));

// The fixture README's tolerances: |port - ref| <= tol * max|ref| for pre-emphasis and mel power,
// absolute for the logs.
const TOL = { preemphasis: 1e-5, melPower: 1e-5, logMel: 1e-3, features: 1e-3 };

const f32 = (name: string) => readNpy(join(DIR, name)).data as Float32Array;
/** The int16 samples (stored as int64) as the float32 values the reference feeds. */
const int16Samples = (wave: string) => Float32Array.from(readNpy(join(DIR, wave + SAMPLES)).data as BigInt64Array, Number);

test('the fixture set lists waves', (t) => {
  t.true(WAVES.length >= 1);
});

test('window and mel filterbank equal torch.hamming_window(400) and torchaudio melscale_fbanks', (t) => {
  const r = loadNative().logmel(new Float32Array(1000), { intermediates: true });
  const window = f32('window_hamming400.npy');
  const fb = readNpy(join(DIR, 'mel_fb_257x80.npy'));
  t.deepEqual(fb.shape, [257, r.melBins]);
  const wErr = maxAbsDiff(r.window, window), fbErr = relErr(r.melFilterbank, fb.data as Float32Array);
  t.log(`window max abs diff ${wErr.toExponential(2)}, filterbank ${fbErr.toExponential(2)} of max`);
  t.true(wErr <= 1e-7);
  t.true(fbErr <= 1e-6);
});

for (const wave of WAVES) {
  test(`${wave}: every stage matches LogMelFbanks(80)`, (t) => {
    const x = int16Samples(wave);
    const shape = MANIFEST.files[`${wave}.features.npy`].shape;
    const r = loadNative().logmel(x, { intermediates: true });
    t.deepEqual([r.melBins, r.frames], shape);
    t.is(r.frames, 1 + Math.floor(x.length / 160));
    t.is(r.data.length, r.melBins * r.frames);
    const errs = {
      preemphasis: relErr(r.preemphasis, f32(`${wave}.preemphasis.npy`)),
      melPower: relErr(r.melPower, f32(`${wave}.mel_power.npy`)),
      logMel: maxAbsDiff(r.logMel, f32(`${wave}.log_mel.npy`)),
      features: maxAbsDiff(r.data, f32(`${wave}.features.npy`)),
    };
    t.log(`preemphasis ${errs.preemphasis.toExponential(2)} / mel power ${errs.melPower.toExponential(2)} (of max), ` +
      `log-mel ${errs.logMel.toExponential(2)} / features ${errs.features.toExponential(2)} (abs)`);
    for (const k of Object.keys(TOL) as (keyof typeof TOL)[]) t.true(errs[k] <= TOL[k], `${k}: ${errs[k]} > ${TOL[k]}`);
    // Decoder samples (x / 32768, exact for int16) through the wrapper give the same bits.
    t.deepEqual(logmel(x.map((v) => v / 32768)).data, r.data);
  });
}

test('the features are the per-bin instance norm of the log-mel over time (biased variance, eps 1e-5)', (t) => {
  // The instance norm's definition, independent of the fixtures, on a length that is no multiple of 160.
  const x = Float32Array.from({ length: 12345 }, (_, i) => 3000 * Math.sin(i * 0.05) + 500 * Math.sin(i * 1.3 + 0.2));
  const r = loadNative().logmel(x, { intermediates: true });
  t.is(r.frames, 1 + Math.floor(12345 / 160));
  let worst = 0;
  for (let m = 0; m < r.melBins; m++) {
    const row = r.logMel.subarray(m * r.frames, (m + 1) * r.frames);
    const mean = row.reduce((a, v) => a + v, 0) / r.frames;
    const variance = row.reduce((a, v) => a + (v - mean) ** 2, 0) / r.frames;
    for (let i = 0; i < r.frames; i++) worst = Math.max(worst, Math.abs((row[i] - mean) / Math.sqrt(variance + 1e-5) - r.data[m * r.frames + i]));
  }
  t.true(worst <= 1e-4, `${worst}`);
});

test('logmel options and bad input', (t) => {
  const native = loadNative();
  const x = new Float32Array(LOGMEL_MIN_SAMPLES).map((_, i) => 1000 * Math.sin(i / 3));
  t.is(native.logmel(x).frames, 2);
  t.is(native.logmel(x, { melBins: 40 }).data.length, 40 * 2);
  t.throws(() => native.logmel(x.subarray(0, LOGMEL_MIN_SAMPLES - 1)), { message: /at least 257/ });
  t.throws(() => native.logmel(x, { melBins: 0 }), { message: /melBins/ });
  t.throws(() => native.logmel(x, { scale: 0 }), { message: /scale/ });
  t.throws(() => native.logmel(x, { scale: Number.NaN }), { message: /scale/ });
  const bad = x.slice();
  bad[7] = Number.POSITIVE_INFINITY;
  t.throws(() => native.logmel(bad), { message: /NaN or infinite/ });
  t.throws(() => native.logmel(new Float64Array(300) as unknown as Float32Array), { message: /Float32Array/ });
});

test('autospeech features --frontend logmel writes (80, T), or (T, 80) with --layout time-major; bad input exits 2', (t) => {
  const wave = WAVES[WAVES.length - 1];
  const dir = mkdtempSync(join(tmpdir(), 'as-logmel-'));
  const wav = join(dir, `${wave}.wav`);
  writeFileSync(wav, encodeWav16(Int16Array.from(int16Samples(wave))));
  const ref = readNpy(join(DIR, `${wave}.features.npy`));
  const [bins, frames] = ref.shape;
  const out = join(dir, 'x.npy');
  const r = cli(['features', wav, '--out', out, '--frontend', 'logmel']);
  t.is(r.status, 0, r.stderr);
  const ours = readNpy(out);
  t.deepEqual(ours.shape, ref.shape);
  t.is(ours.dtype, 'float32');
  const err = maxAbsDiff(ours.data as Float32Array, ref.data as Float32Array);
  t.log(`CLI features vs fixture: max abs diff ${err.toExponential(2)}`);
  t.true(err <= TOL.features);

  const outT = join(dir, 'xt.npy');
  t.is(cli(['features', wav, '--out', outT, '--frontend', 'logmel', '--layout', 'time-major']).status, 0);
  const tm = readNpy(outT);
  t.deepEqual(tm.shape, [frames, bins]);
  const cf = ours.data as Float32Array, tmd = tm.data as Float32Array;
  let same = true;
  for (let m = 0; m < bins && same; m++) for (let i = 0; i < frames; i++) if (tmd[i * bins + m] !== cf[m * frames + i]) { same = false; break; }
  t.true(same, 'time-major is the transpose');

  const junk = join(dir, 'junk.wav');
  writeFileSync(junk, Buffer.from('this is not a wav file'));
  const bad = cli(['features', junk, '--out', out, '--frontend', 'logmel']);
  t.is(bad.status, 2);
  t.true(bad.stderr.includes(junk), bad.stderr);
  const short = join(dir, 'short.wav');
  writeFileSync(short, encodeWav16(new Int16Array(100)));
  const s = cli(['features', short, '--out', out, '--frontend', 'logmel']);
  t.is(s.status, 2);
  t.regex(s.stderr, /short\.wav: 100 samples.*at least 257/);
  const layout = cli(['features', wav, '--out', out, '--frontend', 'logmel', '--layout', 'time-major2']);
  t.is(layout.status, 2);
  t.regex(layout.stderr, /--layout 'time-major2' is not a layout/);
});
