// `npm run demo`: the whole AutoSpeech workflow on the built-in synthetic data, sized for a 2-core
// CPU: demo data -> feature store -> short search -> derived network trained for identification
// (all speakers) and for verification (dev speakers only) -> results table and results.json.
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

import { loadConfig } from './config/index.ts';
import { PRESETS, generateDemoData } from './data/demo.ts';
import { preprocess } from './data/store.ts';
import { writeFileAtomic } from './io/atomic.ts';
import { Job } from './job/job.ts';
import { loadNative } from './native.ts';
import { runSearch } from './search.ts';
import { runTraining } from './train.ts';
import { PROJECT_ROOT } from './native.ts';
import { type CpuFingerprint, checkpointWeightsHash, cpuFingerprint, packageVersions, sha256Text, storeHash, treeHash } from './run/fingerprint.ts';

export interface DemoResults {
  data: string;
  top1: number;
  top1_per_utterance: number;
  eer: number;
  'minDCF_0.01': number;
  'minDCF_0.05': number;
  params: number;
  genotype: string;
  seconds: number;
  stages: Record<string, number>;
  runs: Record<string, string>;
  /** what the figures depend on, stage by stage: compare two runs here to find where they part */
  fingerprint: {
    data_sha256: string;
    data_files: number;
    store_sha256: string;
    genotype_sha256: string;
    weights_sha256: { identification: string; verification: string };
    threads: number;
    cpu: CpuFingerprint;
    packages: Record<string, string>;
  };
}

/** The built-in demo data at `data`: generated (VoxLike-Synth-40, seed 1) unless already there. */
export async function ensureDemoData(data: string, log: (s: string) => void): Promise<void> {
  if (existsSync(join(data, 'README.txt')) && existsSync(join(data, 'veri_test.txt'))) {
    log(`using ${data} (${readFileSync(join(data, 'README.txt'), 'utf8').split('\n')[0].split(':')[0]})`);
    return;
  }
  const s = await generateDemoData(data, { ...PRESETS.default, seed: 1 });
  log(`${s.name}: ${s.utterances} utterances, ${(s.seconds / 60).toFixed(1)} min of audio, ${s.trials} trials`);
}

/** The data tree's hash without its feature stores (store/, store_logmel/, ...): what the demos are made of. */
export function demoDataHash(data: string): { sha256: string; files: number } {
  return treeHash(data, (rel) => /^store(_[^/]*)?(\/|$)/.test(rel));
}

/** A demo's stages: each announced in the log and timed (seconds, by name, in order). */
export function stageTimer(log: (s: string) => void) {
  const stages: Record<string, number> = {};
  const stage = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    const s = Date.now();
    log(`\n== ${name}`);
    const r = await fn();
    stages[name] = (Date.now() - s) / 1000;
    return r;
  };
  return { stages, stage };
}

export async function runDemo(opts: { dataDir: string; outDir: string; log: (s: string) => void }): Promise<DemoResults> {
  const t0 = Date.now();
  const { stages, stage } = stageTimer(opts.log);
  const native = loadNative();
  const info = native.info();
  const versions = { libtorch: info.torchVersion, cuda: info.cudaAvailable, threads: native.getThreads() };
  const exps = join(PROJECT_ROOT, 'exps', 'demo');
  const data = opts.dataDir;
  await stage('demo data', () => ensureDemoData(data, opts.log));
  await stage('preprocess', async () => {
    const r = await preprocess(data, join(data, 'store'));
    opts.log(`${r.index.utterances.length} utterances in ${r.shards} shards (${r.reusedShards} reused, ${r.workers} worker(s))`);
  });
  mkdirSync(opts.outDir, { recursive: true });
  const cfgOf = (name: string) => loadConfig(join(exps, `${name}.yaml`), ['DATASET.DATA_DIR', data, 'OUTPUT_DIR', opts.outDir]);
  const search = await stage('search', async () => {
    const cfg = cfgOf('search');
    return runSearch(cfg, new Job(cfg, { expName: 'search', root: opts.outDir }, versions));
  });
  const iden = await stage('train (identification)', async () => {
    const cfg = cfgOf('scratch_iden');
    return runTraining(cfg, new Job(cfg, { expName: 'scratch_iden', root: opts.outDir }, versions), search.genotype);
  });
  const veri = await stage('train (verification)', async () => {
    const cfg = cfgOf('scratch_veri');
    return runTraining(cfg, new Job(cfg, { expName: 'scratch_veri', root: opts.outDir }, versions), search.genotype);
  });
  const lastIden = iden.history[iden.history.length - 1] as Record<string, number>;
  const lastVeri = veri.history[veri.history.length - 1] as Record<string, number>;
  const results: DemoResults = {
    data,
    top1: lastIden.valid_top1,
    top1_per_utterance: lastIden.valid_top1_per_utterance,
    eer: lastVeri.valid_eer,
    'minDCF_0.01': lastVeri['minDCF_0.01'],
    'minDCF_0.05': lastVeri['minDCF_0.05'],
    params: iden.params,
    genotype: search.genotype,
    seconds: (Date.now() - t0) / 1000,
    stages,
    runs: { search: search.runDir, identification: iden.runDir, verification: veri.runDir },
    fingerprint: {
      ...(({ sha256, files }) => ({ data_sha256: sha256, data_files: files }))(demoDataHash(data)),
      store_sha256: storeHash(join(data, 'store')),
      genotype_sha256: sha256Text(search.genotype),
      weights_sha256: {
        identification: checkpointWeightsHash(join(iden.runDir, 'Model', 'last.ckpt')),
        verification: checkpointWeightsHash(join(veri.runDir, 'Model', 'last.ckpt')),
      },
      threads: native.getThreads(),
      cpu: cpuFingerprint(),
      packages: { ...packageVersions(['espeak-ng', 'espeak-ng-data', 'flite', 'festival', 'sox', 'libtorch1.13', 'libdnnl2', 'libblas3']), node: process.version },
    },
  };
  writeFileAtomic(join(opts.outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  return results;
}
