// `npm run demo:bnn` (`autospeech demo --system bnn`): the binary-weight ResNet-34 against its fp32
// twin on the built-in demo data, sized for a 2-core CPU (bnn.md §3.6, paired comparison):
//   demo data -> spectrogram store (as the AutoSpeech demo) -> the fp32 ResNet-34 trained for
//   verification on the dev speakers (exps/demo/resnet34_veri.yaml) -> the BWN initialised from its
//   last checkpoint (TRAIN.INIT_FROM, bnn.md §3.3 'fp32-checkpoint') and trained
//   (exps/demo/resnet34_bwn_veri.yaml) -> the deployable files (the BWN as the .bwn that
//   `export --format bwn` writes; the fp32 twin as a torch state_dict of the same content:
//   parameters + BN running mean/var, no classifier) -> both evaluated from those files on the same
//   trial list -> the table (model, params, file bytes, ratio to fp32, EER, minDCF) and the
//   model-info memory rows (lib/bnn/memory.ts), whose formula must give the files' tensor bytes.
// Optionally (--init-baseline) the BWN also from its own random initialisation, the §3.6 ablation row.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { type Config, loadConfig } from '../config/index.ts';
import { preprocess } from '../data/store.ts';
import { demoDataHash, ensureDemoData, stageTimer } from '../demo.ts';
import { UserError } from '../errors.ts';
import { evaluateVerification } from '../evaluate.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { saveTorchStateDict, type TorchTensor } from '../io/torch_save.ts';
import type { NpyDType } from '../io/npy.ts';
import { openStore } from '../job/data.ts';
import { Job } from '../job/job.ts';
import { buildModel } from '../models/build.ts';
import { isBwnModel, isResnetModel, modelSpecFromConfig } from '../models/spec.ts';
import { loadWeights, modelTensorsOf } from '../models/weights.ts';
import { type NativeModel, PROJECT_ROOT, loadNative } from '../native.ts';
import { loadCheckpoint } from '../run/checkpoint.ts';
import { type CpuFingerprint, checkpointWeightsHash, cpuFingerprint, packageVersions, storeHash } from '../run/fingerprint.ts';
import { runTraining } from '../train.ts';
import { initRecord, resolveInitFrom } from '../train/init_from.ts';
import { writeBwn } from './format.ts';
import { modelFromBwn } from './load.ts';
import { type MemoryReport, type ParamGroups, memoryReport, paramGroups } from './memory.ts';

/** The demo's two configs (exps/demo/<name>.yaml). */
export const BNN_DEMO_CONFIGS = { fp32: 'resnet34_veri', bwn: 'resnet34_bwn_veri' } as const;

/** The memory row the deployable files are checked against (lib/bnn/memory.ts). */
export const FILE_ROW = 'embedding extractor file (parameters + BN running mean/var)';

export interface BnnDemoOptions {
  dataDir: string;
  outDir: string;
  log: (s: string) => void;
  /** also train the BWN from its own random initialisation (bnn.md §3.6 'BWN init baseline') */
  initBaseline?: boolean;
  /** yacs-style KEY VALUE overrides applied to both configs */
  overrides?: string[];
}

export interface BnnDemoModel {
  model: 'fp32' | 'bwn' | 'bwn_init_baseline';
  /** how its weights started: the fp32 run's checkpoint or the network's own draws */
  init: 'baseline' | 'fp32-checkpoint';
  /** every parameter incl. the classifier (the BWN's latent weights count as the fp32 twin's) */
  params: number;
  groups: ParamGroups;
  /** the deployable embedding extractor: the .bwn, or the fp32 twin's .pth of the same content */
  file: string;
  file_bytes: number;
  /** bytes of tensor data in the file (the rest is the header / zip records and alignment) */
  tensor_bytes: number;
  /** the memory formula's bytes for this file's content (FILE_ROW): equal to tensor_bytes */
  formula_bytes: number;
  /** fp32 file bytes / this file's bytes */
  ratio: number;
  eer: number;
  'minDCF_0.01': number;
  'minDCF_0.05': number;
  /**
   * the EER of the training run's last validation and its epoch: baselines validate at epochs
   * e % VAL_FREQ == 0 only (the reference's train_baseline), so it need not be the last checkpoint's
   */
  training_eer: number | null;
  training_eer_epoch: number | null;
  trials: number;
  [k: string]: unknown;
}

