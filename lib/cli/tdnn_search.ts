// `autospeech tdnn evaluate` and `autospeech tdnn search`: an EfficientTDNN subnet's verification
// EER/minDCF (optionally after BN recalibration), and the MACs-constrained subnet search (grid,
// random, predictor-guided evolution) that then recalibrates and measures the chosen subnet.
//   tdnn evaluate --cfg ... --weights <supernet|clone dir> [--subnet S] --data <dir> [--recalibrate N] --json
//     -> {"subnet", "eer", "minDCF_<p>"..., "trials", ...} (rates as fractions)
//   tdnn search --macs 204M [--method evolution|random|grid] [--predictor <dir>] --cfg ... --weights <dir>
//     --data <dir> [--export <dir>] --json
//     -> {"subnet", "macs", "params", "predicted_eer", "eer", "minDCF_<p>"..., ...}
import type { Command } from 'commander';

import type { Config } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { saveWeightsDir } from '../models/weights.ts';
import { isTdnnModel } from '../models/spec.ts';
import type { NativeModel } from '../native.ts';
import { RECALIBRATION_DEFAULTS } from '../tdnn/bn_recalibration.ts';
import { BG_CODES, type BgCode } from '../tdnn/bg_chromosome.ts';
import { GA_DEFAULTS, GA_ENCODINGS, type GaEncoding, type GaOptions, RI_XOVR } from '../tdnn/evolution.ts';
import { AccuracyPredictor } from '../tdnn/predictor.ts';
import {
  type Budget, type Objective, PAPER_FRAMES, SEARCH_METHODS, type SearchMethod, type SearchResult,
  checkBudget, evolutionSearch, gridSearch, parseCount, predictorObjective, randomSearch,
} from '../tdnn/search.ts';
import { parseSpace } from '../tdnn/space.ts';
import { formatSubnet, type Subnet, supernetDims } from '../tdnn/subnet.ts';
import { type Measured, Measurer, openEvalSet } from '../tdnn/subnet_eval.ts';
import { cloneSubnet, loadSubnetModel, loadSupernet } from '../tdnn/subnet_model.ts';
import { type CfgOptions, resolveConfig, withConfig } from './common.ts';
import { emit } from './output.ts';
import { jsonExact, positiveInt, tdnnCommand } from './tdnn.ts';

export interface CommonOpts extends CfgOptions {
  weights: string;
  data?: string;
  trials?: string;
  recalibrate?: string;
  recalibrateBatch?: string;
  recalibrateSamples?: string;
  seed?: string;
}

export interface EvalOpts extends CommonOpts { subnet?: string }

export interface SearchOpts extends CommonOpts {
  macs: string;
  params?: string;
  frames?: string;
  method?: string;
  space?: string;
  predictor?: string;
  predictorUnit?: string;
  samples?: string;
  maxMeasure?: string;
  population?: string;
  generations?: string;
  pm?: string;
  xovr?: string;
  constraint?: string;
  encoding?: string;
  bgCode?: string;
  export?: string;
}

/** Option defaults (commander shows them; the functions fill them for in-process callers). */
const COMMON_DEFAULTS = { recalibrateBatch: String(RECALIBRATION_DEFAULTS.batch), recalibrateSamples: String(RECALIBRATION_DEFAULTS.samples) };
const SEARCH_DEFAULTS = {
  ...COMMON_DEFAULTS, frames: String(PAPER_FRAMES), method: 'evolution', space: 'coarse', predictorUnit: 'percent', samples: '1000', maxMeasure: '8',
  population: String(GA_DEFAULTS.population), generations: String(GA_DEFAULTS.generations), pm: String(GA_DEFAULTS.pm),
  constraint: GA_DEFAULTS.constraintHandling as string, encoding: GA_DEFAULTS.encoding as string, bgCode: GA_DEFAULTS.code as string,
};

function nonNegativeInt(text: string, option: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n)) throw new UserError(`${option} '${text}': expected a non-negative integer`);
  return n;
}

function probability(text: string, option: string): number {
  const n = Number(text);
  if (text.trim() === '' || !(n >= 0 && n <= 1)) throw new UserError(`${option} '${text}': expected a number in [0, 1]`);
  return n;
}

