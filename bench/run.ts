// `npm run bench`: each workload runs through our addon and through a plain-PyTorch implementation
// of the same math (torch_reference.py, Debian's python3-torch = the same libtorch 1.13.1), as
// separate processes interleaved A/B/B/A after warm-up; medians, ratios and peak RSS go to
// bench/results.md together with the machine, threads and versions.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { BackgroundLoad, type MachineState, describeState, machineState } from './background_load.ts';

const here = dirname(fileURLToPath(import.meta.url));
const threads = Number(process.env.BENCH_THREADS ?? availableParallelism());
const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
const loadBefore = loadavg()[0];
// Which machine states every workload is measured in: idle, and under an induced load (one busy
// process beside both sides, bench/background_load.ts). BENCH_LOAD=idle|loaded|both (default both).
const loadModes = ({ idle: ['idle'], loaded: ['loaded'], both: ['idle', 'loaded'] } as const)[(process.env.BENCH_LOAD ?? 'both') as 'idle' | 'loaded' | 'both'];
if (!loadModes) throw new Error(`BENCH_LOAD=${process.env.BENCH_LOAD}: expected idle, loaded or both`);
type LoadMode = (typeof loadModes)[number];
// A loaded ratio may exceed the idle one by at most this factor (issue 16 item 4).
const LOADED_SLACK = 1.1;

// check: what the tdnn workloads compare between the sides (from each side's warm-up call).
interface Check {
  embedding?: number[]; loss?: number; grad_norms?: Record<string, number>;
  // tdnn_train_step, after the (warm-up) step: top-1/5 accuracy, the lr it used, per parameter the
  // norm of Adam's first moment ((1 - beta1) (grad + wd p) after one step), the norm of the update
  // (p after - p before) and 8 of its updated values.
  acc1?: number; acc5?: number; lr?: number;
  exp_avg_norms?: Record<string, number>; update_norms?: Record<string, number>; updated_samples?: Record<string, number[]>;
}
interface Sample { times_ms: number[]; cpu_ms?: number[]; peak_rss_kb: number; check?: Check }

