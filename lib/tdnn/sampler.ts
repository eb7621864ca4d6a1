// sugar's TDNNPath: the progressive-shrinking path sampler. Each instance owns Python's
// random.Random(666); a draw is one random.choice per space list, all 12 of them in order (genes
// beyond the drawn depth and single-choice genes still consume MT outputs), then the truncation to
// depth + 1 layers. The sequence restarts with every new instance, as the reference's does with
// every new model; getState/fromState let a resumed run continue it exactly instead.
import { UserError } from '../errors.ts';
import { type MtState, PythonRandom } from './python_random.ts';
import { type Space, genesToSubnet, spaceBounds } from './space.ts';
import type { Subnet } from './subnet.ts';

export const SAMPLER_SEED = 666;

/** What a checkpoint stores to resume the draw sequence: the seed, the draws so far and the MT state. */
export interface SamplerState {
  seed: number;
  draws: number;
  mt: MtState;
}

export class TDNNPath {
  readonly lower: Subnet;
  readonly upper: Subnet;
  private rng: PythonRandom;
  private seed: number;
  /** Paths drawn so far. */
  draws = 0;

  constructor(readonly space: Space, seed = SAMPLER_SEED) {
    if (space.length < 4 || space.length % 2 !== 0 || space.some((c) => c.length === 0))
      throw new UserError(`TDNNPath: a space needs [depths] + widths + kernels + [cats], an even number (>= 4) of non-empty lists; got ${space.length}`);
    this.seed = seed;
    this.rng = new PythonRandom(seed);
    ({ lower: this.lower, upper: this.upper } = spaceBounds(space));
  }

  /** The 12 genes of the next draw, before truncation (the fixtures' raw_draws). */
  sampleGenes(): number[] {
    const genes = this.space.map((choices) => this.rng.choice(choices));
    this.draws++;
    return genes;
  }

  /** The next path, as TDNNPath.sample() returns it. */
  sample(): Subnet {
    return genesToSubnet(this.sampleGenes());
  }

  /** Skips n draws (replaying them), e.g. to resume from a draw count alone. */
  skip(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new UserError(`TDNNPath.skip(${n}): expected a non-negative integer`);
    for (let i = 0; i < n; i++) this.sampleGenes();
  }

  getState(): SamplerState {
    return { seed: this.seed, draws: this.draws, mt: this.rng.getState() };
  }

  /** A sampler that continues exactly where `state` was taken (same space). */
  static fromState(space: Space, state: SamplerState): TDNNPath {
    if (!state || !Number.isSafeInteger(state.seed) || !Number.isSafeInteger(state.draws) || state.draws < 0)
      throw new UserError('sampler state: expected {seed, draws, mt}');
    const p = new TDNNPath(space, state.seed);
    if (state.mt) p.rng.setState(state.mt);
    else p.skip(state.draws);
    p.draws = state.draws;
    return p;
  }
}
