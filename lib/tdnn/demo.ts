// `npm run demo:tdnn` (`autospeech demo --system tdnn`): the whole EfficientTDNN workflow on the
// built-in demo data, sized for a 2-core CPU:
//   demo data -> waveform store -> a reduced-width supernet through the five progressive-shrinking
//   stages (exps/demo/tdnn_{largest,kernel,depth,width1,width2}.yaml, each from the previous one)
//   -> measured (subnet, EER) pairs of the trained supernet (BN-recalibrated clones on the trial
//   list) -> the MLP accuracy predictor trained on them -> the predictor-guided evolutionary search
//   under three MACs budgets -> each chosen subnet recalibrated and measured -> results.json.
// As the reference's shipped predictor (its targets track the Vox1-O EERs it is evaluated on), the
// predictor learns EERs measured on the same trial list the chosen subnets are then measured on:
// the measured EERs rank subnets of one supernet, they are not held-out figures. A held-out part of
// the pairs says how well the predictor ranks subnets it did not see (Kendall's tau).
import { appendFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { type Config, loadConfig } from '../config/index.ts';
import { defaultStoreDir, preprocess } from '../data/store.ts';
import { demoDataHash, ensureDemoData, stageTimer } from '../demo.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { Job } from '../job/job.ts';
import { PROJECT_ROOT, loadNative } from '../native.ts';
import { cpuFingerprint, packageVersions, storeHash } from '../run/fingerprint.ts';
import { subnetCost } from './macs.ts';
import { AccuracyPredictor, type EerPair } from './predictor.ts';
import { TDNNPath } from './sampler.ts';
import { PAPER_FRAMES, evolutionSearch, predictorObjective, supernetCoder } from './search.ts';
import { namedSpace, spaceBounds } from './space.ts';
import { type Subnet, formatSubnet, supernetDims } from './subnet.ts';
import { type Measured, Measurer, openEvalSet } from './subnet_eval.ts';
import { cloneSubnet, loadSupernet } from './subnet_model.ts';
import { runTdnnTraining } from './train.ts';

export const TDNN_DEMO_STAGES = ['largest', 'kernel', 'depth', 'width1', 'width2'] as const;

/** Where the three MACs budgets sit between the smallest and the largest subnet (log scale). */
export const BUDGET_FRACTIONS = [0.35, 0.6, 0.85];

export interface TdnnDemoOptions {
  dataDir: string;
  outDir: string;
  log: (s: string) => void;
  /** measured (subnet, EER) pairs the predictor learns from, the smallest and largest subnet included */
  pairs?: number;
  /** MACs budgets at 300 frames; default: BUDGET_FRACTIONS of the way from the smallest to the largest */
  budgets?: bigint[];
  /** GA generations per budget (the TDNN-NAS tutorial's 200) */
  generations?: number;
  /** BN recalibration utterances per measured subnet (batches of 32 crops of 2 s) */
  recalibrate?: number;
  /** the AutoSpeech demo's results.json, quoted next to the TDNN figures when it is of the same data */
  autospeechResults?: string;
  /** yacs-style KEY VALUE overrides applied to every stage's config (and to the search's) */
  overrides?: string[];
}

export interface TdnnDemoSubnet {
  subnet: string;
  macs_budget: number;
  macs: number;
  params: number;
  predicted_eer: number;
  eer: number;
  'minDCF_0.01': number;
  [k: string]: number | string;
}

export interface TdnnDemoResults {
  system: 'tdnn';
  seconds: number;
  data: string;
  trials: number;
  subnets: TdnnDemoSubnet[];
  /** the space's extremes, measured the same way (not searched) */
  bounds: { smallest: TdnnDemoSubnet; largest: TdnnDemoSubnet };
  predictor: { dir: string; pairs: number; train_pairs: number; heldout_pairs: number; heldout_kendall_tau: number; heldout_mae: number; epochs: number };
  /** the AutoSpeech demo on the same trials, when its results.json is there */
  autospeech: { eer: number; 'minDCF_0.01': number; results: string } | null;
  budget_order_ok: boolean;
  stages: Record<string, number>;
  runs: Record<string, string>;
  fingerprint: { data_sha256: string; store_sha256: string; supernet_params: number; threads: number; cpu: ReturnType<typeof cpuFingerprint>; packages: Record<string, string> };
}

/** Kendall's tau-a between two equally long lists (ties count as neither concordant nor discordant). */
export function kendallTau(a: readonly number[], b: readonly number[]): number {
  let s = 0, n = 0;
  for (let i = 0; i < a.length; i++)
    for (let j = i + 1; j < a.length; j++) {
      s += Math.sign(a[i] - a[j]) * Math.sign(b[i] - b[j]);
      n++;
    }
  return n ? s / n : NaN;
}

/** A budget as a round count: 3 significant digits. */
export function roundBudget(x: number): bigint {
  const e = 10 ** Math.max(0, Math.floor(Math.log10(x)) - 2);
  return BigInt(Math.round(x / e) * e);
}

export function defaultBudgets(smallest: bigint, largest: bigint): bigint[] {
  const s = Number(smallest), l = Number(largest);
  return BUDGET_FRACTIONS.map((f) => roundBudget(s * (l / s) ** f));
}

/** Distinct subnets for the predictor: the smallest and largest first, then the sampler's draws. */
export function pairSubnets(cfg: Config, count: number, seed: number): Subnet[] {
  const space = namedSpace(supernetDims(cfg), 'coarse');
  const { lower, upper } = spaceBounds(space);
  const out = new Map<string, Subnet>([[formatSubnet(lower), lower], [formatSubnet(upper), upper]]);
  const sampler = new TDNNPath(space, seed);
  for (let i = 0; out.size < count && i < 100 * count; i++) {
    const s = sampler.sample();
    out.set(formatSubnet(s), s);
  }
  return [...out.values()].slice(0, count);
}

function row(cfg: Config, subnet: Subnet, budget: bigint | null, predicted: number, m: Measured): TdnnDemoSubnet {
  const c = subnetCost(subnet, supernetDims(cfg), PAPER_FRAMES);
  const dcf = Object.fromEntries(Object.entries(m).filter(([k]) => k.startsWith('minDCF_'))) as Record<string, number>;
  return {
    subnet: formatSubnet(subnet), macs_budget: budget === null ? Number(c.macs) : Number(budget), macs: Number(c.macs), params: Number(c.params),
    predicted_eer: predicted, eer: m.eer, 'minDCF_0.01': dcf['minDCF_0.01'], ...dcf,
  };
}

function autospeechFigures(file: string, dataSha: string, log: (s: string) => void): TdnnDemoResults['autospeech'] {
  if (!existsSync(file)) return null;
  try {
    const r = JSON.parse(readFileSync(file, 'utf8')) as { eer?: number; 'minDCF_0.01'?: number; fingerprint?: { data_sha256?: string } };
    if (r.fingerprint?.data_sha256 !== dataSha) {
      log(`(${file} is of other data: not quoted)`);
      return null;
    }
    if (typeof r.eer !== 'number' || typeof r['minDCF_0.01'] !== 'number') return null;
    return { eer: r.eer, 'minDCF_0.01': r['minDCF_0.01'], results: file };
  } catch {
    log(`(${file} is not readable JSON: not quoted)`);
    return null;
  }
}

export async function runTdnnDemo(opts: TdnnDemoOptions): Promise<TdnnDemoResults> {
  const t0 = Date.now();
  const { stages, stage } = stageTimer(opts.log);
  const native = loadNative();
  const info = native.info();
  const data = opts.dataDir;
  await stage('demo data', () => ensureDemoData(data, opts.log));
  const store = defaultStoreDir(data, 'logmel');
  await stage('preprocess (waveforms)', async () => {
    const r = await preprocess(data, store, { frontend: 'logmel' });
    opts.log(`${r.index.utterances.length} utterances in ${r.shards} shards (${r.reusedShards} reused)`);
  });
  mkdirSync(opts.outDir, { recursive: true });
  const exps = join(PROJECT_ROOT, 'exps', 'demo');
  const cfgOf = (name: string) => loadConfig(join(exps, `${name}.yaml`), ['DATASET.DATA_DIR', data, 'OUTPUT_DIR', opts.outDir, ...(opts.overrides ?? [])]);
  // Every stage's config up front: a bad override fails before anything is trained.
  for (const s of TDNN_DEMO_STAGES) cfgOf(`tdnn_${s}`);
  const runs: Record<string, string> = {};
  for (const s of TDNN_DEMO_STAGES) {
    await stage(`train (${s})`, async () => {
      const cfg = cfgOf(`tdnn_${s}`);
      const job = new Job(cfg, { expName: `tdnn_${s}`, root: opts.outDir }, {
        libtorch: info.torchVersion, threads: native.getThreads(), seed: cfg.SEED, device: cfg.DEVICE, stage: cfg.TRAIN.STAGE,
      });
      const r = await runTdnnTraining(cfg, job);
      runs[s] = r.runDir;
      opts.log(`stage ${s}: ${r.steps} steps, last loss ${r.lastLoss?.toFixed(4) ?? '-'}, ${r.stepMs?.toFixed(0) ?? '-'} ms/step`);
    });
  }

  // The trained supernet, and the measurement every subnet gets (the same recalibration draws).
  const cfg = cfgOf('tdnn_width2');
  const dims = supernetDims(cfg);
  const supernet = loadSupernet(cfg, runs.width2);
  const set = openEvalSet(data, cfg.DATASET.TRIALS);
  const recal = opts.recalibrate ?? 320;
  const measurer = new Measurer(cfg, set, { utterances: recal, batch: Math.max(2, Math.min(32, recal)), samples: 32000, seed: cfg.SEED });
  const measure = async (s: Subnet) => measurer.measure(await cloneSubnet(cfg, supernet, s));

  const pairsFile = join(opts.outDir, 'pairs.jsonl');
  const measured = new Map<string, Measured>();
  const pairs = await stage('measure subnets', async () => {
    const subnets = pairSubnets(cfg, opts.pairs ?? 64, cfg.SEED);
    writeFileAtomic(pairsFile, '');
    const out: EerPair[] = [];
    for (const [i, s] of subnets.entries()) {
      const m = await measure(s);
      measured.set(formatSubnet(s), m);
      // Percent, the unit of the shipped predictor (and `tdnn predict --train`'s default).
      out.push({ subnet: s, eer: 100 * m.eer });
      appendFileSync(pairsFile, JSON.stringify({ subnet: formatSubnet(s), eer: 100 * m.eer, 'minDCF_0.01': m['minDCF_0.01'] }) + '\n');
      if ((i + 1) % 8 === 0 || i + 1 === subnets.length) opts.log(`${i + 1}/${subnets.length} subnets measured (last ${formatSubnet(s)}: EER ${(100 * m.eer).toFixed(2)} %)`);
    }
    return out;
  });

  const predictorDir = join(opts.outDir, 'predictor');
  const epochs = 100;
  const { predictor, fit } = await stage('predictor', async () => {
    // A fifth of the sampled pairs (never the two bounds) held out to say how well it ranks.
    const heldout = pairs.filter((_, i) => i >= 2 && i % 5 === 4);
    const train = pairs.filter((_, i) => !(i >= 2 && i % 5 === 4));
    // The one-hot code of this supernet's coarse space (its widths, not tdnn8m2g's; 48 dims).
    const coder = supernetCoder(dims);
    const p = AccuracyPredictor.create(coder.nfeat, { seed: cfg.SEED });
    const batchSize = Math.min(16, train.length);
    const r = await p.fit(train, { epochs, batchSize, seed: cfg.SEED }, coder);
    const pred = heldout.length ? Array.from(p.predict(heldout.map((x) => x.subnet), coder).eer) : [];
    const tau = kendallTau(pred, heldout.map((x) => x.eer));
    const mae = pred.reduce((a, v, i) => a + Math.abs(v - heldout[i].eer), 0) / Math.max(1, pred.length) / 100;
    p.save(predictorDir, { overwrite: true });
    opts.log(`predictor: ${train.length} pairs, ${epochs} epochs of ${r.batchesPerEpoch} batches, train loss ${r.epochLoss[0].toFixed(4)} -> ${r.epochLoss[r.epochLoss.length - 1].toFixed(4)}; ` +
      `held-out ${heldout.length} pairs: Kendall tau ${tau.toFixed(3)}, mean abs error ${(100 * mae).toFixed(2)} EER points`);
    return { predictor: p, fit: { train: train.length, heldout: heldout.length, tau, mae } };
  });

  const space = namedSpace(dims, 'coarse');
  const { lower, upper } = spaceBounds(space);
  const budgets = opts.budgets ?? defaultBudgets(subnetCost(lower, dims, PAPER_FRAMES).macs, subnetCost(upper, dims, PAPER_FRAMES).macs);
  const objective = predictorObjective(predictor, dims);
  const predictOne = async (s: Subnet) => (await objective([s]))[0] / 100;
  const subnets = await stage('search', async () => {
    const out: TdnnDemoSubnet[] = [];
    for (const b of budgets) {
      const r = await evolutionSearch(space, dims, { macs: b, frames: PAPER_FRAMES }, objective, { generations: opts.generations ?? 200, seed: cfg.SEED });
      const key = formatSubnet(r.best.subnet);
      const m = measured.get(key) ?? await measure(r.best.subnet);
      const x = row(cfg, r.best.subnet, b, r.best.score / 100, m);
      opts.log(`budget ${b} MACs: ${key}, ${x.macs} MACs, ${x.params} params, predicted EER ${(100 * x.predicted_eer).toFixed(2)} %, measured ${(100 * x.eer).toFixed(2)} %`);
      out.push(x);
    }
    return out;
  });
  const bounds = {
    smallest: row(cfg, lower, null, await predictOne(lower), measured.get(formatSubnet(lower)) ?? await measure(lower)),
    largest: row(cfg, upper, null, await predictOne(upper), measured.get(formatSubnet(upper)) ?? await measure(upper)),
  };
  const dataHash = demoDataHash(data);
  const order = [...subnets].sort((a, b) => a.macs_budget - b.macs_budget);
  const results: TdnnDemoResults = {
    system: 'tdnn',
    seconds: (Date.now() - t0) / 1000,
    data,
    trials: set.trials.length,
    subnets,
    bounds,
    predictor: { dir: predictorDir, pairs: pairs.length, train_pairs: fit.train, heldout_pairs: fit.heldout, heldout_kendall_tau: fit.tau, heldout_mae: fit.mae, epochs },
    autospeech: autospeechFigures(opts.autospeechResults ?? join(PROJECT_ROOT, 'runs', 'demo', 'results.json'), dataHash.sha256, opts.log),
    budget_order_ok: order.every((x, i) => i === 0 || x.eer <= order[i - 1].eer),
    stages,
    runs: { ...runs, pairs: pairsFile },
    fingerprint: {
      data_sha256: dataHash.sha256,
      store_sha256: storeHash(store),
      supernet_params: supernet.paramCounts().total,
      threads: native.getThreads(),
      cpu: cpuFingerprint(),
      packages: { ...packageVersions(['espeak-ng', 'espeak-ng-data', 'flite', 'festival', 'sox', 'libtorch1.13', 'libdnnl2', 'libblas3']), node: process.version },
    },
  };
  writeFileAtomic(join(opts.outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  return results;
}
