// Our side of `npm run bench`: the same workloads as torch_worker.py through the addon.
// Prints {"times_ms": [...], "peak_rss_kb": N} on stdout. Usage: node_worker.ts WORKLOAD REPS THREADS
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { DEFAULTS } from '../lib/config/schema.ts';
import { encodeWav16 } from '../lib/data/wav.ts';
import { parseGenotype } from '../lib/genotype/index.ts';
import { AutoSpeechEmbedder } from '../lib/infer/autospeech_embedder.ts';
import { embedFiles } from '../lib/infer/embed_files.ts';
import { cosine } from '../lib/metrics/eer.ts';
import { type NativeTrainer, type TdnnForwardResult, loadNative } from '../lib/native.ts';
import { type CyclicMode, cyclicLr } from '../lib/train/schedule.ts';
import { hashFloats, tdnnBenchValue } from './inputs.ts';

const README = "Genotype(normal=[('dil_conv_5x5', 1), ('dil_conv_3x3', 0), ('dil_conv_5x5', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2), ('dil_conv_3x3', 2), ('max_pool_3x3', 1)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 1), ('max_pool_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 1), ('dil_conv_5x5', 3), ('dil_conv_3x3', 2), ('dil_conv_5x5', 4), ('dil_conv_5x5', 2)], reduce_concat=range(2, 6))";

interface Cfg { kind: string; C: number; layers: number; classes: number; batch: number; frames: number; utterances: number; windows: number; trials: number }
/** tdnn workloads: the supernet's dims, the fixed subnet (depth, channels, kernels, cat), AAM settings. */
interface TdnnCfg {
  kind: string; supernet: { in_feats: number; embed: number; blocks: number; channels: number; kernel: number; cat: number }; subnet: [number, number[], number[], number]; batch: number; frames: number; classes?: number; margin?: number; scale?: number;
  /** tdnn_train_step: torch.optim.Adam's settings and the per-batch CyclicLR, resumed at global step `start` */
  adam?: { beta1: number; beta2: number; eps: number; weight_decay: number };
  cyclic?: { base_lr: number; max_lr: number; step_size_up: number; mode: CyclicMode; start: number };
}
const CONFIGS: Record<string, Cfg> = JSON.parse(readFileSync(new URL('./workloads.json', import.meta.url), 'utf8'));

/** The k element indices whose updated values both sides report (torch_worker.py _idx). */
const sampleIdx = (n: number, k = 8) => [...new Set(Array.from({ length: n ? k : 0 }, (_, j) => Math.min(n - 1, Math.floor(((2 * j + 1) * n) / (2 * k)))))].sort((a, b) => a - b);
const norm = (v: ArrayLike<number>, w?: ArrayLike<number>) => { let s = 0; for (let i = 0; i < v.length; i++) { const d = v[i] - (w ? w[i] : 0); s += d * d; } return Math.sqrt(s); };

function batch(b: number, frames: number, classes: number, seed: number) {
  return { x: hashFloats(b * frames * 257, seed), y: Int32Array.from({ length: b }, (_, i) => (i * 7) % classes), shape: [b, frames, 257] as [number, number, number] };
}

/** Embeds `utterances` utterances of `windows` windows each once (eval mode, no grad), as `evaluate` does. */
function embedOnce(trainer: NativeTrainer, utterances: number, windows: number, frames: number) {
  const per = windows * frames * 257;
  const all = new Float32Array(utterances * per);
  for (let u = 0; u < utterances; u++) all.set(hashFloats(per, 100 + u), u * per);
  const counts = new Int32Array(utterances).fill(windows);
  return () => trainer.embedUtterances(all, [utterances * windows, frames, 257], counts, DEFAULTS.EVAL.MAX_BATCH);
}

/** 16-bit PCM both sides write identically (torch_worker.py _bench_pcm): hash floats at 1 % of full scale. */
function benchPcm(n: number, seed: number): Int16Array {
  return Int16Array.from(hashFloats(n, seed), (x) => Math.floor(x * 327.67 + 0.5));
}

