// EfficientTDNN search spaces: sugar's space list, `[depths] + (B+1) width lists + (B+1) kernel lists
// + [cat widths]` (12 lists for tdnn8m2g's 4 blocks), as DynamicTDNN.space() builds it from the
// supernet dims for each progressive-shrinking stage, plus the coarse/fine spaces of the search,
// validation of user-given spaces, and the number of distinct subnets a space holds.
import { UserError } from '../errors.ts';
import type { Subnet, SupernetDims } from './subnet.ts';

/** One list of choices per gene: depth, c0..cB, k0..kB, cat. */
export type Space = number[][];

/** sugar's _make_divisible(v, 8): round to the nearest multiple of 8, at least 8, never 10 % below v. */
export function makeDivisible(v: number, divisor = 8): number {
  let n = Math.max(divisor, Math.floor(Math.trunc(v + divisor / 2) / divisor) * divisor);
  if (n < 0.9 * v) n += divisor;
  return n;
}

export type SpaceMode = 'kernel' | 'depth' | 'width' | 'width1' | 'width2';

export interface SpaceChoices {
  kernels: number[];
  depths: number[]; // offsets from NUM_BLOCKS
  widths: number[]; // channel ratios
}

/** The reference's defaults for the choices: kernels [1,3,5], depths [-2,-1,0], the paper's coarse ratios. */
export const DEFAULT_CHOICES: SpaceChoices = { kernels: [1, 3, 5], depths: [-2, -1, 0], widths: [0.25, 0.35, 0.5, 0.75, 1.0] };

/** DynamicTDNN.space(mode, channel_ratios, kernels, depths) for a supernet with these dims. */
export function buildSpace(d: SupernetDims, modes: readonly SpaceMode[], choices: SpaceChoices = DEFAULT_CHOICES): Space {
  const layers = d.numBlocks + 1;
  const kernels = modes.includes('kernel') ? choices.kernels.filter((k) => k <= d.kernelSize) : [d.kernelSize];
  const depths = modes.includes('depth') ? choices.depths.map((o) => d.numBlocks + o) : [d.numBlocks];
  const wide = modes.includes('width') || modes.includes('width1') || modes.includes('width2');
  const widths = wide ? choices.widths.map((r) => makeDivisible(r * d.channels)) : [d.channels];
  const cats = wide ? choices.widths.map((r) => makeDivisible(r * d.catChannels)) : [d.catChannels];
  return [depths, ...Array.from({ length: layers }, () => [...widths]), ...Array.from({ length: layers }, () => [...kernels]), cats];
}

/**
 * The train script's --task string (`supernet_kernel_depth_width1_width2`): every token turns on a
 * mode; kernel brings kernels [1,3,5], depth offsets [-2,-1,0], width1 the ratios [0.5,0.75,1] and
 * width2 (which wins over width1) the ratios [0.25,0.35,0.5,0.75,1]. `supernet` alone is the full
 * net: a space with one path, which the reference still samples from.
 */
export function taskSpace(d: SupernetDims, task: string): Space {
  const tokens = task.split('_');
  const known = ['supernet', 'kernel', 'depth', 'width1', 'width2'];
  const bad = tokens.find((t) => !known.includes(t));
  if (bad !== undefined) throw new UserError(`space task '${task}': unknown mode '${bad}' (expected ${known.join(', ')} joined by '_')`);
  const modes = tokens.filter((t) => t !== 'supernet') as SpaceMode[];
  const widths = modes.includes('width2') ? [0.25, 0.35, 0.5, 0.75, 1.0] : modes.includes('width1') ? [0.5, 0.75, 1] : [1];
  return buildSpace(d, modes, { kernels: [1, 3, 5], depths: [-2, -1, 0], widths });
}

/** Progressive-shrinking stages in the README's order, each adding one mode to the previous one. */
export const STAGE_TASKS: Record<string, string> = {
  largest: 'supernet',
  kernel: 'supernet_kernel',
  depth: 'supernet_kernel_depth',
  width1: 'supernet_kernel_depth_width1',
  width2: 'supernet_kernel_depth_width1_width2',
};

export const SPACE_NAMES = [...Object.keys(STAGE_TASKS), 'coarse', 'fine'];

/**
 * A named space: a stage (largest, kernel, depth, width1, width2), coarse (= width2: the 48-dim
 * predictor's widths {128,176,256,384,512} and cats {384,...,1536} for tdnn8m2g), fine (every multiple
 * of 8 from the coarse minimum to the full width: range(128, 513, 8) and range(384, 1537, 8) for
 * tdnn8m2g, as ArchCoder(408) / MinimizeError's fine genes), or a train-script task string with '_'.
 */
