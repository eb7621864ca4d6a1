// Data-parallel training (lib/dist, native/dist): N processes of batch B train what one process of
// batch N x B trains, step for step, on the tiny demo set: ResNet-18 `train-baseline` and the
// `search` supernet (weights and alphas) with MODEL.SYNC_BN True, 2 x 4 against 1 x 8. The two
// sides differ only in float rounding (gradients summed over ranks, SyncBatchNorm's backward
// arithmetic), which the reference's Adam lets through for near-zero gradients; so the weights are
// compared against how far training moved them (|a - b| / |a - w0| over all tensors), and the same
// measure for per-rank BatchNorm (MODEL.SYNC_BN False, plain DDP) shows what a real difference
// looks like. Workers started by hand with torchrun's variables equal `--nproc 2` bit for bit.
import test from 'ava';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { preprocess } from '../lib/data/store.ts';
import { freePort } from '../lib/dist/launcher.ts';
import type { JobMeta } from '../lib/job/job.ts';
import { loadCheckpoint } from '../lib/run/checkpoint.ts';
import { BIN, cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';
import { finalWeights, metricSteps, runDirOf } from './helpers/kill_resume.ts';
import { initialTensors, modelTensors, weightsDistance } from './helpers/weights_compare.ts';

function losses(runDir: string): number[] {
  return readFileSync(join(runDir, 'Log', 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"train_loss"'))
    .map((l) => (JSON.parse(l) as { train_loss: number }).train_loss);
}

function lastCkpt(root: string): string {
  return join(runDirOf(root), 'Model', 'last.ckpt');
}

function run(args: string[], env: NodeJS.ProcessEnv = {}): { status: number | null; stdout: string; stderr: string } {
  return cli(args, { env });
}

/** Two workers started by hand as torchrun would start them (`extra`: more of its variables). */
function byHand(args: string[], port?: number, extra: NodeJS.ProcessEnv = {}): Promise<{ code: number | null; stderr: string }[]> {
  return (port ? Promise.resolve(port) : freePort()).then((port) => Promise.all([0, 1].map((rank) => new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const p = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, RANK: String(rank), WORLD_SIZE: '2', LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), ...extra },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    p.stderr.on('data', (d) => (stderr += d));
    p.on('exit', (code) => resolve({ code, stderr }));
  }))));
}

const closeLosses = (t: any, a: number[], b: number[]) => {
  t.is(b.length, a.length);
  a.forEach((l, i) => t.true(Math.abs(l - b[i]) <= 1e-4 * Math.abs(l), `step ${i}: loss ${b[i]} vs ${l}`));
};

// 4 steps; a small learning rate keeps the first steps out of the chaotic regime where float
// rounding alone grows (lr 0.01 on a fresh ResNet-18 with batch 8: the loss jumps to 6).
const baseline = async () => {
  const data = await tinyDemoSet();
  return ['--cfg', 'exps/baseline/resnet18_iden.yaml', 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'TRAIN.END_EPOCH', '2',
    'TRAIN.STEPS_PER_EPOCH', '2', 'DATASET.PARTIAL_N_FRAMES', '100', 'VAL_FREQ', '100', 'THREADS', '1', 'TRAIN.LR', '0.0005', 'TRAIN.LR_MIN', '0.0001'];
};

let singleBaseline: string | undefined; // the 1 x 8 run, shared with the resume test