/** One side's process. `engine` 'ours' also serves a reference side that is our own addon (the BWN rows' fp32 twin). */
function run(side: 'ours' | 'reference', workload: string, reps: number, env: Record<string, string> = {}): Sample {
  const cmd = side === 'ours' ? process.execPath : '/usr/bin/python3';
  const args = side === 'ours' ? ['--import=tsx', join(here, 'node_worker.ts'), workload, String(reps), String(threads)] : [join(here, 'torch_worker.py'), workload, String(reps), String(threads)];
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${side} ${workload} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

const median = (v: number[]) => { const s = [...v].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };

/**
 * ours: env of our side; refOurs: the reference side is our addon too, with this env (a comparison
 * of two of our models, e.g. BWN against its fp32 twin); perUnit: also report the time per item
 * (e.g. per 300-frame window).
 */
type Row = { name: string; workload: string; reps: number; target: string; ours?: Record<string, string>; refOurs?: Record<string, string>; perUnit?: [number, string] };
const plan: Row[] = ([
  { name: 'search step (C=16, 8 cells, batch 2, exact)', workload: 'search_step', reps: 2, target: '<= 0.15' },
  { name: 'search step, fast mode (TRAIN.FAST_SEARCH)', workload: 'search_step', reps: 2, target: '<= 0.10', ours: { BENCH_FAST: '1' } },
  { name: 'derived-network training step (C=32, 8 cells, batch 16)', workload: 'train_step', reps: 4, target: '<= 0.45' },
  { name: 'derived-network training step, ours with MODEL.CHANNELS_LAST (named option)', workload: 'train_step', reps: 4, target: '<= 0.8', ours: { BENCH_CHANNELS_LAST: '1' } },
  { name: 'verification evaluation (40 utterances x 3 windows, 300 trials, C=32)', workload: 'verify', reps: 1, target: '<= 0.04 (>= 25x)' },
  { name: 'verification evaluation, ours with MODEL.CHANNELS_LAST (named option)', workload: 'verify', reps: 1, target: '<= 0.04 (>= 25x)', ours: { BENCH_CHANNELS_LAST: '1' } },
  { name: 'evaluation forward (eval mode, no grad; 40 utterances x 3 windows of 300 frames, each utterance once, C=32)', workload: 'eval_forward', reps: 3, target: '<= 0.5', perUnit: [120, 'window'] },
  { name: 'evaluation forward, ours with MODEL.CHANNELS_LAST (named option)', workload: 'eval_forward', reps: 3, target: '<= 0.5', ours: { BENCH_CHANNELS_LAST: '1' }, perUnit: [120, 'window'] },
  // `autospeech embed`'s throughput (issue 14): wav files to embeddings, decoding and features included.
  { name: 'embed: 40 wav files of 6 s to embeddings (decode, |STFT|, 3 windows each, eval forward, mean; C=32)', workload: 'embed_files', reps: 2, target: '- (throughput)', perUnit: [40, 'utterance'] },
  { name: 'feature extraction (100 wavs of 5 s; reference: librosa-0.7.2-equivalent numpy)', workload: 'features', reps: 3, target: '<= 0.33 (>= 3x)' },
  // EfficientTDNN (full tdnn8m2g supernet, weights from bench/inputs.ts tdnnBenchValue on both sides).
  { name: 'tdnn_embed: subnet embedding extraction, largest 4-512-512-512-512-512-5-5-5-5-5-1536 (16 x 300 frames, eval)', workload: 'tdnn_embed', reps: 2, target: '<= 0.5' },
  { name: 'tdnn_embed: subnet embedding extraction, EfficientTDNN-Base 3-512-512-512-512-5-3-3-3-1536 (16 x 300 frames, eval)', workload: 'tdnn_embed_base', reps: 2, target: '<= 0.5' },
  // No native tdnn trainer step on main yet: forward + AAM loss + backward only, both sides (no Adam).
  { name: 'tdnn_fwd_bwd: supernet forward+backward, no optimiser step, kernel-stage path 4-512-512-512-512-512-1-1-1-3-5-1536 (32 x 200, AAM 5994)', workload: 'tdnn_fwd_bwd_kernel', reps: 2, target: '<= 0.7' },
  { name: 'tdnn_fwd_bwd: supernet forward+backward, no optimiser step, width2-stage path 3-384-384-256-512-5-5-5-3-384 (32 x 200, AAM 5994)', workload: 'tdnn_fwd_bwd_width2', reps: 2, target: '<= 0.7' },
  // One full training step of our TdnnTrainer (lib/tdnn/train.ts's step on a fixed path): forward,
  // AAM loss, backward, Adam (L2 2e-5 on every parameter and the AAM weight), CyclicLR at its peak.
  { name: 'tdnn_train_step: supernet training step (fwd + AAM + bwd + Adam wd 2e-5 + CyclicLR), width2-stage path 3-384-384-256-512-5-5-5-3-384 (32 x 200, AAM 5994)', workload: 'tdnn_train_step_width2', reps: 2, target: '<= 0.7' },
  { name: 'tdnn_train_step: supernet training step (fwd + AAM + bwd + Adam wd 2e-5 + CyclicLR), kernel-stage path 4-512-512-512-512-512-1-1-1-3-5-1536 (32 x 200, AAM 5994)', workload: 'tdnn_train_step_kernel', reps: 2, target: '<= 0.7' },
  // Binary-weight ResNet-34 (issue 13): ours BWN against ours fp32, the same network and latent
  // weights. The weights are binarised but activations stay fp32, so the convolutions are the same
  // fp32 GEMMs plus the binarisation: the gain is memory (the .bwn file), not speed.
  { name: 'bnn: ResNet-34 training step, BWN (blocks + shortcuts) vs our fp32 ResNet-34 (batch 8 x 300 frames, 1211 classes)', workload: 'resnet_train_step', reps: 2, target: '- (memory, not speed)', ours: { BENCH_BWN: '1' }, refOurs: {} },
  { name: 'bnn: ResNet-34 embedding extraction, BWN vs our fp32 ResNet-34 (eval, 8 utterances x 3 windows of 300 frames)', workload: 'resnet_embed', reps: 3, target: '- (memory, not speed)', ours: { BENCH_BWN: '1' }, refOurs: {}, perUnit: [24, 'window'] },
] as Row[]).filter((p) => !process.env.BENCH_ONLY || new RegExp(process.env.BENCH_ONLY).test(p.workload));
// The machine's peak (GEMM, 3x3 conv through libtorch), probed idle before the workloads and again after them.
const peakStart = py(['peak', '0', String(threads)]) as { gemm: number; conv3x3: number };
const medians: Record<string, { ours: number; ref: number }> = {};
const checks: string[] = [];

const rows: string[] = [];
const roundRows: string[] = [];
const missed: typeof plan = [];
const background = new BackgroundLoad();
process.on('exit', () => background.stop());
const fmtRatio = (x: number) => (x < 0.1 ? `${x.toFixed(3)} (${(1 / x).toFixed(1)}x)` : x.toFixed(2));
const spread = (v: number[]) => (v.length > 1 ? `${((100 * (Math.max(...v) - Math.min(...v))) / median(v)).toFixed(0)} %` : '-');
for (const p of plan) {
  const bound = Number(/<=\s*([\d.]+)/.exec(p.target)?.[1] ?? Infinity);
  const perMode: Partial<Record<LoadMode, { mo: number; mr: number }>> = {};
  let rssOurs = 0, rssRef = 0;
  const cpuOurs: number[] = [], cpuRef: number[] = [];
  let checkOurs: Check | undefined, checkRef: Check | undefined;
  for (const mode of loadModes) {
    if (mode === 'loaded') background.start();
    const state: MachineState = machineState();
    const ours: number[] = [], ref: number[] = [];
    const roundOurs: number[] = [], roundRef: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const order = r % 2 === 0 ? ['reference', 'ours'] : ['ours', 'reference'];
      for (const side of order as ('ours' | 'reference')[]) {
        const engine = side === 'ours' || p.refOurs ? 'ours' : 'reference';
        const s = run(engine, p.workload, p.reps, side === 'ours' ? p.ours : p.refOurs ?? {});
        (side === 'ours' ? ours : ref).push(...s.times_ms);
        (side === 'ours' ? roundOurs : roundRef).push(median(s.times_ms));
        if (mode === 'idle' || loadModes.length === 1) (side === 'ours' ? cpuOurs : cpuRef).push(...(s.cpu_ms ?? []));
        if (side === 'ours') checkOurs ??= s.check; else checkRef ??= s.check;
        if (side === 'ours') rssOurs = Math.max(rssOurs, s.peak_rss_kb); else rssRef = Math.max(rssRef, s.peak_rss_kb);
      }
      process.stderr.write(`${p.name} [${mode}]: round ${r + 1}/${rounds}\n`);
    }
    background.stop();
    const mo = median(ours), mr = median(ref);
    perMode[mode] = { mo, mr };
    const ratios = roundOurs.map((o, i) => o / roundRef[i]);
    roundRows.push(`| ${p.name} | ${mode} | ${describeState(state)} | ${roundOurs.map((v) => v.toFixed(0)).join(' / ')} | ${roundRef.map((v) => v.toFixed(0)).join(' / ')} | ${ratios.map((x) => x.toFixed(3)).join(' / ')} | ${spread(roundOurs)} / ${spread(roundRef)} |`);
  }
  if (checkOurs && checkRef) checks.push(`| ${p.name} | ${agreement(checkOurs, checkRef)} |`);
  const idle = perMode.idle ?? perMode.loaded!, loaded = perMode.loaded;
  medians[p.name] = { ours: idle.mo, ref: idle.mr };
  const ri = idle.mo / idle.mr, rl = loaded ? loaded.mo / loaded.mr : undefined;
  if (ri > bound || (rl !== undefined && rl > bound)) missed.push(p);
  const ms = (v: number) => (p.perUnit ? `${v.toFixed(0)} (${(v / p.perUnit[0]).toFixed(2)} per ${p.perUnit[1]}, ${((1000 * p.perUnit[0]) / v).toFixed(1)} ${p.perUnit[1]}s/s)` : v.toFixed(0));
  const robust = rl !== undefined && perMode.idle ? `${(rl / ri).toFixed(2)}${rl / ri > LOADED_SLACK ? ' (over 1.10)' : ''}` : '-';
  rows.push(`| ${p.name} | ${ms(idle.mo)} | ${ms(idle.mr)} | **${fmtRatio(ri)}** | ${loaded ? `${ms(loaded.mo)} / ${ms(loaded.mr)}` : '-'} | ${rl !== undefined ? `**${fmtRatio(rl)}**` : '-'} | ${robust} | ${p.target} | ${(rssOurs / 1024).toFixed(0)} / ${(rssRef / 1024).toFixed(0)} MB (${(rssOurs / rssRef).toFixed(2)}) | ${cpuOurs.length && cpuRef.length ? `${median(cpuOurs).toFixed(0)} / ${median(cpuRef).toFixed(0)} (${(median(cpuOurs) / median(cpuRef)).toFixed(2)})` : '-'} |`);
}

