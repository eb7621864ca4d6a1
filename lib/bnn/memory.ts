// Memory accounting of a binary-weight network (bnn.md §3.5): what the binarised convs and the
// deployable files take at 1 bit per binarised weight plus fp32 alphas, against fp32 (4 bytes per
// value) of the same content. Counted from the model's own state_dict and binary-layer list, so the
// formula and the network cannot disagree. Headers and padding of an actual file are not included.
import type { BinaryLayerInfo, StateDictEntry } from '../native.ts';

export interface BinarisedCounts { layers: number; filters: number; weights: number }

/** Parameter counts by group (ResNet module names): both the fp32 net and its BWN twin have these. */
export interface ParamGroups { stem: number; blocks: number; shortcuts: number; bn: number; prelu: number; classifier: number; other: number }

export interface MemoryRow { what: string; fp32Bytes: number; bwnBytes: number; ratio: number }

export interface MemoryReport {
  binarised: BinarisedCounts;
  bitsBytes: number;
  alphaBytes: number;
  /** BN running mean/var values (num_batches_tracked is not deployed) */
  bnStats: number;
  rows: MemoryRow[];
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function binarisedCounts(layers: readonly BinaryLayerInfo[]): BinarisedCounts {
  return { layers: layers.length, filters: layers.reduce((a, l) => a + l.shape[0], 0), weights: layers.reduce((a, l) => a + numel(l.shape), 0) };
}

function groupOf(name: string): keyof ParamGroups {
  if (name === 'conv1.weight') return 'stem';
  if (/^layer\d+\.\d+\.conv\d\.weight$/.test(name)) return 'blocks';
  if (/^layer\d+\.\d+\.downsample\.0\.weight$/.test(name)) return 'shortcuts';
  if (/(^|\.)bn\d\.(weight|bias)$/.test(name) || /\.downsample\.1\.(weight|bias)$/.test(name)) return 'bn';
  if (/(^|\.)relu\.weight$/.test(name)) return 'prelu';
  if (name.startsWith('classifier.')) return 'classifier';
  return 'other';
}

export function paramGroups(entries: readonly StateDictEntry[]): ParamGroups {
  const g: ParamGroups = { stem: 0, blocks: 0, shortcuts: 0, bn: 0, prelu: 0, classifier: 0, other: 0 };
  for (const e of entries) if (e.kind === 'parameter') g[groupOf(e.name)] += numel(e.shape);
  return g;
}

/** 1 bit per binarised weight, one byte-aligned stream per layer. */
export function bitsBytesOf(layers: readonly BinaryLayerInfo[]): number {
  return layers.reduce((a, l) => a + Math.ceil(numel(l.shape) / 8), 0);
}

/** fp32 alphas: one per filter ('channel'), one per layer ('layer'), none ('none'). */
export function alphaBytesOf(layers: readonly BinaryLayerInfo[]): number {
  return layers.reduce((a, l) => a + 4 * (l.scale === 'channel' ? l.shape[0] : l.scale === 'layer' ? 1 : 0), 0);
}

export function memoryReport(entries: readonly StateDictEntry[], layers: readonly BinaryLayerInfo[]): MemoryReport {
  const binarised = binarisedCounts(layers);
  const binaryKeys = new Set(layers.map((l) => l.key));
  let other = 0, classifier = 0, bnStats = 0;
  for (const e of entries) {
    if (e.kind === 'buffer') {
      if (/\.running_(mean|var)$/.test(e.name)) bnStats += numel(e.shape);
    } else if (e.name.startsWith('classifier.')) classifier += numel(e.shape);
    else if (!binaryKeys.has(e.name)) other += numel(e.shape);
  }
  const bitsBytes = bitsBytesOf(layers), alphaBytes = alphaBytesOf(layers);
  const row = (what: string, fp32Bytes: number, bwnBytes: number): MemoryRow => ({ what, fp32Bytes, bwnBytes, ratio: fp32Bytes / bwnBytes });
  const fpBinary = 4 * binarised.weights;
  const extractor = row('embedding extractor parameters (binarised + fp32 stem, BN affine, PReLU)', fpBinary + 4 * other, bitsBytes + alphaBytes + 4 * other);
  return {
    binarised, bitsBytes, alphaBytes, bnStats,
    rows: [
      row('binarised layers, bits only', fpBinary, bitsBytes),
      row('binarised layers, bits + fp32 alpha', fpBinary, bitsBytes + alphaBytes),
      extractor,
      row('embedding extractor file (parameters + BN running mean/var)', extractor.fp32Bytes + 4 * bnStats, extractor.bwnBytes + 4 * bnStats),
      row('extractor parameters + the fp32 classifier (identification)', extractor.fp32Bytes + 4 * classifier, extractor.bwnBytes + 4 * classifier),
    ],
  };
}

/** "32.00x" */
export function formatRatio(r: number): string {
  return `${r.toFixed(2)}x`;
}
