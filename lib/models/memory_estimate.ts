// A preflight estimate of a training step's memory, from the config alone (no network is built: a
// config like MODEL.LAYERS 100000 must be refused before it allocates anything). Activations are
// counted in feature-map elements the autograd graph keeps per cell, times a per-kind factor of
// saved tensors per map measured on this machine's runs (peak RSS of the demo configs, see
// test/config_ranges.test.ts); weights count four times (value, gradient, two Adam moments).
import { totalmem } from 'node:os';

import { type Config, configOrigin } from '../config/index.ts';

export interface MemoryEstimate { bytes: number; activationBytes: number; weightBytes: number; what: string }

// Saved float32 maps per cell-input map element, from the growth of peak RSS between batch 1 and a
// larger batch measured here (2026-12-02, /usr/bin/time): derived network C=16/5 cells/batch 16 and
// C=32/8 cells/batch 16 at 300 frames: 38-39; search supernet C=4/5 cells/batch 4: 31 (exact hard
// Gumbel: unsampled ops keep no graph), 55 with softmax mixing (every op's graph); ResNet-34 batch
// 16: 5.8 per block map. Rounded up, so the estimate errs on the high side by a few percent.
const SAVED_PER_CELL = { network: 40, search: 32, searchSoftmax: 56 };
const SAVED_PER_RESNET_BLOCK = 6;

const half = (n: number) => Math.ceil(n / 2);
const BINS = 257;

function cnnCells(cfg: Config, stem: 'network' | 'search'): { cellMaps: number; stemMaps: number; weights: number } {
  const B = cfg.TRAIN.BATCH_SIZE, C = cfg.MODEL.INIT_CHANNELS, L = cfg.MODEL.LAYERS;
  let H = cfg.DATASET.PARTIAL_N_FRAMES, W = BINS;
  let stemMaps: number;
  if (stem === 'network') {
    // stem0: two stride-2 convs (C/2 then C channels), stem1 a third: the cells start at 1/8
    stemMaps = 3 * (C / 2) * half(H) * half(W) + 3 * C * half(half(H)) * half(half(W));
    H = half(half(half(H)));
    W = half(half(half(W)));
  } else {
    stemMaps = 2 * 3 * C * H * W; // stride-1 conv to 3C channels + BN at full resolution
  }
  let cellMaps = 0, weights = 0, Ccur = C, Cprev = stem === 'network' ? C : 3 * C;
  const edgeWeights = stem === 'network' ? 2 : 14 * 6; // ~ C^2 terms of the cell's pointwise convs
  for (let i = 0; i < L; i++) {
    const reduction = i === Math.floor(L / 3) || i === Math.floor((2 * L) / 3);
    if (reduction) Ccur *= 2;
    cellMaps += Ccur * H * W;
    weights += edgeWeights * 8 * Ccur * Ccur / (stem === 'network' ? 1 : 8) + 2 * Cprev * Ccur;
    if (reduction) { H = half(H); W = half(W); }
    Cprev = 4 * Ccur;
  }
  return { cellMaps: B * cellMaps, stemMaps: B * stemMaps, weights: weights + Cprev * cfg.MODEL.NUM_CLASSES };
}

export function estimateTrainingMemory(cfg: Config): MemoryEstimate | null {
  const m = cfg.MODEL;
  let activations: number, weights: number, what: string;
  if (m.NAME === 'model' || m.NAME === 'model_search') {
    const kind = m.NAME === 'model' ? 'network' : 'search';
    const r = cnnCells(cfg, kind);
    const factor = kind === 'network' ? SAVED_PER_CELL.network : m.MIXING === 'softmax' ? SAVED_PER_CELL.searchSoftmax : SAVED_PER_CELL.search;
    activations = factor * r.cellMaps + r.stemMaps;
    weights = r.weights;
    what = `${m.LAYERS} cells of ${m.INIT_CHANNELS}+ channels, batch ${cfg.TRAIN.BATCH_SIZE} x ${cfg.DATASET.PARTIAL_N_FRAMES} frames`;
  } else if (/^resnet(18|34)(_bwn)?$/.test(m.NAME)) {
    const blocks = m.NAME.startsWith('resnet18') ? [2, 2, 2, 2] : [3, 4, 6, 3];
    const base = 64 * m.WIDTH_MULT;
    let H = half(half(cfg.DATASET.PARTIAL_N_FRAMES)), W = half(half(BINS)), maps = 0;
    weights = 0;
    blocks.forEach((n, l) => {
      const c = base * 2 ** l;
      if (l > 0) { H = half(H); W = half(W); }
      maps += n * c * H * W;
      weights += n * 2 * 9 * c * c;
    });
    activations = cfg.TRAIN.BATCH_SIZE * SAVED_PER_RESNET_BLOCK * maps;
    // a binary-weight conv also keeps its W_b and signs for the backward: 6 weight-sized tensors
    if (m.NAME.endsWith('_bwn')) weights *= 1.5;
    what = `${m.NAME}, batch ${cfg.TRAIN.BATCH_SIZE} x ${cfg.DATASET.PARTIAL_N_FRAMES} frames`;
  } else return null;
  const activationBytes = 4 * activations, weightBytes = 4 * 4 * weights;
  return { bytes: activationBytes + weightBytes, activationBytes, weightBytes, what };
}

const gb = (b: number) => `${(b / 2 ** 30).toFixed(1)} GiB`;

/** The refusal message when the estimate exceeds this machine's RAM, else null. */
export function memoryRefusal(cfg: Config, ram = totalmem()): string | null {
  const e = estimateTrainingMemory(cfg);
  if (!e || e.bytes <= ram) return null;
  const set = ['TRAIN.BATCH_SIZE', 'MODEL.LAYERS', 'MODEL.INIT_CHANNELS', 'MODEL.CHANNELS', 'DATASET.PARTIAL_N_FRAMES']
    .map((k) => [k, configOrigin(cfg, k)]).filter(([, o]) => o !== 'the default').map(([k, o]) => `${k} from ${o}`);
  return `this config needs an estimated ${gb(e.bytes)} per training step (${gb(e.activationBytes)} of activations, ${gb(e.weightBytes)} of weights and optimizer state; ${e.what}${set.length ? `; ${set.join(', ')}` : ''}), ` +
    `more than this machine's ${gb(ram)} of RAM: reduce TRAIN.BATCH_SIZE, MODEL.LAYERS, MODEL.INIT_CHANNELS or DATASET.PARTIAL_N_FRAMES, or pass --force to try anyway`;
}