export interface BnnDemoResults {
  system: 'bnn';
  seconds: number;
  data: string;
  trials: number;
  rows: BnnDemoModel[];
  /** model-info's memory table of the BWN (bytes; file headers and padding not included) */
  memory: MemoryReport;
  stages: Record<string, number>;
  runs: Record<string, string>;
  fingerprint: {
    data_sha256: string; data_files: number; store_sha256: string;
    weights_sha256: Record<string, string>; files_sha256: Record<string, string>;
    threads: number; cpu: CpuFingerprint; packages: Record<string, string>;
  };
}

const sha256File = (f: string) => createHash('sha256').update(readFileSync(f)).digest('hex');
const isDeployed = (name: string) => !name.endsWith('num_batches_tracked') && !name.startsWith('classifier.');

/**
 * The fp32 twin's deployable embedding extractor as a torch state_dict (.pth) file: the tensors a
 * .bwn holds (parameters and BN running mean/var, no classifier, no num_batches_tracked), in fp32.
 */
export function writeFp32Extractor(path: string, model: NativeModel): { file: string; bytes: number; tensorBytes: number; tensors: number } {
  const entries: [string, TorchTensor][] = [];
  let tensorBytes = 0;
  for (const e of model.stateDict()) {
    if (!isDeployed(e.name)) continue;
    if (e.dtype !== 'float32') throw new Error(`fp32 extractor: tensor '${e.name}' is ${e.dtype}`);
    const t = model.getTensor(e.name);
    tensorBytes += t.data.byteLength;
    entries.push([e.name, { data: t.data, shape: t.shape, dtype: t.dtype as NpyDType }]);
  }
  saveTorchStateDict(path, entries);
  return { file: path, bytes: statSync(path).size, tensorBytes, tensors: entries.length };
}