test.serial('train-baseline with MODEL.SYNC_BN: 2 processes of batch 4 = 1 process of batch 8; per-rank BN is not', async (t) => {
  const common = ['train-baseline', ...(await baseline())];
  const overrides = common.slice(3);
  const r1 = mkdtempSync(join(tmpdir(), 'dp-base1-')), r2 = mkdtempSync(join(tmpdir(), 'dp-base2-')), r3 = mkdtempSync(join(tmpdir(), 'dp-base3-'));
  const a = run([...common, 'TRAIN.BATCH_SIZE', '8', 'OUTPUT_DIR', r1]);
  t.is(a.status, 0, a.stderr);
  singleBaseline = r1;
  const b = run([...common, 'TRAIN.BATCH_SIZE', '4', 'MODEL.SYNC_BN', 'True', 'OUTPUT_DIR', r2, '--nproc', '2', '--json']);
  t.is(b.status, 0, b.stderr);
  t.regex(b.stderr, /data parallel: 2 processes \(gloo\), batch 4 per process = 8 per step, BatchNorm synchronised/);
  const buckets = /gradients all-reduced in (\d+) bucket\(s\), (\d+) of them launched during the backward/.exec(b.stderr);
  t.truthy(buckets, b.stderr);
  t.true(Number(buckets![1]) >= 2 && Number(buckets![2]) >= 1, `ResNet-18's 45 MB of gradients: ${buckets![0]}`);
  t.is(JSON.parse(b.stdout).runDir, runDirOf(r2), 'rank 0 alone prints the result');
  const c = run([...common, 'TRAIN.BATCH_SIZE', '4', 'OUTPUT_DIR', r3, '--nproc', '2']);
  t.is(c.status, 0, c.stderr);

  closeLosses(t, losses(runDirOf(r1)), losses(runDirOf(r2)));
  const w0 = initialTensors('exps/baseline/resnet18_iden.yaml', overrides);
  const single = modelTensors(lastCkpt(r1));
  const synced = weightsDistance(single, modelTensors(lastCkpt(r2)), w0);
  const perRank = weightsDistance(single, modelTensors(lastCkpt(r3)), w0);
  t.log(`|a - b| / |a - w0| after 4 steps: SyncBN ${synced.overall.toExponential(2)} (worst tensor ${synced.worst.toExponential(2)} ${synced.worstName}), per-rank BN ${perRank.overall.toExponential(2)}`);
  t.true(synced.overall < 1e-2, `SyncBN run differs by ${synced.overall}`);
  t.true(perRank.overall > 0.1, `per-rank BN should differ, got ${perRank.overall}`);

  // Rank 0 alone wrote the run directory; it records the world size and backend.
  const dir = runDirOf(r2);
  t.is(losses(dir).length, 4, 'one metrics line per step, not one per rank');
  const launch = JSON.parse(readFileSync(join(dir, 'launches.jsonl'), 'utf8').trim());
  t.like(launch, { worldSize: 2, backend: 'gloo', batchPerProcess: 4, globalBatch: 8, resumedFrom: null });
  t.like(JSON.parse(readFileSync(join(dir, 'versions.json'), 'utf8')).dist, { worldSize: 2, backend: 'gloo' });
  t.false(existsSync(join(dir, '.lock')), 'the lock is released');
});