async function main() {
  const [name, repsText, threadsText] = process.argv.slice(2);
  process.env.AUTOSPEECH_THREADS = threadsText;
  const native = loadNative();
  const cfg = CONFIGS[name];
  if (!cfg) throw new Error(`unknown workload '${name}' (bench/workloads.json has: ${Object.keys(CONFIGS).join(', ')})`);
  native.manualSeed(0);
  let fn: () => Promise<unknown>;
  // What the run compares between the two sides (tdnn workloads): from the warm-up call.
  let check: ((r: unknown) => unknown) | undefined;
  // MODEL.CHANNELS_LAST (named option); the bench runs the reference side as it is (NCHW).
  const channelsLast = process.env.BENCH_CHANNELS_LAST === '1';
  /** The derived network (README genotype) for the eval workloads, NHWC with BENCH_CHANNELS_LAST. */
  const derivedNetwork = () => {
    const model = new native.Model({ kind: 'network', C: cfg.C, layers: cfg.layers, numClasses: cfg.classes, genotype: parseGenotype(README) });
    if (channelsLast) model.setChannelsLast(true);
    return model;
  };
  const derivedNetworkTrainer = () => new native.Trainer(derivedNetwork());
  if (cfg.kind === 'tdnn_embed' || cfg.kind === 'tdnn_fwd_bwd' || cfg.kind === 'tdnn_train_step') {
    const t = cfg as unknown as TdnnCfg, d = t.supernet;
    const model = new native.Model({ kind: 'tdnn', inFeats: d.in_feats, embedDim: d.embed, numBlocks: d.blocks, channels: Array(d.blocks + 1).fill(d.channels), kernels: Array(d.blocks + 1).fill(d.kernel), catChannels: d.cat });
    for (const e of model.stateDict()) {
      const v = tdnnBenchValue(e.name, e.shape);
      if (v) model.setTensor(e.name, v, e.shape);
    }
    const [depth, channels, kernels, cat] = t.subnet;
    const subnet = { depth, channels, kernels, cat };
    const shape: [number, number, number] = [t.batch, d.in_feats, t.frames];
    const x = hashFloats(t.batch * d.in_feats * t.frames, 1);
    if (cfg.kind === 'tdnn_train_step') {
      // One step of our trainer (native TdnnTrainer, as lib/tdnn/train.ts drives it) on the fixed
      // path, from the feature batch (the LogMelFbanks phase is excluded on both sides).
      const classes = t.classes!, o = t.adam!, c = t.cyclic!;
      const W = hashFloats(d.embed * classes, 2).map((v) => Math.fround(v * Math.fround(Math.sqrt(2 / (d.embed + classes)))));
      const labels = Int32Array.from({ length: t.batch }, (_, i) => (i * 7) % classes);
      const trainer = new native.TdnnTrainer(model, { classes, lr: c.max_lr, beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weight_decay, margin: t.margin, scale: t.scale, easyMargin: false });
      trainer.loadHeadState({ 'aam.W': { data: W, shape: [d.embed, classes] } });
      const schedule = { baseLr: c.base_lr, maxLr: c.max_lr, stepSizeUp: c.step_size_up, mode: c.mode };
      const params = model.stateDict().filter((e) => e.kind === 'parameter').map((e) => e.name);
      const before = new Map<string, Float32Array>(params.map((k) => [k, Float32Array.from(model.getTensor(k).data as Float32Array)]));
      before.set('aam.W', W);
      let g = c.start;
      const lr0 = cyclicLr(g, schedule);
      fn = () => trainer.step(x, shape, labels, { subnets: [subnet], lr: cyclicLr(g++, schedule) });
      check = (r) => {
        const s = r as { loss: number; acc1: number; acc5: number };
        const state = trainer.optimizerState();
        const after = new Map<string, Float32Array>(params.map((k) => [k, model.getTensor(k).data as Float32Array]));
        after.set('aam.W', trainer.headState()['aam.W'].data as Float32Array);
        const expAvg: Record<string, number> = {}, update: Record<string, number> = {}, samples: Record<string, number[]> = {};
        for (const [k, v] of after) {
          const m = state[`weights.${k}.exp_avg`];
          if (m) { expAvg[k] = norm(m.data as Float32Array); update[k] = norm(v, before.get(k)!); }
          samples[k] = sampleIdx(v.length).map((i) => v[i]);
        }
        return { loss: s.loss, acc1: s.acc1, acc5: s.acc5, lr: lr0, exp_avg_norms: expAvg, update_norms: update, updated_samples: samples };
      };
    } else if (cfg.kind === 'tdnn_embed') {
      fn = () => native.tdnnForward(model, x, shape, { mode: 'eval', subnet });
      check = (r) => ({ embedding: Array.from((r as TdnnForwardResult).embedding.data as Float32Array) });
    } else {
      const classes = t.classes!;
      const W = hashFloats(d.embed * classes, 2).map((v) => Math.fround(v * Math.fround(Math.sqrt(2 / (d.embed + classes)))));
      const labels = Int32Array.from({ length: t.batch }, (_, i) => (i * 7) % classes);
      fn = () => native.tdnnForward(model, x, shape, { mode: 'train', subnet, aamWeight: W, aamShape: [d.embed, classes], labels, margin: t.margin, scale: t.scale, easyMargin: false });
      check = (r) => {
        const f = r as TdnnForwardResult;
        const norms: Record<string, number> = {};
        for (const [k, g] of Object.entries(f.grads ?? {})) norms[k] = Math.sqrt((g.data as Float32Array).reduce((a, v) => a + v * v, 0));
        return { loss: f.loss, embedding: Array.from(f.embedding.data as Float32Array), grad_norms: norms };
      };
    }
  } else if (cfg.kind === 'search_step') {
    const model = new native.Model({ kind: 'search', C: cfg.C, layers: cfg.layers, numClasses: cfg.classes });
    const trainer = new native.Trainer(model, { fastSearch: process.env.BENCH_FAST === '1' });
    const t = batch(cfg.batch, cfg.frames, cfg.classes, 1), v = batch(cfg.batch, cfg.frames, cfg.classes, 2);
    fn = () => trainer.step(t.x, t.shape, t.y, v.x, v.shape, v.y);
  } else if (cfg.kind === 'train_step') {
    const model = new native.Model({ kind: 'network', C: cfg.C, layers: cfg.layers, numClasses: cfg.classes, genotype: parseGenotype(README) });
    if (channelsLast) model.setChannelsLast(true);
    const trainer = new native.Trainer(model);
    const t = batch(cfg.batch, cfg.frames, cfg.classes, 1);
    fn = () => trainer.step(t.x, t.shape, t.y);
  } else if (cfg.kind === 'resnet_train_step' || cfg.kind === 'resnet_embed') {
    // ResNet-34 (MODEL.NAME resnet34 / resnet34_bwn): BENCH_BWN=1 builds the binary-weight twin
    // (blocks + shortcuts binarised, per-filter alpha, clipped STE), otherwise the fp32 network; the
    // same init draws, so both rows run the same latent weights.
    const r = cfg as unknown as { depth: 18 | 34; width_mult: number; classes: number; batch: number; utterances: number; windows: number };
    const bwn = process.env.BENCH_BWN === '1';
    const model = new native.Model({ kind: 'resnet', depth: r.depth, numClasses: r.classes, widthMult: r.width_mult, activation: 'relu', binarize: bwn ? ['blocks', 'shortcuts'] : [] });
    const trainer = new native.Trainer(model);
    if (cfg.kind === 'resnet_train_step') {
      const t = batch(r.batch, cfg.frames, r.classes, 1);
      fn = () => trainer.step(t.x, t.shape, t.y);
    } else fn = embedOnce(trainer, r.utterances, r.windows, cfg.frames);
  } else if (cfg.kind === 'eval_forward') {
    // eval-mode forward of 300-frame windows, no gradient: every utterance embedded once (its
    // windows batched), the per-window cost of verification without the trial loop
    fn = embedOnce(derivedNetworkTrainer(), cfg.utterances, cfg.windows, cfg.frames);
  } else if (cfg.kind === 'embed_files') {
    // `autospeech embed` end to end from wav files: read + decode, |STFT|, test windows normalised,
    // eval forward, per-utterance mean (AutoSpeechEmbedder + embedFiles, what the command runs),
    // without model loading and the output files. Throughput = files / time.
    const e = cfg as unknown as { files: number; seconds: number };
    const dir = mkdtempSync(join(tmpdir(), 'bench-embed-'));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
    const inputs = Array.from({ length: e.files }, (_, f) => {
      const file = join(dir, `${f}.wav`);
      writeFileSync(file, encodeWav16(benchPcm(e.seconds * 16000, 1000 + f)));
      return { id: `${f}`, file, where: dir };
    });
    const model = derivedNetwork();
    const norm = { mean: new Float32Array(257).fill(0.5), std: new Float32Array(257).fill(2) };
    const embedder = new AutoSpeechEmbedder(model, 'bench', cfg.frames, DEFAULTS.EVAL.MAX_BATCH, norm, { none: 'bench' },
      { kind: 'network', name: 'model', format: 'bench', file: dir, binary: false, dims: { embedding: 0, features: 257, window: cfg.frames }, params: { total: 0, trainable: 0 }, genotype: null, subnet: null, threshold: null });
    fn = async () => {
      const r = await embedFiles(embedder, inputs);
      if (r.errors.length || r.ids.length !== e.files) throw new Error(`embed_files: ${r.errors.length} errors`);
      return r;
    };
  } else if (cfg.kind === 'features') {
    const files = (cfg as unknown as { files: number; seconds: number }).files, n = (cfg as unknown as { seconds: number }).seconds * 16000;
    const wavs = Array.from({ length: files }, (_, f) => hashFloats(n, 1000 + f).map((v) => Math.fround(v * Math.fround(0.01))));
    fn = async () => { for (const w of wavs) native.spectrogram(w); };
  } else {
    // verification: every utterance embedded once (cached), then cosine per trial
    const embed = embedOnce(derivedNetworkTrainer(), cfg.utterances, cfg.windows, cfg.frames);
    const trials = Array.from({ length: cfg.trials }, (_, t) => [(7 * t) % cfg.utterances, (7 * t + 1 + (t % (cfg.utterances - 1))) % cfg.utterances]);
    fn = async () => {
      const r = await embed();
      const D = r.shape[1];
      const e = (u: number) => (r.data as Float32Array).subarray(u * D, (u + 1) * D);
      return trials.map(([a, b]) => cosine(e(a), e(b)));
    };
  }
  const first = await fn(); // warm-up
  // The check right after it (tdnn_train_step reads the trainer's state, which later steps change).
  const checked = check?.(first);
  if (Number(repsText) === 0) {
    // profile: one step per operator (libtorch's profiler), then one for the phases without it
    native.opProfileStart({ shapes: process.env.BENCH_PROFILE_SHAPES === '1' });
    await fn();
    const ops = native.opProfileStop();
    const r = await fn();
    const phases = r && typeof r === 'object' && 'phasesMs' in r ? (r as { phasesMs: Record<string, number> }).phasesMs : {};
    process.stdout.write(JSON.stringify({ ops, phases }) + '\n');
    return;
  }
  const times: number[] = [], cpu: number[] = [];
  for (let i = 0; i < Number(repsText); i++) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    await fn();
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);  // all threads of the process, ms
  }
  process.stdout.write(JSON.stringify({ times_ms: times, cpu_ms: cpu, peak_rss_kb: process.resourceUsage().maxRSS, threads: native.getThreads(), ...(checked ? { check: checked } : {}) }) + '\n');
}

await main();