/** Per-key values on both sides: how many, the largest relative difference, keys on one side only. */
function relDiff(a: Record<string, number>, b: Record<string, number>, what: string): string {
  const ka = Object.keys(a), kb = new Set(Object.keys(b));
  const only = ka.filter((k) => !kb.has(k)).length + [...kb].filter((k) => !(k in a)).length;
  const rel = Math.max(0, ...ka.filter((k) => kb.has(k)).map((k) => Math.abs(a[k] - b[k]) / Math.max(Math.abs(b[k]), 1e-30)));
  return `${ka.length} ${what}, max relative diff ${rel.toExponential(2)}${only ? `, ${only} on one side only` : ''}`;
}

/** Both sides' outputs from the same weights and input: embedding, loss, gradients, the Adam update. */
function agreement(a: Check, b: Check): string {
  const parts: string[] = [];
  if (a.embedding && b.embedding) {
    if (a.embedding.length !== b.embedding.length) return `embedding sizes differ (${a.embedding.length} vs ${b.embedding.length})`;
    const embed = Math.max(...a.embedding.map((v, i) => Math.abs(v - b.embedding![i])));
    parts.push(`embedding max abs diff ${embed.toExponential(2)} (max abs ${Math.max(...b.embedding.map(Math.abs)).toFixed(2)})`);
  }
  if (a.loss !== undefined && b.loss !== undefined) parts.push(`loss ${a.loss.toFixed(6)} vs ${b.loss.toFixed(6)}`);
  if (a.acc1 !== undefined && b.acc1 !== undefined) parts.push(`top-1/top-5 ${a.acc1.toFixed(2)}/${a.acc5!.toFixed(2)} vs ${b.acc1.toFixed(2)}/${b.acc5!.toFixed(2)} %`);
  if (a.lr !== undefined && b.lr !== undefined) parts.push(`lr ${a.lr} vs ${b.lr}`);
  if (a.grad_norms && b.grad_norms) parts.push(relDiff(a.grad_norms, b.grad_norms, 'gradients, norms'));
  if (a.exp_avg_norms && b.exp_avg_norms) parts.push(relDiff(a.exp_avg_norms, b.exp_avg_norms, 'stepped parameters: Adam exp_avg norms'));
  if (a.update_norms && b.update_norms) parts.push(`update norms (p after - p before) ${relDiff(a.update_norms, b.update_norms, 'tensors').replace(/^\d+ tensors, /, '')}`);
  if (a.updated_samples && b.updated_samples) {
    let n = 0, diff = 0, missing = 0;
    for (const [k, va] of Object.entries(a.updated_samples)) {
      const vb = b.updated_samples[k];
      if (!vb || vb.length !== va.length) { missing++; continue; }
      va.forEach((v, i) => { diff = Math.max(diff, Math.abs(v - vb[i])); n++; });
    }
    missing += Object.keys(b.updated_samples).filter((k) => !(k in a.updated_samples!)).length;
    parts.push(`${n} updated parameter values (8 per tensor, ${Object.keys(a.updated_samples).length} tensors): max abs diff ${diff.toExponential(2)}${missing ? `, ${missing} tensors on one side only` : ''}`);
  }
  return parts.join('; ');
}