/** The GA options of `--method evolution`, checked before any data or weights are read. */
function gaOptions(opts: SearchOpts & typeof SEARCH_DEFAULTS, seed: number): GaOptions {
  const encoding = opts.encoding as GaEncoding;
  if (!GA_ENCODINGS.includes(encoding)) throw new UserError(`--encoding '${opts.encoding}': expected ${GA_ENCODINGS.join(' or ')}`);
  const code = opts.bgCode as BgCode;
  if (!BG_CODES.includes(code)) throw new UserError(`--bg-code '${opts.bgCode}': expected ${BG_CODES.join(' or ')}`);
  if (encoding === 'RI' && given(opts, 'bgCode')) throw new UserError('--bg-code: only for --encoding BG (the RI chromosome has no bits)');
  const constraintHandling = opts.constraint as 'mark' | 'violation';
  if (constraintHandling !== 'mark' && constraintHandling !== 'violation') throw new UserError(`--constraint '${opts.constraint}': expected mark or violation`);
  return {
    encoding, code, population: positiveInt(opts.population, '--population'), generations: nonNegativeInt(opts.generations, '--generations'),
    pm: probability(opts.pm, '--pm'), xovr: opts.xovr === undefined ? undefined : probability(opts.xovr, '--xovr'), seed, constraintHandling,
  };
}

/** Whether an option differs from its default (commander fills defaults in). */
function given(opts: SearchOpts & typeof SEARCH_DEFAULTS, key: 'bgCode'): boolean {
  return opts[key] !== SEARCH_DEFAULTS[key];
}

function tdnnConfig(opts: CfgOptions, overrides: string[]): Config {
  const cfg = resolveConfig(opts, overrides, false);
  if (!isTdnnModel(cfg)) throw new UserError(`MODEL.NAME ${cfg.MODEL.NAME}: tdnn commands need the EfficientTDNN supernet (MODEL.NAME tdnn8m2g, e.g. --cfg exps/tdnn/supernet.yaml)`);
  return cfg;
}

function dataDirOf(cfg: Config, opts: CommonOpts): string {
  const dir = opts.data ?? cfg.DATASET.DATA_DIR;
  if (!dir) throw new UserError('--data <dir>: the data set (VoxCeleb1 layout with the trial list) is needed (or DATASET.DATA_DIR)');
  return dir;
}

function measurerOf(cfg: Config, opts: CommonOpts & typeof COMMON_DEFAULTS, defaultUtterances: number): Measurer {
  const set = openEvalSet(dataDirOf(cfg, opts), opts.trials ?? cfg.DATASET.TRIALS);
  const utterances = opts.recalibrate === undefined ? defaultUtterances : nonNegativeInt(opts.recalibrate, '--recalibrate');
  const batch = positiveInt(opts.recalibrateBatch, '--recalibrate-batch');
  if (utterances > 0 && batch < 2) throw new UserError(`--recalibrate-batch ${batch}: expected at least 2 (BatchNorm batch statistics)`);
  const samples = positiveInt(opts.recalibrateSamples, '--recalibrate-samples');
  const seed = opts.seed === undefined ? cfg.SEED : nonNegativeInt(opts.seed, '--seed');
  return new Measurer(cfg, set, { utterances, batch, samples, seed });
}

const rate = (x: number) => `${(100 * x).toFixed(2)} %`;

function addCommon(cmd: Command, recalibrateDefault: string): Command {
  return withConfig(cmd, false)
    .requiredOption('--weights <path>', 'the supernet (or a standalone subnet, a clone): a state_dict directory (one <key>.npy per tensor), a tdnn train checkpoint (.ckpt) or its run directory')
    .option('--data <dir>', 'data set in the VoxCeleb1 layout with the trial list (default DATASET.DATA_DIR)')
    .option('--trials <file>', 'trial list under --data (default DATASET.TRIALS)')
    .option('--recalibrate <N>', `BN recalibration on N training utterances before measuring, 0 = none (default ${recalibrateDefault})`)
    .option('--recalibrate-batch <B>', 'recalibration batch size; incomplete batches are dropped (reference 128)', COMMON_DEFAULTS.recalibrateBatch)
    .option('--recalibrate-samples <n>', 'recalibration crop length in samples (reference --second 32000 = 2 s)', COMMON_DEFAULTS.recalibrateSamples)
    .option('--seed <n>', 'seed of the recalibration draws (and of the search); default SEED')
    .option('--json', 'machine-readable output (rates as fractions)');
}

/** The chosen subnet's clone, recalibrated and measured, and optionally exported. */
async function measureChosen(cfg: Config, supernet: NativeModel, subnet: Subnet, measurer: Measurer, exportDir?: string) {
  const clone = await cloneSubnet(cfg, supernet, subnet);
  const m = await measurer.measure(clone);
  if (exportDir !== undefined) saveWeightsDir(clone, exportDir);
  return m;
}

