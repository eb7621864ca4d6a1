import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { type Genotype, parseGenotype } from '../../lib/genotype/index.ts';
import { type NpyArray, readNpy } from '../../lib/io/npy.ts';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'reference');

export function fixture(...parts: string[]): NpyArray {
  return readNpy(join(FIXTURES, ...parts));
}

export function manifest(kase: string): { scalars: Record<string, { value: any }>; files: Record<string, unknown> } {
  return JSON.parse(readFileSync(join(FIXTURES, kase, 'manifest.json'), 'utf8'));
}

export function stateDictKeys(kase: string): { key: string; shape: number[]; dtype: string; kind?: string; source?: string }[] {
  return JSON.parse(readFileSync(join(FIXTURES, kase, 'state_dict_keys.json'), 'utf8'));
}

/** The README genotype as the derived fixture's --text_arch string states it. */
export const README_GENOTYPE: Genotype = parseGenotype(manifest('derived').scalars.genotype.value);
