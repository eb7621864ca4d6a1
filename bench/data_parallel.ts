// Data-parallel throughput: the same global batch as 1 process and as 2 processes, 1 thread each
// (`npm run bench:dp`; BENCH_DP_STEPS steps per run, default 8). Step times are the intervals
// between consecutive metrics.jsonl lines (the first two steps excluded as warm-up), median per run;
// the load average is recorded beside them, since other work on the machine shares its cores.
// Writes bench/results_data_parallel.md.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import { PRESETS, generateDemoData } from '../lib/data/demo.ts';
import { preprocess } from '../lib/data/store.ts';
import { PROJECT_ROOT } from '../lib/native.ts';

const steps = Number(process.env.BENCH_DP_STEPS ?? 8);
const BIN = join(PROJECT_ROOT, 'bin', 'autospeech');
const data = join(mkdtempSync(join(tmpdir(), 'bench-dp-')), 'data');
await generateDemoData(data, { ...PRESETS.tiny, seed: 3 });
await preprocess(data, join(data, 'store'));

const resnet = ['train-baseline', '--cfg', 'exps/baseline/resnet18_iden.yaml', 'MODEL.NUM_CLASSES', '8', 'VAL_FREQ', '1000'];
const workloads = [
  { name: 'ResNet-18 train-baseline (300 frames), MODEL.SYNC_BN True', args: [...resnet, 'MODEL.SYNC_BN', 'True'], global: 8 },
  { name: 'ResNet-18 train-baseline (300 frames), per-rank BN', args: [...resnet, 'MODEL.SYNC_BN', 'False'], global: 8 },
  { name: 'search supernet (C=4, 5 cells, 300 frames), MODEL.SYNC_BN True', args: ['search', '--cfg', 'exps/demo/search.yaml', 'MODEL.NUM_CLASSES', '8', 'VAL_FREQ', '1000', 'MODEL.SYNC_BN', 'True'], global: 8 },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

function stepMs(root: string): number[] {
  const dir = readdirSync(root)[0];
  const t = readFileSync(join(root, dir, 'Log', 'metrics.jsonl'), 'utf8').split('\n').filter((l) => l.includes('"train_loss"')).map((l) => Date.parse(JSON.parse(l).t));
  return t.slice(1).map((v, i) => v - t[i]).slice(1);
}

const rows: string[] = [];
for (const w of workloads) {
  const out: Record<number, { ms: number; load: string }> = {};
  for (const nproc of [1, 2]) {
    const root = mkdtempSync(join(tmpdir(), 'bench-dp-run-'));
    const load0 = loadavg()[0];
    const r = spawnSync(process.execPath, [BIN, ...w.args, 'DATASET.DATA_DIR', data, 'TRAIN.BATCH_SIZE', String(w.global / nproc),
      'TRAIN.END_EPOCH', '1', 'TRAIN.STEPS_PER_EPOCH', String(steps), 'THREADS', '1', 'OUTPUT_DIR', root, ...(nproc > 1 ? ['--nproc', String(nproc)] : [])], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${w.name} x${nproc}: ${r.stderr}`);
    out[nproc] = { ms: median(stepMs(root)), load: `${load0.toFixed(1)} -> ${loadavg()[0].toFixed(1)}` };
  }
  rows.push(`| ${w.name} | ${w.global} | ${out[1].ms.toFixed(0)} | ${out[2].ms.toFixed(0)} | ${(out[1].ms / out[2].ms).toFixed(2)}x | ${out[1].load} / ${out[2].load} |`);
}

const md = `# Data-parallel throughput: 1 process vs 2 (1 thread each)

Command: \`npm run bench:dp\` (${steps} steps per run, the first two excluded; median step time). Machine: ${cpus()[0].model}, ${cpus().length} cores.
Generated ${new Date().toISOString()}. Same global batch both ways (1 x B vs 2 x B/2), Gloo over loopback.

| workload | global batch | 1 process (ms/step) | 2 processes (ms/step) | speed-up | load average during the runs (1 / 2 processes) |
|---|---|---|---|---|---|
${rows.join('\n')}
`;
writeFileSync(join(PROJECT_ROOT, 'bench', 'results_data_parallel.md'), md);
process.stdout.write(md);