export async function runBnnDemo(opts: BnnDemoOptions): Promise<BnnDemoResults> {
  const t0 = Date.now();
  const { stages, stage } = stageTimer(opts.log);
  const overrides = opts.overrides ?? [];
  for (let i = 0; i < overrides.length; i += 2)
    if (overrides[i] === 'TRAIN.INIT_FROM') throw new UserError('TRAIN.INIT_FROM: the bnn demo sets it (the BWN starts from the fp32 run it has just trained; --init-baseline adds the BWN from its own initialisation)', 2);
  const exps = join(PROJECT_ROOT, 'exps', 'demo');
  const data = opts.dataDir;
  const cfgOf = (name: string, extra: string[] = []) =>
    loadConfig(join(exps, `${name}.yaml`), ['DATASET.DATA_DIR', data, 'OUTPUT_DIR', opts.outDir, ...overrides, ...extra]);
  // Both configs up front: a bad override fails before anything is generated or trained.
  const fp32Cfg = cfgOf(BNN_DEMO_CONFIGS.fp32), bwnCfg0 = cfgOf(BNN_DEMO_CONFIGS.bwn);
  if (!isResnetModel(fp32Cfg) || isBwnModel(fp32Cfg)) throw new UserError(`MODEL.NAME '${fp32Cfg.MODEL.NAME}': the bnn demo's fp32 model must be resnet18 or resnet34`, 2);
  if (!isBwnModel(bwnCfg0)) throw new UserError(`MODEL.NAME '${bwnCfg0.MODEL.NAME}': the bnn demo's binary-weight model must be resnet18_bwn or resnet34_bwn`, 2);

  const native = loadNative();
  const info = native.info();
  await stage('demo data', () => ensureDemoData(data, opts.log));
  const storeDir = join(data, 'store');
  await stage('preprocess', async () => {
    const r = await preprocess(data, storeDir);
    opts.log(`${r.index.utterances.length} utterances in ${r.shards} shards (${r.reusedShards} reused, ${r.workers} worker(s))`);
  });
  mkdirSync(opts.outDir, { recursive: true });

  const train = async (cfg: Config, expName: string) => {
    const init = resolveInitFrom(cfg, opts.outDir, 'train-baseline');
    const job = new Job(cfg, { expName, root: opts.outDir }, {
      libtorch: info.torchVersion, cuda: info.cudaAvailable, threads: native.getThreads(), seed: cfg.SEED, device: cfg.DEVICE, ...initRecord(init),
    });
    const r = await runTraining(cfg, job);
    const last = [...r.history].reverse().find((h) => typeof (h as Record<string, unknown>).valid_eer === 'number') as Record<string, number> | undefined;
    opts.log(`${expName}: ${r.params} parameters, last validation EER ${last ? `${(100 * last.valid_eer).toFixed(2)} % (epoch ${last.epoch})` : '-'} (${r.runDir})`);
    return { runDir: r.runDir, ckpt: join(r.runDir, 'Model', 'last.ckpt'), trainingEer: last?.valid_eer ?? null, trainingEerEpoch: last?.epoch ?? null };
  };
  const fp32Run = await stage('train (fp32)', () => train(fp32Cfg, BNN_DEMO_CONFIGS.fp32));
  // The BWN starts from the fp32 run just trained: its last checkpoint, loaded strictly.
  const bwnCfg = cfgOf(BNN_DEMO_CONFIGS.bwn, ['TRAIN.INIT_FROM', fp32Run.ckpt]);
  const bwnRun = await stage('train (bwn)', () => train(bwnCfg, BNN_DEMO_CONFIGS.bwn));
  const baseRun = opts.initBaseline ? await stage('train (bwn, init baseline)', () => train(bwnCfg0, `${BNN_DEMO_CONFIGS.bwn}_init_baseline`)) : null;

  const filesDir = join(opts.outDir, 'files');
  mkdirSync(filesDir, { recursive: true });
  const loaded = (cfg: Config, ckpt: string) => {
    const { model } = buildModel(cfg);
    loadWeights(model, modelTensorsOf(loadCheckpoint(ckpt).tensors), ckpt);
    return model;
  };
  type Exported = { key: BnnDemoModel['model']; cfg: Config; run: typeof fp32Run; file: string; bytes: number; tensorBytes: number; model: NativeModel; init: BnnDemoModel['init'] };
  let memory: MemoryReport | null = null;
  const exported = await stage('export', () => {
    const out: Exported[] = [];
    const fp32Model = loaded(fp32Cfg, fp32Run.ckpt);
    const f = writeFp32Extractor(join(filesDir, 'fp32_extractor.pth'), fp32Model);
    opts.log(`fp32: ${f.file}, ${f.bytes} bytes (${f.tensorBytes} of tensors, ${f.tensors} tensors)`);
    out.push({ key: 'fp32', cfg: fp32Cfg, run: fp32Run, file: f.file, bytes: f.bytes, tensorBytes: f.tensorBytes, model: fp32Model, init: 'baseline' });
    for (const [key, cfg, run] of [['bwn', bwnCfg, bwnRun], ...(baseRun ? [['bwn_init_baseline', bwnCfg0, baseRun]] : [])] as [BnnDemoModel['model'], Config, typeof fp32Run][]) {
      const model = loaded(cfg, run.ckpt);
      memory ??= memoryReport(model.stateDict(), model.binaryLayers());
      const ck = loadCheckpoint<{ epoch?: number; globalStep?: number; kind?: string }>(run.ckpt).meta;
      const w = writeBwn(join(filesDir, `${key}.bwn`), model, modelSpecFromConfig(cfg), {
        run: { id: run.runDir.split('/').pop(), checkpoint: 'last.ckpt', kind: ck.kind, epoch: ck.epoch, globalStep: ck.globalStep }, arch: cfg.MODEL.NAME,
      });
      opts.log(`${key}: ${w.file}, ${w.bytes} bytes (header ${w.headerBytes}, tensors ${w.dataBytes}, alignment ${w.paddingBytes})`);
      out.push({ key, cfg, run, file: w.file, bytes: w.bytes, tensorBytes: w.dataBytes, model, init: key === 'bwn' ? 'fp32-checkpoint' : 'baseline' });
    }
    return out;
  });
  const mem = memory!;
  const fileRow = mem.rows.find((r) => r.what === FILE_ROW)!;

  const evaluated = await stage('evaluate', async () => {
    const store = openStore(fp32Cfg);
    const norm = store.meanStd(fp32Cfg.DATASET.MEAN_STD);
    const rows: BnnDemoModel[] = [];
    const fp32Bytes = exported[0].bytes;
    for (const x of exported) {
      // Evaluated from the deployable file: the .bwn through its loader, the fp32 .pth's content
      // being the checkpoint's (the same tensors), evaluated from the checkpoint's model.
      const model = x.key === 'fp32' ? x.model : modelFromBwn(x.cfg, x.file).model;
      model.setDropPathProb(0);
      const trainer = new native.Trainer(model);
      const r = await evaluateVerification(trainer, store, x.cfg, norm, join(filesDir, `${x.key}_scores.txt`));
      const formula = x.key === 'fp32' ? fileRow.fp32Bytes : fileRow.bwnBytes;
      // The formula counts the BWN's state_dict; the twins have the same keys, so it must give both files' tensors.
      if (x.tensorBytes !== formula) throw new Error(`${x.file}: ${x.tensorBytes} bytes of tensors, the memory formula gives ${formula}`);
      const row: BnnDemoModel = {
        model: x.key, init: x.init, params: x.model.paramCounts().total, groups: paramGroups(x.model.stateDict()),
        file: x.file, file_bytes: x.bytes, tensor_bytes: x.tensorBytes, formula_bytes: formula, ratio: fp32Bytes / x.bytes,
        eer: r.eer, 'minDCF_0.01': r.minDcf['minDCF_0.01'], 'minDCF_0.05': r.minDcf['minDCF_0.05'], ...r.minDcf,
        training_eer: x.run.trainingEer, training_eer_epoch: x.run.trainingEerEpoch, trials: r.trials,
      };
      opts.log(`${x.key}: EER ${(100 * r.eer).toFixed(2)} % on ${r.trials} trials (the training run's last validation: ${x.run.trainingEer === null ? '-' : `${(100 * x.run.trainingEer).toFixed(2)} % at epoch ${x.run.trainingEerEpoch}`}), ${Object.entries(r.minDcf).map(([k, v]) => `${k} ${v.toFixed(4)}`).join(' ')}`);
      rows.push(row);
    }
    store.close();
    return rows;
  });

  const dataHash = demoDataHash(data);
  const runs: Record<string, string> = { fp32: fp32Run.runDir, bwn: bwnRun.runDir, ...(baseRun ? { bwn_init_baseline: baseRun.runDir } : {}) };
  const results: BnnDemoResults = {
    system: 'bnn',
    seconds: (Date.now() - t0) / 1000,
    data,
    trials: evaluated[0].trials,
    rows: evaluated,
    memory: mem,
    stages,
    runs: { ...runs, files: filesDir },
    fingerprint: {
      data_sha256: dataHash.sha256,
      data_files: dataHash.files,
      store_sha256: storeHash(storeDir),
      weights_sha256: Object.fromEntries(exported.map((x) => [x.key, checkpointWeightsHash(x.run.ckpt)])),
      files_sha256: Object.fromEntries(exported.map((x) => [x.key, sha256File(x.file)])),
      threads: native.getThreads(),
      cpu: cpuFingerprint(),
      packages: { ...packageVersions(['espeak-ng', 'espeak-ng-data', 'flite', 'festival', 'sox', 'libtorch1.13', 'libdnnl2', 'libblas3']), node: process.version },
    },
  };
  writeFileAtomic(join(opts.outDir, 'results.json'), JSON.stringify(results, null, 2) + '\n');
  return results;
}
