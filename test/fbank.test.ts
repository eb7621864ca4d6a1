// The Kaldi-style fbank front-end against torchaudio.compliance.kaldi.fbank (test/fixtures/fbank,
// written by scripts/make_fbank_fixtures.py with Debian's python3-torchaudio 0.13.1), and the CLI.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { fbank } from '../lib/data/features.ts';
import { decodeWav } from '../lib/data/wav.ts';
import { readNpy } from '../lib/io/npy.ts';
import { FIXTURES, fixtureWav, fixtureWavFile } from './helpers/fixtures.ts';

const FBANK = join(FIXTURES, '..', 'fbank');
const NAMES = ['a_4p10s', 'b_2p99s_quiet', 'c_2p37s_clipped', 'd_1p00s_quiet'];

for (const name of NAMES) {
  test(`${name}: fbank matches torchaudio's Kaldi fbank`, (t) => {
    const wav = decodeWav(fixtureWav(name), name);
    const ref = readNpy(join(FBANK, `${name}.fbank.npy`));
    const ours = fbank(wav.samples);
    t.deepEqual([ours.frames, ours.melBins], ref.shape);
    // torchaudio works in float32 (FFT, mel weights, matmul); we work in double. Compare log
    // energies absolutely (they are natural logs of energies up to ~1e12).
    const r = ref.data as Float32Array;
    let worst = 0;
    for (let i = 0; i < r.length; i++) worst = Math.max(worst, Math.abs(ours.data[i] - r[i]));
    t.log(`max |ours - torchaudio| = ${worst.toExponential(2)} (log-energy units, tolerance 2e-3)`);
    t.true(worst <= 2e-3);
  });
}

test('fbank options and bad input', (t) => {
  const wav = new Float32Array(16000).map((_, i) => Math.sin(i / 7) * 0.3);
  t.is(fbank(wav).frames, 98); // 1 + (16000 - 400) / 160
  t.is(fbank(wav, { melBins: 40 }).melBins, 40);
  t.throws(() => fbank(new Float32Array(399)), { message: /at least 400/ });
  t.throws(() => fbank(wav, { melBins: 0 }), { message: /melBins/ });
  t.throws(() => fbank(wav, { lowFreq: 9000 }), { message: /low frequency/ });
  t.throws(() => fbank(wav, { scale: Number.NaN }), { message: /scale/ });
  const bad = wav.slice();
  bad[5] = Number.NaN;
  t.throws(() => fbank(bad), { message: /NaN/ });
});

test('autospeech features --frontend fbank writes (T, 80) and a typo gets a suggestion', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'as-fbank-'));
  const out = join(dir, 'x.npy');
  const wav = fixtureWavFile('a_4p10s');
  const r = spawnSync(process.execPath, ['bin/autospeech', 'features', wav, '--out', out, '--frontend', 'fbank', '--json'], { encoding: 'utf8' });
  t.is(r.status, 0, r.stderr);
  t.deepEqual(readNpy(out).shape, [408, 80]);
  t.deepEqual(readNpy(out).data, fbank(decodeWav(readFileSync(wav), wav).samples).data);
  const bad = spawnSync(process.execPath, ['bin/autospeech', 'features', wav, '--out', out, '--frontend', 'fbnak'], { encoding: 'utf8' });
  t.is(bad.status, 2);
  t.regex(bad.stderr, /'fbnak' is not a front-end .*did you mean fbank\?/);
});