/** `tdnn evaluate`: the subnet's (recalibrated) clone measured on the trial list. */
export async function tdnnEvaluate(overrides: string[], given: EvalOpts) {
  const opts = { ...COMMON_DEFAULTS, ...given };
  const cfg = tdnnConfig(opts, overrides);
  const measurer = measurerOf(cfg, opts, 0);
  const { model, subnet, standalone } = await loadSubnetModel(cfg, opts.weights, opts.subnet);
  const m = await measurer.measure(model);
  return { subnet: formatSubnet(subnet), standalone, ...m };
}

/** `tdnn search`: the chosen subnet, its cost, predicted and measured EER (bigints for exact counts). */
export async function tdnnSearch(overrides: string[], given: SearchOpts) {
  const opts = { ...SEARCH_DEFAULTS, ...given };
  const cfg = tdnnConfig(opts, overrides);
  const dims = supernetDims(cfg);
  const method = opts.method as SearchMethod;
  if (!SEARCH_METHODS.includes(method)) throw new UserError(`--method '${opts.method}': expected one of ${SEARCH_METHODS.join(', ')}`);
  const unit = opts.predictorUnit;
  if (unit !== 'percent' && unit !== 'fraction') throw new UserError(`--predictor-unit '${unit}': expected percent or fraction`);
  const budget: Budget = {
    macs: parseCount(opts.macs, '--macs'),
    params: opts.params === undefined ? undefined : parseCount(opts.params, '--params'),
    frames: positiveInt(opts.frames, '--frames'),
  };
  const space = parseSpace(opts.space, dims);
  checkBudget(space, dims, budget);
  const seed = opts.seed === undefined ? cfg.SEED : nonNegativeInt(opts.seed, '--seed');
  const ga = method === 'evolution' ? gaOptions(opts, seed) : undefined;
  const predictor = opts.predictor !== undefined ? AccuracyPredictor.load(opts.predictor) : undefined;
  if (method === 'evolution' && !predictor) throw new UserError('--method evolution is model-predictive: it needs --predictor <state_dict dir>');
  const predicted = predictor ? predictorObjective(predictor, dims) : undefined;
  const measurer = measurerOf(cfg, opts, 6000);
  const supernet = loadSupernet(cfg, opts.weights);

  // Without a predictor the objective is the measured EER of each candidate's recalibrated clone.
  const measured = new Map<string, Measured>();
  const objective: Objective = predicted ?? (async (subnets) => {
    const out: number[] = [];
    for (const s of subnets) {
      const m = await measurer.measure(await cloneSubnet(cfg, supernet, s));
      measured.set(formatSubnet(s), m);
      out.push(m.eer);
    }
    return out;
  });
  const maxMeasure = predicted ? undefined : positiveInt(opts.maxMeasure, '--max-measure');
  let r: SearchResult;
  if (method === 'random') r = await randomSearch(space, dims, budget, objective, { samples: positiveInt(opts.samples, '--samples'), seed, maxMeasure });
  else if (method === 'grid') r = await gridSearch(space, dims, budget, objective, { maxMeasure });
  else r = await evolutionSearch(space, dims, budget, objective, ga!);
  const key = formatSubnet(r.best.subnet);
  const m = measured.get(key) && opts.export === undefined ? measured.get(key)! : await measureChosen(cfg, supernet, r.best.subnet, measurer, opts.export);
  const predictedEer = predicted ? (unit === 'percent' ? r.best.score / 100 : r.best.score) : null;
  const out = {
    method: r.method, subnet: key, macs: r.best.macs, params: r.best.params, macs_budget: budget.macs,
    ...(budget.params !== undefined ? { params_budget: budget.params } : {}), frames: budget.frames,
    predicted_eer: predictedEer, ...m, evaluated: r.evaluated, feasible: r.feasible,
    ...(opts.export !== undefined ? { export: opts.export } : {}),
  };
  return out;
}

