// MACs and parameters of an EfficientTDNN subnet, by sugar's counting convention: what
// DynamicTDNN.count_ops([1, IN_FEATS, T]) / count_params() give on the configured supernet, which
// equal thop 0.0.31 on clone(cfg). Per layer: conv = out_elements · in_channels · active kernel (no
// biases); BN = 2 · elements (params 2 per channel, running stats not counted); linear =
// in_features · out_elements (params with bias); SE = its two linears on (B, C), so it does not
// scale with T; attentive pooling = its two 1x1 convs with the fixed 128 bottleneck. ReLU, tanh,
// sigmoid, softmax, the SE product, residual adds, statistics and concatenations are free, and the
// kernel-transform matrices are not parameters of a subnet. Exact integers (bigint).
import { UserError } from '../errors.ts';
import type { Subnet, SupernetDims } from './subnet.ts';

/** Attention bottleneck of DynamicAttentiveStatsPool: fixed for every width. */
export const POOL_BOTTLENECK = 128;
/** SE reduction of DynamicSELayer: hidden width = c0 // 4 of the active trunk. */
export const SE_REDUCTION = 4;
/** Res2 scale: 8 chunks, 7 convs (the last chunk passes through). */
export const RES2_SCALE = 8;

export interface SubnetCost {
  macs: bigint;
  params: bigint;
}

/** count_ops / count_params of `s` cut from a supernet with dims `d`, input (1, IN_FEATS, frames). */
export function subnetCost(s: Subnet, d: SupernetDims, frames: number): SubnetCost {
  if (!Number.isSafeInteger(frames) || frames < 1) throw new UserError(`--frames ${frames}: expected a positive integer`);
  const T = BigInt(frames);
  const c0 = BigInt(s.channels[0]);
  const se = c0 / BigInt(SE_REDUCTION); // integer division, as `in_channels // reduction`
  const cat = BigInt(s.cat);
  const E = BigInt(d.embedDim);
  const B = BigInt(POOL_BOTTLENECK);
  const convs = BigInt(RES2_SCALE - 1);
  let macs = 0n;
  let params = 0n;
  // layer1: conv IN_FEATS -> c0 at kernel k0, ReLU, BN(c0)
  const k0 = BigInt(s.kernels[0]);
  const inFeats = BigInt(d.inFeats);
  macs += T * c0 * inFeats * k0 + 2n * c0 * T;
  params += c0 * inFeats * k0 + 2n * c0;
  for (let i = 1; i <= s.depth; i++) {
    const c = BigInt(s.channels[i]);
    const k = BigInt(s.kernels[i]);
    const g = c / BigInt(RES2_SCALE);
    // first_conv c0 -> c (1x1) + BN(c); 7 Res2 convs g -> g at kernel k + BN(g); last_conv c -> c0 + BN(c0)
    macs += T * c * c0 + 2n * c * T + convs * (T * g * g * k + 2n * g * T) + T * c0 * c + 2n * c0 * T;
    params += c0 * c + 2n * c + convs * (g * g * k + 2n * g) + c * c0 + 2n * c0;
    // SE: reduce c0 -> c0//4 and expand c0//4 -> c0 on the time mean
    macs += 2n * c0 * se;
    params += c0 * se + se + se * c0 + c0;
  }
  // catconv: the depth block outputs (c0 each) -> cat, 1x1
  macs += T * cat * c0 * BigInt(s.depth);
  params += cat * c0 * BigInt(s.depth);
  // pooling: linear1 cat -> 128 and linear2 128 -> cat, 1x1, no bias
  macs += 2n * T * B * cat;
  params += 2n * B * cat;
  // bnpool BN(2cat), linear 2cat -> E (bias), bnembed BN(E)
  macs += 2n * 2n * cat + 2n * cat * E + 2n * E;
  params += 2n * 2n * cat + 2n * cat * E + E + 2n * E;
  return { macs, params };
}
