import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

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

export const README_GENOTYPE = {
  normal: [['dil_conv_5x5', 1], ['dil_conv_3x3', 0], ['dil_conv_5x5', 0], ['sep_conv_3x3', 1], ['sep_conv_3x3', 1], ['sep_conv_3x3', 2], ['dil_conv_3x3', 2], ['max_pool_3x3', 1]] as [string, number][],
  normalConcat: [2, 3, 4, 5],
  reduce: [['max_pool_3x3', 1], ['max_pool_3x3', 0], ['dil_conv_5x5', 2], ['max_pool_3x3', 1], ['dil_conv_5x5', 3], ['dil_conv_3x3', 2], ['dil_conv_5x5', 4], ['dil_conv_5x5', 2]] as [string, number][],
  reduceConcat: [2, 3, 4, 5],
};
