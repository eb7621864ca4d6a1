import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Genotype, parseGenotype } from '../../lib/genotype/index.ts';
import { encodeWav16 } from '../../lib/data/wav.ts';
import { type NpyArray, readNpy } from '../../lib/io/npy.ts';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'reference');

export function fixture(...parts: string[]): NpyArray {
  return readNpy(join(FIXTURES, ...parts));
}

/**
 * The stft fixture's 16-bit wav `name`, rebuilt from `<name>.waveform_loaded.npy` (exactly
 * int16 / 32768): the reference wrote canonical 44-byte-header files with Python's `wave`, which
 * encodeWav16 reproduces byte for byte, so the audio itself is not tracked.
 */
export function fixtureWav(name: string): Buffer {
  const samples = fixture('stft', `${name}.waveform_loaded.npy`).data as Float32Array;
  return encodeWav16(Int16Array.from(samples, (v) => Math.round(v * 32768)));
}

let wavDir: string | undefined;

/** fixtureWav(name) written to a temporary file, for tests that pass a path to the CLI. */
export function fixtureWavFile(name: string): string {
  wavDir ??= mkdtempSync(join(tmpdir(), 'stft-wav-'));
  const file = join(wavDir, `${name}.wav`);
  writeFileSync(file, fixtureWav(name));
  return file;
}

export function manifest(kase: string): { scalars: Record<string, { value: any }>; files: Record<string, unknown> } {
  return JSON.parse(readFileSync(join(FIXTURES, kase, 'manifest.json'), 'utf8'));
}

export function stateDictKeys(kase: string): { key: string; shape: number[]; dtype: string; kind?: string; source?: string }[] {
  return JSON.parse(readFileSync(join(FIXTURES, kase, 'state_dict_keys.json'), 'utf8'));
}

/** The README genotype as the derived fixture's --text_arch string states it. */
export const README_GENOTYPE: Genotype = parseGenotype(manifest('derived').scalars.genotype.value);