export function namedSpace(d: SupernetDims, name: string): Space {
  let space: Space;
  if (name in STAGE_TASKS) space = taskSpace(d, STAGE_TASKS[name]);
  else if (name === 'coarse') space = taskSpace(d, STAGE_TASKS.width2);
  else if (name === 'fine') {
    const coarse = taskSpace(d, STAGE_TASKS.width2);
    const step = (from: number, to: number) => Array.from({ length: Math.floor((to - from) / 8) + 1 }, (_, i) => from + 8 * i);
    const layers = d.numBlocks + 1;
    space = coarse.map((choices, i) => (i >= 1 && i <= layers ? step(Math.min(...choices), d.channels) : i === coarse.length - 1 ? step(Math.min(...choices), d.catChannels) : choices));
  } else if (name.includes('_')) space = taskSpace(d, name);
  else throw new UserError(`--space '${name}': unknown space name (expected ${SPACE_NAMES.join(', ')}, a task string like supernet_kernel_depth, or a JSON list of ${2 * d.numBlocks + 4} lists)`);
  checkSpace(space, d, `space '${name}'`);
  return space;
}

export function geneNames(numBlocks: number): string[] {
  const layers = Array.from({ length: numBlocks + 1 }, (_, i) => i);
  return ['depth', ...layers.map((i) => `c${i}`), ...layers.map((i) => `k${i}`), 'cat'];
}

/** Checks that every choice of the space is a subnet gene the supernet can run (see checkSubnet). */
export function checkSpace(space: unknown, d: SupernetDims, where = '--space'): asserts space is Space {
  const n = 2 * d.numBlocks + 4;
  const names = geneNames(d.numBlocks);
  if (!Array.isArray(space)) throw new UserError(`${where}: expected a JSON list of ${n} lists of choices (${names.join(', ')}), got ${JSON.stringify(space)}`);
  if (space.length !== n)
    throw new UserError(`${where}: expected ${n} lists (${names.join(', ')}) for a ${d.numBlocks}-block supernet, got ${space.length}`);
  space.forEach((choices: unknown, i) => {
    const list = `${where}: list ${i} (${names[i]})`;
    if (!Array.isArray(choices) || choices.length === 0) throw new UserError(`${list} must be a non-empty list of integers, got ${JSON.stringify(choices)}`);
    choices.forEach((v: unknown, j) => {
      const bad = (why: string) => new UserError(`${list}, element ${j}: ${JSON.stringify(v)} ${why}`);
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw bad('is not an integer');
      if (i === 0) {
        if (v < 1 || v > d.numBlocks) throw bad(`is not a depth in [1, ${d.numBlocks}] (MODEL.NUM_BLOCKS)`);
      } else if (i === 1) {
        if (v < 4 || v > d.channels) throw bad(`is not a trunk width in [4, ${d.channels}] (MODEL.CHANNELS)`);
      } else if (i <= d.numBlocks + 1) {
        if (v < 8 || v > d.channels || v % 8 !== 0) throw bad(`is not a block width: a multiple of 8 in [8, ${d.channels}] (MODEL.CHANNELS; Res2 splits it into 8 groups)`);
      } else if (i < n - 1) {
        if (v < 1 || v > d.kernelSize || v % 2 === 0) throw bad(`is not a kernel: odd, in [1, ${d.kernelSize}] (MODEL.KERNEL_SIZE)`);
      } else if (v < 1 || v > d.catChannels) throw bad(`is not a cat width in [1, ${d.catChannels}] (MODEL.CAT_CHANNELS)`);
    });
  });
}

/** Parses --space: a space name or a JSON list of lists, checked against the supernet. */
export function parseSpace(text: string, d: SupernetDims, where = '--space'): Space {
  const t = text.trim();
  if (/^[A-Za-z][\w]*$/.test(t)) return namedSpace(d, t);
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch (err) {
    throw new UserError(`${where}: not valid JSON (${(err as Error).message}); expected a list of ${2 * d.numBlocks + 4} lists of choices or a space name (${SPACE_NAMES.join(', ')})`);
  }
  checkSpace(v, d, where);
  return v;
}

/** sugar's TDNNPath._config_map: 12 genes -> (depth, channels[:depth+1], kernels[:depth+1], cat). */
export function genesToSubnet(genes: readonly number[]): Subnet {
  const half = (genes.length - 2) / 2;
  const depth = genes[0];
  return { depth, channels: genes.slice(1, 1 + half).slice(0, depth + 1), kernels: genes.slice(1 + half, 1 + 2 * half).slice(0, depth + 1), cat: genes[genes.length - 1] };
}

/** TDNNPath.lower / .upper: the per-gene minima / maxima, truncated to their depth. */
export function spaceBounds(space: Space): { lower: Subnet; upper: Subnet } {
  return { lower: genesToSubnet(space.map((c) => Math.min(...c))), upper: genesToSubnet(space.map((c) => Math.max(...c))) };
}

/**
 * Distinct subnets: for each distinct depth D, the product of the distinct choices of c0..cD, k0..kD
 * and cat (genes beyond the depth do not make a different subnet). Exact, as a bigint.
 */
export function countSubnets(space: Space): bigint {
  const half = (space.length - 2) / 2;
  const distinct = space.map((c) => BigInt(new Set(c).size));
  let total = 0n;
  for (const depth of new Set(space[0])) {
    let n = distinct[distinct.length - 1];
    for (let i = 0; i <= depth && i < half; i++) n *= distinct[1 + i] * distinct[1 + half + i];
    total += n;
  }
  return total;
}

/** All 12-gene combinations, the size of what the sampler draws from (duplicates included). */
export function countRawCombinations(space: Space): bigint {
  return space.reduce((acc, c) => acc * BigInt(c.length), 1n);
}