export function registerSearch(tdnn: Command): void {
  addCommon(tdnn.command('evaluate'), '0')
    .description('verification EER and minDCF of a subnet on the trial list: full utterances, LogMelFbanks(80), eval-mode embeddings of its clone, cosine scores; --recalibrate N first recalibrates its BNs (momentum-0.1 EMA from the supernet slice, train mode, no gradient)')
    .option('--subnet <S>', 'the subnet D-c0-..-cD-k0-..-kD-cat (default: the largest, or the one a clone holds)')
    .action(async (overrides: string[], opts: EvalOpts) => {
      const r = await tdnnEvaluate(overrides, opts);
      const p = r as unknown as Record<string, number>;
      emit(r, opts.json, (o) => `${o.subnet}: EER ${rate(o.eer)} on ${o.trials} trials, ${Object.keys(p).filter((k) => k.startsWith('minDCF_')).map((k) => `minDCF(${k.slice(7)}) ${p[k].toFixed(4)}`).join(', ')}` +
        (o.recalibration.batches ? `; BN recalibrated on ${o.recalibration.batches} batches (${o.recalibration.utterances} utterances)` : '; BN statistics as loaded'));
    });

  addCommon(tdnn.command('search'), '6000')
    .description("MACs-constrained subnet search (grid, random, or the predictor-guided elitist GA over the 12 genes), then BN recalibration and the chosen subnet's measured EER")
    .requiredOption('--macs <budget>', 'MACs budget at (1, IN_FEATS, --frames), e.g. 204M, 1.45G, 571e6')
    .option('--params <budget>', 'also a parameter budget, e.g. 2M')
    .option('--frames <T>', 'input length the MACs are counted at (the paper: 300)', SEARCH_DEFAULTS.frames)
    .option('--method <m>', `search method: ${SEARCH_METHODS.join(', ')}`, SEARCH_DEFAULTS.method)
    .option('--space <json|name>', 'search space: a name (coarse, fine, a stage) or a JSON list of 12 lists', SEARCH_DEFAULTS.space)
    .option('--predictor <dir>', 'accuracy predictor state_dict directory (needed by evolution; random/grid measure EERs without one)')
    .option('--predictor-unit <u>', 'unit of the predictor output: percent (the shipped EER.48.Coarse) or fraction', SEARCH_DEFAULTS.predictorUnit)
    .option('--samples <n>', 'random: subnets drawn', SEARCH_DEFAULTS.samples)
    .option('--max-measure <n>', 'random/grid without a predictor: candidates measured (first feasible draws / largest grid points)', SEARCH_DEFAULTS.maxMeasure)
    .option('--population <n>', 'evolution: population size (ea_solve NIND)', SEARCH_DEFAULTS.population)
    .option('--generations <n>', 'evolution: ea_solve MAXGEN, populations counting the initial one (BG: MAXGEN - 1 rounds of offspring; RI: n rounds); the tutorial runs 200', SEARCH_DEFAULTS.generations)
    .option('--encoding <e>', "evolution: 'BG' (reference: geatpy's binary chromosome and SEGA) or 'RI' (the earlier integer-gene GA with a redraw mutation)", SEARCH_DEFAULTS.encoding)
    .option('--bg-code <c>', "evolution, BG: 'binary' (reference: crtfld's default codes 0) or 'gray'", SEARCH_DEFAULTS.bgCode)
    .option('--pm <p>', 'evolution: mutation probability, per bit for BG (ea_solve Pm), per gene for RI', SEARCH_DEFAULTS.pm)
    .option('--xovr <p>', `evolution: two-point crossover probability per pair (default ${GA_DEFAULTS.xovr} for BG, geatpy's SEGA; ${RI_XOVR} for RI)`)
    .option('--constraint <mode>', "evolution: 'mark' (reference: infeasible individuals all least fit) or 'violation' (ranked by how far over budget)", SEARCH_DEFAULTS.constraint)
    .option('--export <dir>', "write the chosen subnet's recalibrated clone as a standalone state_dict directory (forward/evaluate accept it)")
    .action(async (overrides: string[], opts: SearchOpts) => {
      const out = await tdnnSearch(overrides, opts);
      if (opts.json) process.stdout.write(jsonExact(out) + '\n');
      else
        emit(out, false, (o) => [
          `${o.method} search under ${o.macs_budget} MACs at ${o.frames} frames: ${o.subnet}`,
          `  ${o.macs} MACs, ${o.params} params, predicted EER ${o.predicted_eer === null ? 'n/a (no predictor)' : rate(o.predicted_eer)}`,
          `  measured EER ${rate(o.eer)} on ${o.trials} trials${o.recalibration.batches ? ` after BN recalibration on ${o.recalibration.batches} batches` : ''}`,
          `  ${o.evaluated} candidates scored, ${o.feasible} feasible seen${o.export ? `; exported to ${o.export}` : ''}`,
        ].join('\n'));
    });
}