function py(args: string[]): any {
  const r = spawnSync('/usr/bin/python3', [join(here, 'torch_worker.py'), ...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
const peakEnd = py(['peak', '0', String(threads)]) as { gemm: number; conv3x3: number };
const peak = peakStart;
const flopRows = [['search step (C=16, 8 cells, batch 2, exact)', 'search_step'], ['derived-network training step (C=32, 8 cells, batch 16)', 'train_step'],
  ['derived-network training step, ours with MODEL.CHANNELS_LAST (named option)', 'train_step']].filter(([name]) => medians[name]).map(([name, w]) => {
  const f = py(['flops', w]).flops as number;
  const m = medians[name];
  const ours = f / (m.ours / 1000) / 1e9, ref = f / (m.ref / 1000) / 1e9;
  // The training step's second target: >= 60 % of the 3x3-conv peak (a miss gets a profile too).
  const share = 100 * ours / peak.conv3x3, target = w === 'train_step' ? '>= 60 %' : '-';
  const p = plan.find((q) => q.name === name)!;
  if (w === 'train_step' && share < 60 && !missed.includes(p)) missed.push(p);
  return `| ${name} | ${(f / 1e9).toFixed(1)} | ${ours.toFixed(1)} (${share.toFixed(1)} %) | ${target} | ${ref.toFixed(1)} (${(100 * ref / peak.conv3x3).toFixed(0)} %) |`;
});
// Where the time goes, for every workload that missed its target: one profiled step per side
// (libtorch's profiler on both), per phase and per operator (self time).
interface OpRow { name: string; calls: number; selfMs: number; totalMs: number }
interface Profile { ops: OpRow[]; phases: Record<string, number> }
function profile(side: 'ours' | 'reference', p: (typeof plan)[number]): Profile {
  const cmd = side === 'ours' ? process.execPath : '/usr/bin/python3';
  const args = side === 'ours' ? ['--import=tsx', join(here, 'node_worker.ts'), p.workload, '0', String(threads)] : [join(here, 'torch_worker.py'), p.workload, '0', String(threads)];
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { ...process.env, ...(side === 'ours' ? p.ours : {}) }, maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${side} ${p.workload} profile failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}
const profileSections: string[] = [];
for (const p of missed) {
  process.stderr.write(`profiling ${p.name}\n`);
  const a = profile('ours', p), b = profile('reference', p);
  const phaseNames = [...new Set([...Object.keys(a.phases), ...Object.keys(b.phases)])];
  const selfOf = (x: Profile) => new Map(x.ops.map((o) => [o.name, o]));
  const ma = selfOf(a), mb = selfOf(b);
  const names = [...new Set([...a.ops.slice(0, 10).map((o) => o.name), ...b.ops.slice(0, 10).map((o) => o.name)])]
    .sort((x, y) => (mb.get(y)?.selfMs ?? 0) + (ma.get(y)?.selfMs ?? 0) - (mb.get(x)?.selfMs ?? 0) - (ma.get(x)?.selfMs ?? 0));
  const sum = (x: Profile) => x.ops.reduce((t, o) => t + o.selfMs, 0);
  const cell = (o?: OpRow) => (o ? `${o.selfMs.toFixed(1)} (${o.calls})` : '-');
  profileSections.push(
    `### ${p.name}`, '',
    ...(phaseNames.length ? ['| phase | ours (ms) | reference (ms) |', '|---|---|---|',
      ...phaseNames.map((n) => `| ${n} | ${a.phases[n]?.toFixed(1) ?? '-'} | ${b.phases[n]?.toFixed(1) ?? '-'} |`), ''] : []),
    `Operators by self time in one profiled step (ms, calls); profiled totals ${sum(a).toFixed(0)} ms ours, ${sum(b).toFixed(0)} ms reference (the profiler adds overhead):`, '',
    '| operator | ours | reference |', '|---|---|---|',
    ...names.map((n) => `| ${n} | ${cell(ma.get(n))} | ${cell(mb.get(n))} |`), '');
}

const torchVersion = spawnSync('/usr/bin/python3', ['-c', 'import torch;print(torch.__version__)'], { encoding: 'utf8' }).stdout.trim();
const out = [
  '# Benchmarks: ours vs a plain-PyTorch implementation of the same math',
  '',
  `Command: \`npm run bench\` (BENCH_ROUNDS=${rounds}, ${threads} threads on both sides). Machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB; libtorch/torch ${torchVersion} (Debian) on both sides; node ${process.version}.`,
  `Generated ${new Date().toISOString()}. Each side runs in its own process, rounds alternate which goes first, one warm-up step is excluded; times are medians of all repetitions. 1-minute load average ${loadBefore.toFixed(1)} at the start, ${loadavg()[0].toFixed(1)} at the end (other processes share the cores; the interleaving spreads their load over both sides).`,
  '',
  `Ratios are ours / reference (lower is better), each from the medians of all repetitions. "Loaded": the same rounds with one busy-looping process beside both sides (\`bench/background_load.ts\`, one core's worth of CPU taken away); the loaded/idle column is the loaded ratio over the idle one, which should stay within ${LOADED_SLACK.toFixed(2)} (issue 16).`,
  '',
  '| workload | ours idle (ms) | reference idle (ms) | ratio idle | ours / reference loaded (ms) | ratio loaded | loaded / idle | target | peak RSS ours / ref | CPU time per step idle, ours / ref (ms, ratio) |',
  '|---|---|---|---|---|---|---|---|---|---|',
  ...rows,
  '',
  'Per round (each round = one process per side, its median; sides alternate which goes first), with the machine state when the rounds started:',
  '',
  '| workload | mode | at start | ours per round (ms) | reference per round (ms) | ratio per round | spread ours / ref ((max - min) / median) |',
  '|---|---|---|---|---|---|---|',
  ...roundRows,
  '',
  `Machine peak through libtorch (${threads} threads), probed in this run before the workloads / after them: GEMM 2048^3 ${peakStart.gemm.toFixed(0)} / ${peakEnd.gemm.toFixed(0)} GFLOP/s, 3x3 convolution (16x64x128x128, 64 filters) ${peakStart.conv3x3.toFixed(0)} / ${peakEnd.conv3x3.toFixed(0)} GFLOP/s (the GFLOP/s shares below use the first).`,
  '',
  '| workload | conv + linear GFLOP per step | ours GFLOP/s (% of 3x3-conv peak) | target | reference GFLOP/s (% of peak) |',
  '|---|---|---|---|---|',
  ...flopRows,
  '',
  ...(checks.length ? ['Same weights, same input, both sides (tdnn workloads; from each side\'s warm-up call):', '', '| workload | agreement |', '|---|---|', ...checks, ''] : []),
  ...(profileSections.length ? ['## Profiles of the workloads that miss their targets', '', ...profileSections] : []),
  'The reference side is `bench/torch_reference.py`, written for this repo from the reference description (no reference code), run by `/usr/bin/python3` on the same libtorch build. The verification workload of the reference side re-embeds both utterances of every trial, as the reference does; ours embeds each utterance once.',
  '',
];
// A BENCH_ONLY (workload regex) run writes beside results.md, so the full table is not lost.
writeFileSync(join(here, process.env.BENCH_ONLY ? 'results.partial.md' : 'results.md'), out.join('\n'));
process.stdout.write(out.join('\n'));