test.serial('resume with another number of processes: a 1 x 8 run killed mid-way continues as 2 x 4', async (t) => {
  const common = ['train-baseline', ...(await baseline())];
  const root = mkdtempSync(join(tmpdir(), 'dp-resume-'));
  await new Promise<void>((resolve, reject) => {
    const p = spawn(process.execPath, [BIN, ...common, 'TRAIN.BATCH_SIZE', '8', 'TRAIN.CHECKPOINT_STEPS', '1', 'OUTPUT_DIR', root], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    p.stderr.on('data', (d) => (err += d));
    const timer = setInterval(() => {
      let n = 0;
      try { n = losses(runDirOf(root)).length; } catch { return; }
      if (n >= 3) { clearInterval(timer); p.kill('SIGKILL'); }
    }, 50);
    p.on('exit', (code, signal) => {
      clearInterval(timer);
      if (signal === 'SIGKILL') resolve();
      else reject(new Error(`ended before it was killed (${code}): ${err}`));
    });
  });
  const dir = runDirOf(root);
  // A different global batch is refused, the same one (4 x 2 = 8 x 1) is not.
  const refused = run([...common, 'TRAIN.BATCH_SIZE', '2', 'OUTPUT_DIR', root, '--resume', dir, '--nproc', '2']);
  t.is(refused.status, 2, refused.stderr);
  t.regex(refused.stderr, /TRAIN\.BATCH_SIZE: 8 -> 2/);
  const r = run([...common, 'TRAIN.BATCH_SIZE', '4', 'MODEL.SYNC_BN', 'True', 'OUTPUT_DIR', root, '--resume', dir, '--nproc', '2', '--resume-override']);
  t.is(r.status, 0, r.stderr);
  t.regex(r.stderr, /resumed .*last\.ckpt at epoch 1/);
  t.is(losses(dir).length, 4);
  const launches = readFileSync(join(dir, 'launches.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.like(launches[0], { worldSize: 1, globalBatch: 8 });
  t.like(launches[1], { worldSize: 2, globalBatch: 8 });
  t.regex(launches[1].resumedFrom, /last\.ckpt$/);
  const w0 = initialTensors('exps/baseline/resnet18_iden.yaml', common.slice(3));
  const d = weightsDistance(modelTensors(lastCkpt(singleBaseline!)), modelTensors(join(dir, 'Model', 'last.ckpt')), w0);
  t.log(`resumed as 2 x 4 vs uninterrupted 1 x 8: ${d.overall.toExponential(2)}`);
  t.true(d.overall < 1e-2, String(d.overall));
});

test.serial('search with MODEL.SYNC_BN: 2 x 4 = 1 x 8 (weights and alphas); workers started by hand = --nproc 2, bit for bit', async (t) => {
  const data = await tinyDemoSet();
  const overrides = ['DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'MODEL.INIT_CHANNELS', '4', 'MODEL.LAYERS', '3', 'TRAIN.END_EPOCH', '2',
    'TRAIN.STEPS_PER_EPOCH', '2', 'DATASET.PARTIAL_N_FRAMES', '100', 'VAL_FREQ', '1', 'EVAL.MAX_UTTERANCES', '4', 'THREADS', '1'];
  const common = ['search', '--cfg', 'exps/demo/search.yaml', ...overrides];
  const r1 = mkdtempSync(join(tmpdir(), 'dp-search1-')), r2 = mkdtempSync(join(tmpdir(), 'dp-search2-')), r3 = mkdtempSync(join(tmpdir(), 'dp-search3-'));
  const a = run([...common, 'TRAIN.BATCH_SIZE', '8', 'OUTPUT_DIR', r1]);
  t.is(a.status, 0, a.stderr);
  const b = run([...common, 'TRAIN.BATCH_SIZE', '4', 'MODEL.SYNC_BN', 'True', 'OUTPUT_DIR', r2, '--nproc', '2']);
  t.is(b.status, 0, b.stderr);
  const hand = await byHand([...common, 'TRAIN.BATCH_SIZE', '4', 'MODEL.SYNC_BN', 'True', 'OUTPUT_DIR', r3]);
  for (const h of hand) t.is(h.code, 0, h.stderr);
  t.is(hand[1].stderr.trim(), '', 'rank 1 logs nothing');

  closeLosses(t, losses(runDirOf(r1)), losses(runDirOf(r2)));
  const w0 = initialTensors('exps/demo/search.yaml', overrides);
  const single = modelTensors(lastCkpt(r1)), dp = modelTensors(lastCkpt(r2));
  const all = weightsDistance(single, dp, w0), alphas = weightsDistance(single, dp, w0, (n) => n.startsWith('alphas_'));
  t.log(`search after 4 steps: weights ${all.overall.toExponential(2)}, alphas ${alphas.overall.toExponential(2)} (|a - b| / |a - w0|)`);
  t.is(alphas.tensors, 2);
  t.true(all.overall < 1e-2, String(all.overall));
  t.true(alphas.overall < 1e-2, String(alphas.overall));
  // The test-split validation ran on every epoch and gave the same figures.
  const val = (dir: string) => readFileSync(join(dir, 'Log', 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"validation"')).map((l) => JSON.parse(l).validation.valid_top1);
  t.deepEqual(val(runDirOf(r2)), val(runDirOf(r1)));
  t.is(readFileSync(join(runDirOf(r2), 'genotype.txt'), 'utf8'), readFileSync(join(runDirOf(r1), 'genotype.txt'), 'utf8'));

  const byNproc = modelTensors(lastCkpt(r2)), byEnv = modelTensors(lastCkpt(r3));
  t.is(byEnv.size, byNproc.size);
  for (const [name, x] of byNproc) t.deepEqual(byEnv.get(name), x, name);

  // As under torchrun's elastic agent: the store is the agent's (here torch's own TCPStore, hosted
  // by python3-torch), every rank a client under the attempt's prefix.
  const port = await freePort();
  const host = spawn('/usr/bin/python3', ['-c', `import time\nfrom torch.distributed import TCPStore\ns = TCPStore('127.0.0.1', ${port}, None, True)\nprint('up', flush=True)\ntime.sleep(600)`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => host.stdout.once('data', () => resolve()));
  const r4 = mkdtempSync(join(tmpdir(), 'dp-search4-'));
  try {
    const agent = await byHand([...common, 'TRAIN.BATCH_SIZE', '4', 'MODEL.SYNC_BN', 'True', 'OUTPUT_DIR', r4], port, { TORCHELASTIC_USE_AGENT_STORE: 'True', TORCHELASTIC_RESTART_COUNT: '0' });
    for (const h of agent) t.is(h.code, 0, h.stderr);
  } finally {
    host.kill('SIGKILL');
  }
  const byAgent = modelTensors(lastCkpt(r4));
  for (const [name, x] of byNproc) t.deepEqual(byAgent.get(name), x, name);
});

test.serial('train (a derived network with drop path 0.2): 2 x 4 = 1 x 8, evaluation sharded over the ranks gives the same figures', async (t) => {
  const data = await tinyDemoSet();
  const G = "Genotype(normal=[('skip_connect', 1), ('sep_conv_3x3', 0), ('sep_conv_3x3', 1), ('dil_conv_5x5', 2), ('dil_conv_3x3', 2), ('sep_conv_3x3', 1), ('max_pool_3x3', 2), ('avg_pool_3x3', 0)], normal_concat=range(2, 6), reduce=[('sep_conv_5x5', 1), ('sep_conv_5x5', 0), ('sep_conv_3x3', 2), ('skip_connect', 0), ('sep_conv_5x5', 2), ('avg_pool_3x3', 3), ('sep_conv_3x3', 1), ('dil_conv_3x3', 0)], reduce_concat=range(2, 6))";
  const overrides = ['DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '3', 'TRAIN.END_EPOCH', '2', 'TRAIN.STEPS_PER_EPOCH', '2',
    'DATASET.PARTIAL_N_FRAMES', '100', 'VAL_FREQ', '1', 'THREADS', '1', 'MODEL.DROP_PATH_PROB', '0.2', 'TRAIN.LR', '0.001'];
  const common = ['train', '--cfg', 'exps/demo/scratch_iden.yaml', '--text_arch', G, ...overrides];
  const r1 = mkdtempSync(join(tmpdir(), 'dp-train1-')), r2 = mkdtempSync(join(tmpdir(), 'dp-train2-'));
  const a = run([...common, 'TRAIN.BATCH_SIZE', '8', 'OUTPUT_DIR', r1]);
  t.is(a.status, 0, a.stderr);
  const b = run([...common, 'TRAIN.BATCH_SIZE', '4', 'MODEL.SYNC_BN', 'True', 'OUTPUT_DIR', r2, '--nproc', '2']);
  t.is(b.status, 0, b.stderr);
  closeLosses(t, losses(runDirOf(r1)), losses(runDirOf(r2)));
  const d = weightsDistance(modelTensors(lastCkpt(r1)), modelTensors(lastCkpt(r2)), initialTensors('exps/demo/scratch_iden.yaml', overrides, G));
  t.log(`train after 4 steps: ${d.overall.toExponential(2)} (|a - b| / |a - w0|), largest element difference ${d.maxAbs.toExponential(2)}`);
  t.true(d.overall < 1e-2, String(d.overall));
  const val = (dir: string) => readFileSync(join(dir, 'Log', 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"validation"')).map((l) => JSON.parse(l).validation);
  t.is(val(runDirOf(r2)).length, 2);
  t.deepEqual(val(runDirOf(r2)).map((v) => v.valid_top1), val(runDirOf(r1)).map((v) => v.valid_top1));
});

test.serial('tdnn train with MODEL.SYNC_BN: 2 x 4 = 1 x 8 over sampled paths and 2 walks per batch (supernet and AAM head)', async (t) => {
  const data = await tinyDemoSet();
  if (!existsSync(join(data, 'store_logmel', 'index.json'))) await preprocess(data, join(data, 'store_logmel'), { frontend: 'logmel' });
  const overrides = ['TRAIN.STAGE', 'depth', 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'MODEL.CHANNELS', '32', 'MODEL.CAT_CHANNELS', '96',
    'MODEL.EMBED_DIM', '16', 'DATASET.TRAIN_SAMPLES', '8000', 'TRAIN.CYCLE_STEP', '5', 'TRAIN.STEPS_PER_EPOCH', '2', 'TRAIN.END_EPOCH', '2', 'THREADS', '1', 'TRAIN.DYNAMIC_WALKS', '2'];
  const common = ['tdnn', 'train', '--cfg', 'exps/demo/tdnn_largest.yaml', ...overrides];
  const r1 = mkdtempSync(join(tmpdir(), 'dp-tdnn1-')), r2 = mkdtempSync(join(tmpdir(), 'dp-tdnn2-')), r3 = mkdtempSync(join(tmpdir(), 'dp-tdnn3-'));
  for (const [root, extra] of [[r1, ['TRAIN.BATCH_SIZE', '8']], [r2, ['TRAIN.BATCH_SIZE', '4', 'MODEL.SYNC_BN', 'True', '--nproc', '2']], [r3, ['TRAIN.BATCH_SIZE', '4', '--nproc', '2']]] as const) {
    const r = run([...common, ...extra, 'OUTPUT_DIR', root]);
    t.is(r.status, 0, r.stderr);
  }
  closeLosses(t, losses(runDirOf(r1)), losses(runDirOf(r2)));
  const perRank = losses(runDirOf(r3))[0], single = losses(runDirOf(r1))[0];
  t.true(Math.abs(perRank - single) > 1e-3 * single, `per-rank BN gives another first loss (${perRank} vs ${single})`);
  const w0 = initialTensors('exps/demo/tdnn_largest.yaml', overrides);
  const d = weightsDistance(modelTensors(lastCkpt(r1)), modelTensors(lastCkpt(r2)), w0);
  t.log(`tdnn after 4 steps of 2 walks: ${d.overall.toExponential(2)} (|a - b| / |a - w0|)`);
  t.true(d.overall < 1e-2, String(d.overall));
  const head = (root: string) => loadCheckpoint(lastCkpt(root)).tensors.get('head/aam.W')!.data as Float32Array;
  const [h1, h2] = [head(r1), head(r2)];
  let dd = 0, nn = 0;
  h1.forEach((v, i) => { dd += (v - h2[i]) ** 2; nn += v * v; });
  t.true(Math.sqrt(dd / nn) < 1e-4, `AAM weight differs by ${Math.sqrt(dd / nn)}`);
});

test.serial('--nproc: the death of a worker ends the others promptly, naming the rank and how it ended; --resume auto continues it to the same weights', async (t) => {
  // 2 epochs of 4 steps, Model/last.ckpt every 2 steps (and at the epoch end): rank 1 is killed
  // after an odd step, one past a checkpoint.
  const perEpoch = 4, steps = 2 * perEpoch;
  const common = ['train-baseline', ...(await baseline()), 'TRAIN.BATCH_SIZE', '4', 'TRAIN.STEPS_PER_EPOCH', String(perEpoch), 'TRAIN.CHECKPOINT_STEPS', '2'];
  const root = mkdtempSync(join(tmpdir(), 'dp-kill-')), whole = mkdtempSync(join(tmpdir(), 'dp-whole-'));
  const job = [...common, 'OUTPUT_DIR', root, '--nproc', '2'];
  const p = spawn(process.execPath, [BIN, ...job], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  // Rank 1: the launcher's child whose environment says RANK=1, once training runs.
  const workerOfRank = (rank: number): number | null => {
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8');
        if (!new RegExp(`^PPid:\\s+${p.pid}$`, 'm').test(status)) continue;
        if (readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`RANK=${rank}`)) return Number(pid);
      } catch { /* gone */ }
    }
    return null;
  };
  const { killedAt, stepsAtKill } = await new Promise<{ killedAt: number; stepsAtKill: number }>((resolve) => {
    const timer = setInterval(() => {
      let dir: string;
      try { dir = runDirOf(root); } catch { return; }
      const n = metricSteps(dir), pid = workerOfRank(1);
      if (n % 2 === 1 && existsSync(join(dir, 'Model', 'last.ckpt')) && pid) { clearInterval(timer); process.kill(pid, 'SIGKILL'); resolve({ killedAt: Date.now(), stepsAtKill: n }); }
    }, 50);
  });
  const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  const took = (Date.now() - killedAt) / 1000;
  t.is(code, 1, stderr);
  t.regex(stderr, /rank 1 of 2 was killed by SIGKILL; stopping the other 1 worker\(s\)/);
  t.regex(stderr, /data-parallel job failed: rank 1 of 2 was killed by SIGKILL/);
  t.true(took < 15, `the job ended ${took} s after the kill`);
  t.is(workerOfRank(0), null, 'rank 0 is gone too');

  // The same command with --resume auto finds the run, continues from its last checkpoint and ends
  // where an uninterrupted run ends, bit for bit (model and optimizer state).
  const dir = runDirOf(root);
  const at = loadCheckpoint<JobMeta>(join(dir, 'Model', 'last.ckpt')).meta;
  t.log(`rank 1 killed after step ${stepsAtKill} of ${steps}; ${metricSteps(dir)} logged when the job ended, last.ckpt at step ${at.globalStep} (epoch ${at.epoch}, step ${at.stepInEpoch})`);
  t.true(stepsAtKill < steps && at.globalStep < steps && at.globalStep >= 2, `killed mid-run: ${stepsAtKill} steps, checkpoint at ${at.globalStep}`);
  const r = run([...job, '--resume', 'auto']);
  t.is(r.status, 0, r.stderr);
  const from = join(dir, 'Model', 'last.ckpt');
  t.true(r.stderr.includes(`resumed ${from} at epoch ${at.epoch}, step ${at.stepInEpoch}\n`), r.stderr);
  t.is(metricSteps(dir), steps, 'one metrics line per step, the re-run ones not doubled');
  const launches = readFileSync(join(dir, 'launches.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(launches.length, 2);
  t.like(launches[1], { worldSize: 2, globalBatch: 8, resumedFrom: from });
  const a = run([...common, 'OUTPUT_DIR', whole, '--nproc', '2']);
  t.is(a.status, 0, a.stderr);
  const wa = finalWeights(runDirOf(whole)), wb = finalWeights(dir);
  t.is(wb.size, wa.size);
  t.true(wa.has('model/layer1.0.conv1.weight') && [...wa.keys()].some((k) => k.startsWith('optim/')));
  // Buffer.equals, not t.deepEqual: ava's deep comparison of ResNet-18's 134 MB takes minutes.
  const differ = [...wa].filter(([name, bytes]) => { const o = wb.get(name); return !o || !Buffer.from(o.buffer, o.byteOffset, o.byteLength).equals(bytes); }).map(([name]) => name);
  t.deepEqual(differ, [], `tensors that differ from the uninterrupted run: ${differ.slice(0, 5).join(', ')}`);
  t.deepEqual(losses(dir), losses(runDirOf(whole)));
});

test.serial('--nproc: Ctrl-C (SIGINT) ends every worker and exits 130', async (t) => {
  const common = ['train-baseline', ...(await baseline())];
  const root = mkdtempSync(join(tmpdir(), 'dp-int-'));
  const p = spawn(process.execPath, [BIN, ...common, 'TRAIN.BATCH_SIZE', '4', 'TRAIN.END_EPOCH', '50', 'OUTPUT_DIR', root, '--nproc', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  p.stderr.on('data', (d) => (stderr += d));
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      try { if (losses(runDirOf(root)).length >= 1) { clearInterval(timer); resolve(); } } catch { /* not yet */ }
    }, 100);
  });
  const children = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try { return new RegExp(`^PPid:\\s+${p.pid}$`, 'm').test(readFileSync(`/proc/${pid}/status`, 'utf8')); } catch { return false; }
  });
  t.is(children.length, 2);
  p.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => p.on('exit', (c) => resolve(c)));
  t.is(code, 130, stderr);
  t.regex(stderr, /SIGINT: stopping 2 worker\(s\)/);
  for (const pid of children) t.false(existsSync(`/proc/${pid}/status`) && !/State:\s+Z/.test(readFileSync(`/proc/${pid}/status`, 'utf8')), `worker ${pid} is gone`);
});

test('torchrun environment errors are named before anything starts', async (t) => {
  const args = ['train-baseline', '--cfg', 'exps/baseline/resnet18_iden.yaml', 'DATASET.DATA_DIR', await tinyDemoSet(), 'MODEL.NUM_CLASSES', '8'];
  const noAddr = run(args, { WORLD_SIZE: '2', RANK: '0', MASTER_PORT: '29500', MASTER_ADDR: '' });
  t.is(noAddr.status, 2, noAddr.stderr);
  t.regex(noAddr.stderr, /WORLD_SIZE=2: MASTER_ADDR is not set/);
  const badRank = run(args, { WORLD_SIZE: '2', RANK: '2', MASTER_PORT: '29500', MASTER_ADDR: '127.0.0.1' });
  t.is(badRank.status, 2, badRank.stderr);
  t.regex(badRank.stderr, /environment variable RANK=2 is outside 0\.\.1/);
  const badN = run([...args, '--nproc', 'two']);
  t.is(badN.status, 2);
  t.regex(badN.stderr, /--nproc must be an integer in 1\.\.256, got 'two'/);
});
