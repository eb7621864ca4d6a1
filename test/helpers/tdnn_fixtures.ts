// The EfficientTDNN fixtures copied under test/fixtures/efficienttdnn/, and the supernet dims their
// manifests state as sugar constructor calls.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { SupernetDims } from '../../lib/tdnn/subnet.ts';

export const TDNN_FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'efficienttdnn');

export function tdnnManifest(kase: string): { scalars: Record<string, { value: any }>; files: Record<string, any>; notes?: string[] } {
  return JSON.parse(readFileSync(join(TDNN_FIXTURES, kase, 'manifest.json'), 'utf8'));
}

/** tdnn8m2g(80, 192): DynamicTDNN(num_blocks=4, channels=512, kernel_sizes=5, catconv_channels=1536). */
export const TDNN8M2G: SupernetDims = { inFeats: 80, embedDim: 192, numBlocks: 4, channels: 512, kernelSize: 5, catChannels: 1536 };

/** The keyword arguments of a `DynamicTDNN(k=v, ...)` string: numbers, lists and bare words. */
export function constructorArgs(text: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const m of text.matchAll(/(\w+)=(\[[^\]]*\]|[^,)]+)/g)) {
    const v = m[2].trim();
    out[m[1]] = v.startsWith('[') ? v.slice(1, -1).split(',').map((x) => x.trim()).filter(Boolean).map((x) => (Number.isNaN(Number(x)) ? x : Number(x))) : Number.isNaN(Number(v)) ? v : Number(v);
  }
  return out;
}

/** The supernet dims of a DynamicTDNN constructor string (kernel_sizes an int). */
export function constructorDims(text: string): SupernetDims {
  const a = constructorArgs(text);
  const num = (k: string) => {
    if (typeof a[k] !== 'number') throw new Error(`constructor '${text}': no numeric ${k}`);
    return a[k] as number;
  };
  return { inFeats: num('in_feats'), embedDim: num('out_embeds'), numBlocks: num('num_blocks'), channels: num('channels'), kernelSize: num('kernel_sizes'), catChannels: num('catconv_channels') };
}
