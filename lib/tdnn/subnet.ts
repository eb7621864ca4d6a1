// An EfficientTDNN subnet: sugar's config tuple (depth, [c0..c_depth], [k0..k_depth], cat) and its
// text form `D-c0-..-cD-k0-..-kD-cat` (the train script's --specific-tdnn), e.g.
// 3-512-512-512-512-5-5-3-3-1536. c0 is layer1's width and the trunk width, c_i the mid width of
// block i (its first_conv output and Res2 width), k0 layer1's kernel, k_i the kernel of block i's
// seven Res2 convs, cat the catconv output width (the pooling dim).
import { UserError } from '../errors.ts';

export interface Subnet {
  depth: number;
  channels: number[]; // depth + 1 entries
  kernels: number[]; // depth + 1 entries
  cat: number;
}

/** The supernet a subnet is cut from: the MODEL.* keys of a tdnn config. */
export interface SupernetDims {
  inFeats: number;
  embedDim: number;
  numBlocks: number;
  channels: number;
  kernelSize: number;
  catChannels: number;
}

export function supernetDims(cfg: { MODEL: { IN_FEATS: number; EMBED_DIM: number; NUM_BLOCKS: number; CHANNELS: number; KERNEL_SIZE: number; CAT_CHANNELS: number } }): SupernetDims {
  const m = cfg.MODEL;
  return { inFeats: m.IN_FEATS, embedDim: m.EMBED_DIM, numBlocks: m.NUM_BLOCKS, channels: m.CHANNELS, kernelSize: m.KERNEL_SIZE, catChannels: m.CAT_CHANNELS };
}

/** The whole supernet as a subnet (sugar's `config = None`). */
export function largestSubnet(d: SupernetDims): Subnet {
  return { depth: d.numBlocks, channels: Array(d.numBlocks + 1).fill(d.channels), kernels: Array(d.numBlocks + 1).fill(d.kernelSize), cat: d.catChannels };
}

export function formatSubnet(s: Subnet): string {
  return [s.depth, ...s.channels, ...s.kernels, s.cat].join('-');
}

/** The fixtures' and sampler's JSON form: [depth, [c...], [k...], cat]. */
export function subnetToJson(s: Subnet): [number, number[], number[], number] {
  return [s.depth, [...s.channels], [...s.kernels], s.cat];
}

export function subnetFromJson(v: unknown, where = 'subnet'): Subnet {
  const ok = Array.isArray(v) && v.length === 4 && Number.isInteger(v[0]) && Array.isArray(v[1]) && Array.isArray(v[2]) && Number.isInteger(v[3]) &&
    (v[1] as unknown[]).every(Number.isInteger) && (v[2] as unknown[]).every(Number.isInteger);
  if (!ok) throw new UserError(`${where}: expected [depth, [c0..cD], [k0..kD], cat] of integers, got ${JSON.stringify(v)}`);
  const [depth, channels, kernels, cat] = v as [number, number[], number[], number];
  if (depth < 1 || channels.length !== depth + 1 || kernels.length !== depth + 1)
    throw new UserError(`${where}: depth ${depth} needs ${depth + 1} widths and ${depth + 1} kernels, got ${channels.length} and ${kernels.length}`);
  return { depth, channels: [...channels], kernels: [...kernels], cat };
}

/** Parses `D-c0-..-cD-k0-..-kD-cat` (2D + 4 integers). */
export function parseSubnet(text: string, where = '--subnet'): Subnet {
  const parts = text.trim().split('-');
  if (parts.some((p) => !/^\d+$/.test(p)))
    throw new UserError(`${where} '${text}': expected dash-separated positive integers D-c0-..-cD-k0-..-kD-cat (e.g. 3-512-512-512-512-5-5-3-3-1536)`);
  const n = parts.map(Number);
  const depth = n[0];
  if (depth < 1) throw new UserError(`${where} '${text}': depth must be at least 1, got ${depth}`);
  const expected = 2 * depth + 4;
  if (n.length !== expected)
    throw new UserError(`${where} '${text}': depth ${depth} needs ${expected} numbers (D, ${depth + 1} widths, ${depth + 1} kernels, cat), got ${n.length}`);
  return { depth, channels: n.slice(1, depth + 2), kernels: n.slice(depth + 2, 2 * depth + 3), cat: n[expected - 1] };
}

/** Checks that the supernet can run this subnet (what sugar's slicing needs; it checks nothing itself). */
export function checkSubnet(s: Subnet, d: SupernetDims, where = '--subnet'): void {
  const name = `${where} ${formatSubnet(s)}`;
  if (s.depth > d.numBlocks) throw new UserError(`${name}: depth ${s.depth} exceeds the supernet's ${d.numBlocks} blocks`);
  const [c0, ...mids] = s.channels;
  if (!(c0 >= 4 && c0 <= d.channels)) throw new UserError(`${name}: trunk width c0 = ${c0} is outside [4, ${d.channels}] (MODEL.CHANNELS)`);
  mids.forEach((c, i) => {
    if (!(c >= 8 && c <= d.channels && c % 8 === 0))
      throw new UserError(`${name}: block ${i + 1}'s width ${c} must be a multiple of 8 in [8, ${d.channels}] (Res2 splits it into 8 groups)`);
  });
  s.kernels.forEach((k, i) => {
    if (!(k >= 1 && k <= d.kernelSize && k % 2 === 1))
      throw new UserError(`${name}: ${i === 0 ? 'layer1' : `block ${i}`}'s kernel ${k} must be odd and at most ${d.kernelSize} (MODEL.KERNEL_SIZE)`);
  });
  if (!(s.cat >= 1 && s.cat <= d.catChannels)) throw new UserError(`${name}: cat width ${s.cat} is outside [1, ${d.catChannels}] (MODEL.CAT_CHANNELS)`);
}
