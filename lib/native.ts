// The ONE typed view of the native addon. Every native function and class is typed here; the rest
// of lib/ imports from this file only. The addon is loaded lazily so that commands which do not
// need libtorch (genotype, eer, ...) start fast and work even before the addon is built.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

export type TypedArray = Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array;
export type DType = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'bool';

export interface NativeTensor {
  data: TypedArray;
  shape: number[];
  dtype: DType;
}

export interface BuildInfo {
  torchVersion: string;
  threads: number;
  interopThreads: number;
  parallelInfo: string;
  config: string;
  cudaAvailable: boolean;
  cudaDeviceCount: number;
  cudnnAvailable: boolean;
  mkldnnAvailable: boolean;
  openmp: boolean;
  cxx11Abi: boolean;
  linkedTorchCuda: boolean;
  hugePageAllocator: boolean;
  /** glibc malloc tuned for tensors (native/system/malloc_tuning.h); false if the user tunes malloc */
  mallocTuning: boolean;
  /** The exact native training kernels (native/nn/native_kernels.h) are switched on */
  nativeKernels: boolean;
  /** Per path of the native depthwise convolution: verified against ATen once per process, or not */
  nativeDepthwise: string;
  /** The native batch-norm forward: verified against ATen once per process, or not */
  nativeBatchNorm: string;
  nativeBatchNormBackward: string;
  fusedAdam: string;
}

export interface PoolOptions { kind: 'max' | 'avg'; kernel: number; stride?: number; padding?: number; countIncludePad?: boolean; impl?: 'native' | 'aten' }

// ---- system (native/binding/system_binding.cc) ----
export interface SystemBinding {
  setThreads(n: number): void;
  getThreads(): number;
  manualSeed(seed: number): void;
  /** Row-wise float32 softmax with libtorch's kernel. */
  softmax(data: Float32Array, shape: [number, number]): Float32Array;
  /** The reference's CUDNN.* keys and DETERMINISTIC (deterministic algorithms only). */
  setDeterminism(options: { deterministic?: boolean; cudnnBenchmark?: boolean; cudnnDeterministic?: boolean; cudnnEnabled?: boolean }): void;
  /** Backs tensors >= 2 MiB with transparent huge pages (values unchanged; fewer page faults). */
  setHugePages(on: boolean): void;
  info(): BuildInfo;
  /** Pooling with the native kernels or ATen's: the forward, or with gradOutput (max) also the input gradient. */
  pool2d(data: Float32Array, shape: [number, number, number, number], options: PoolOptions & { gradOutput?: undefined }): NativeTensor;
  pool2d(data: Float32Array, shape: [number, number, number, number], options: PoolOptions & { kind: 'max'; gradOutput: Float32Array }): { output: NativeTensor; gradInput: NativeTensor };
  /** Output and both gradients of a depthwise convolution, from the native kernels (ATen's where none applies) or ATen's. */
  depthwiseConv(x: Float32Array, xShape: readonly number[], w: Float32Array, wShape: readonly number[], dy: Float32Array, dyShape: readonly number[],
    options: { stride?: number[]; padding?: number[]; dilation?: number[]; impl?: 'native' | 'aten'; channelsLast?: boolean; reluInput?: boolean }): { y: NativeTensor; dx: NativeTensor; dw: NativeTensor };
  /** Training-mode batch-norm backward (on ATen's forward statistics of x), native or ATen's; dy may hold more channels, sliced at channelOffset. */
  batchNormBackward(x: Float32Array, xShape: readonly number[], dy: Float32Array, dyShape: readonly number[],
    options: { impl?: 'native' | 'aten'; weight?: Float32Array; channelOffset?: number; mask?: [boolean, boolean, boolean] }): { dx: NativeTensor | null; dw: NativeTensor | null; db: NativeTensor | null; path: 'contiguous' | 'strided' | 'aten' };
  /** The exact native training kernels on (default) or off (ATen's own, for A/B runs). */
  setNativeKernels(on: boolean): void;
  /** Runs the native kernels' self-checks against ATen now and reports each one's status. */
  nativeKernelChecks(): { enabled: boolean; depthwise: string; batchNorm: string; batchNormBackward: string; adam: string };
  /** Per-operator profiling (libtorch's profiler on the compute thread) until opProfileStop();
   *  with shapes, grouped by input shapes too. */
  opProfileStart(options?: { shapes?: boolean }): void;
  /** Self and total time per ATen operator since opProfileStart(), largest self time first. */
  opProfileStop(): OpStat[];
}

// ---- models (native/binding/model_binding.cc) ----
export interface GenotypeSpecNative {
  normal: [string, number][];
  normalConcat: number[];
  reduce: [string, number][];
  reduceConcat: number[];
}

/** The normalised network description TypeScript hands to native (see lib/models/spec.ts). */
export interface ModelSpec {
  kind: 'network' | 'search' | 'resnet' | 'tdnn';
  C?: number;
  layers?: number;
  numClasses?: number;
  depth?: 18 | 34;
  steps?: number;
  multiplier?: number;
  stemMultiplier?: number;
  primitives?: string[];
  genotype?: GenotypeSpecNative;
  shiftedFactorizedReduce?: boolean;
  mixing?: 'gumbel' | 'softmax';
  /** resnet named options: widths x widthMult (64 widthMult whole), ReLU or PReLU modules */
  widthMult?: number;
  activation?: 'relu' | 'prelu';
  /** resnet: the conv groups built as binary-weight convs (BWN); empty = the fp32 network */
  binarize?: BinarizeGroup[];
  binaryScale?: BinaryScaleMode;
  binarySte?: BinarySteMode;
  binaryAlphaGrad?: boolean;
  /** clamp the latent weights to [-c, c] after each optimiser step; 0 = none */
  latentClip?: number;
  /** tdnn: sugar's DynamicTDNN arguments (channels/kernels: numBlocks + 1 each); standalone = a clone's layout */
  inFeats?: number;
  embedDim?: number;
  numBlocks?: number;
  channels?: number[];
  kernels?: number[];
  catChannels?: number;
  standalone?: boolean;
}

export type BinarizeGroup = 'stem' | 'blocks' | 'shortcuts';
export type BinaryScaleMode = 'channel' | 'layer' | 'none';
export type BinarySteMode = 'clip' | 'identity';

/** One binary-weight conv of a model (Model.binaryLayers), in state_dict order. */
export interface BinaryLayerInfo {
  /** module path, e.g. 'layer1.0.conv1' */
  name: string;
  /** its latent weight's state_dict key */
  key: string;
  shape: [number, number, number, number];
  scale: BinaryScaleMode;
  ste: BinarySteMode;
  alphaGrad: boolean;
  latentClip: number;
  /** alpha exactly as the forward computes it: [C_out] (channel), [1] (layer), null (none) */
  alpha: NativeTensor | null;
  /** latent weights with |W| > 1 (outside the STE's clip) */
  clipped: number;
  /** W_b = alpha * s, with { materialize: true } */
  wb?: NativeTensor;
}

export interface StateDictEntry {
  name: string;
  shape: number[];
  dtype: DType;
  kind: 'parameter' | 'buffer';
}

export interface ForwardOptions {
  mode?: 'eval' | 'train';
  labels?: Int32Array | BigInt64Array;
  grads?: boolean;
  labelSmoothing?: number;
  /** Recorded Gumbel noise per cell, in cell order (search supernet, gumbel mixing). */
  gumbelNoise?: Float32Array[];
  trace?: boolean;
}

export interface ForwardResult {
  embedding?: NativeTensor;
  logits: NativeTensor;
  loss?: number;
  grads?: Record<string, NativeTensor>;
  mixingWeights?: NativeTensor[];
  trace?: Record<string, NativeTensor>;
}

export interface NativeModel {
  readonly kind: 'network' | 'search' | 'resnet' | 'tdnn';
  stateDict(): StateDictEntry[];
  getTensor(name: string): NativeTensor;
  setTensor(name: string, data: TypedArray, shape: number[]): void;
  paramCounts(): { total: number; trainable: number; alphas: number };
  /** Names of the floating-point tensors holding NaN or +-inf (a diverged run). */
  nonFiniteTensors(): string[];
  /** Named option: channels-last (NHWC) weights and activations, oneDNN's direct kernels (last-bit differences from NCHW). */
  setChannelsLast(on: boolean): void;
  setDropPathProb(p: number): void;
  setMixing(mode: 'gumbel' | 'softmax'): void;
  forward(input: Float32Array, shape: [number, number, number], options?: ForwardOptions): Promise<ForwardResult>;
  /** The binary-weight convs (empty for an fp32 network); an error if a latent weight is NaN. */
  binaryLayers(options?: { materialize?: boolean }): BinaryLayerInfo[];
}

export interface ModelBinding {
  Model: new (spec: ModelSpec, options?: { device?: string; seed?: number }) => NativeModel;
  operationNames(): string[];
}

// ---- binary-weight conv (native/binding/bnn_binding.cc) ----
export interface BnnBinding {
  /**
   * One binary-weight convolution, forward and backward with gradOutput dy (float32 or float64,
   * all arrays one type): y = conv2d(x, W_b), dx, dw through the STE node, W_b and alpha.
   */
  binaryConv<T extends Float32Array | Float64Array>(x: T, xShape: readonly number[], w: T, wShape: readonly number[], dy: T,
    options: { stride?: [number, number]; padding?: [number, number]; scale?: BinaryScaleMode; ste?: BinarySteMode; alphaGrad?: boolean; impl?: 'fused' | 'aten' }):
    { y: NativeTensor; dx: NativeTensor; dw: NativeTensor; wb: NativeTensor; alpha: NativeTensor | null };
}

// ---- training (native/binding/trainer_binding.cc) ----
export interface AdamOptions {
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export interface TrainerOptions {
  /** Weight optimizer (reference: Adam lr 0.01, no weight decay). */
  weights?: AdamOptions;
  /** Architect (search only; reference: Adam lr 0.001, betas (0.5, 0.999), L2 1e-3). */
  arch?: AdamOptions;
  labelSmoothing?: number;
  /** DARTS unrolled (second-order) architect instead of the reference's first-order one. */
  secondOrderArch?: boolean;
  /** Fast search mode: the weight step computes only each edge's sampled op (BN stats of the others not updated). */
  fastSearch?: boolean;
  /** Exact-preserving (default true): skip the gradients each half of a search step throws away. */
  skipUnusedGrads?: boolean;
  /** Exact-preserving (default true): no backward through the ops a hard Gumbel forward did not sample. */
  sampledBackwardOnly?: boolean;
  /** Data parallel over the process group (distInit first): gradients averaged across ranks, bucketed and overlapped with backward. */
  distributed?: boolean;
  /** With distributed: BatchNorm statistics of the global batch (torch.nn.SyncBatchNorm). */
  syncBn?: boolean;
}

export interface StepStats {
  loss: number;
  acc1: number;
  acc5: number;
  archLoss?: number;
  archEntropy?: number;
  /** wall time of the step's phases in ms (alpha forward/backward/update, weight forward/backward/update) */
  phasesMs: Record<string, number>;
  /** distributed trainers: gradient buckets, and how many were launched during backward (overlapped) */
  gradientBuckets?: number;
  overlappedBuckets?: number;
}

export interface OpStat { name: string; /** input shapes, when profiled with shapes */ shapes?: string; calls: number; selfMs: number; totalMs: number }

export interface NativeTrainer {
  /** One reference step; the search supernet also needs the validation batch for its alpha step. */
  step(x: Float32Array, shape: [number, number, number], y: Int32Array | BigInt64Array,
    xv?: Float32Array, vshape?: [number, number, number], yv?: Int32Array | BigInt64Array): Promise<StepStats>;
  setLr(lr: number, archLr?: number): void;
  /** Eval-mode embeddings, one per utterance = mean over its `counts[u]` consecutive windows. */
  embedUtterances(windows: Float32Array, shape: [number, number, number], counts: Int32Array, maxBatch?: number): Promise<NativeTensor & { logits: NativeTensor }>;
  optimizerState(): Record<string, NativeTensor>;
  loadOptimizerState(state: Record<string, { data: TypedArray; shape: number[] }>): void;
}

export interface TrainerBinding {
  Trainer: new (model: NativeModel, options?: TrainerOptions) => NativeTrainer;
  /** The default CPU generator's state (Gumbel noise, drop path, init). */
  rngState(): Uint8Array;
  setRngState(state: Uint8Array): void;
  /**
   * sugar's AAMSoftmax head on x (B, D) and W (D, C) with its mean cross-entropy and the gradients
   * of that loss with respect to x and W (native/train/aam_softmax.h). cosine, phi (before the
   * branch) and targetUsesPhi (uint8 (B): 1 where the target took phi) are the margin path's
   * values, in soft mode too, where logits are plain x @ W.
   */
  aamSoftmax(x: Float32Array, xShape: readonly [number, number], W: Float32Array, wShape: readonly [number, number],
    labels: Int32Array | BigInt64Array, options?: AamSoftmaxOptions): AamSoftmaxResult;
}

export interface AamSoftmaxOptions {
  margin?: number; // 0.2
  scale?: number; // 30
  easyMargin?: boolean; // false
  soft?: boolean; // false: sugar's soft() mode, logits = x @ W
}

export interface AamSoftmaxResult {
  cosine: NativeTensor;
  phi: NativeTensor;
  logits: NativeTensor;
  loss: number;
  gradX: NativeTensor;
  gradW: NativeTensor;
  targetUsesPhi: NativeTensor;
}

// ---- features (native/binding/features_binding.cc) ----
export interface FeaturesBinding {
  /** -30 dBFS increase-only gain + the reference |STFT|: (frames, 257) float32, row-major. */
  spectrogram(wav: Float32Array): { data: Float32Array; frames: number; rms: number; dbfs: number; gain: number; gainApplied: boolean; finite: boolean };
  /** Kaldi-style log-mel fbank (25/10 ms, povey, pre-emphasis, no dither): (frames, melBins) float32. */
  fbank(wav: Float32Array, opts?: FbankOptions): { data: Float32Array; frames: number; melBins: number };
  /**
   * EfficientTDNN's front end (sugar's LogMelFbanks): pre-emphasis, torchaudio MelSpectrogram, log,
   * per-utterance instance norm; (melBins, frames) float32 row-major, channel-first as the
   * reference's network input. Samples in the int16 range (the reference's), or `scale` 32768 for
   * [-1, 1) decoder samples. At least 257 samples.
   */
  logmel(wav: Float32Array, opts: LogMelOptions & { intermediates: true }): LogMel & LogMelIntermediates;
  logmel(wav: Float32Array, opts?: LogMelOptions): LogMel;
  /** spectrogram() on the compute thread, as a promise (the event loop runs meanwhile); the input is copied. */
  spectrogramAsync(wav: Float32Array): Promise<ReturnType<FeaturesBinding['spectrogram']>>;
  /** logmel() (no intermediates) on the compute thread, as a promise; the input is copied. */
  logmelAsync(wav: Float32Array, opts?: Omit<LogMelOptions, 'intermediates'>): Promise<LogMel>;
  /** Per-bin float32 sums of x and x*x over `frames` rows, in row order. */
  frameSums(x: Float32Array, frames: number, bins: number): { sum: Float32Array; sumSq: Float32Array };
  /** librosa.load's resampling (resampy kaiser_best, then fix_length to ceil(n * to / from)). */
  resample(x: Float32Array, fromRate: number, toRate: number): Float32Array;
}

export interface FbankOptions {
  melBins?: number; // 80
  lowFreq?: number; // 20 Hz
  highFreq?: number; // 0 = nyquist (negative: offset from nyquist)
  preemphasis?: number; // 0.97
  scale?: number; // 32768: [-1, 1) samples into the int16 range Kaldi reads
}

export interface LogMelOptions {
  melBins?: number; // 80
  scale?: number; // 1: multiplies the samples first (32768 for [-1, 1) decoder output)
  preemphasis?: number; // 0.97
  intermediates?: boolean; // also return each stage (for tests)
}

export interface LogMel {
  data: Float32Array; // (melBins, frames) row-major
  frames: number; // 1 + n / 160
  melBins: number;
}

export interface LogMelIntermediates {
  preemphasis: Float32Array; // (n)
  melPower: Float32Array; // (melBins, frames), before + 1e-6
  logMel: Float32Array; // (melBins, frames), before the instance norm
  window: Float32Array; // (400) torch.hamming_window(400), periodic
  melFilterbank: Float32Array; // (257, melBins) torchaudio melscale_fbanks, htk, norm None
}

// ---- reader (native/binding/reader_binding.cc) ----
/** Memory-mapped feature-store shards; batches and windows are assembled on the prefetch thread. */
export interface NativeFeatureReader {
  /** Copy of `frames` rows of `bins` floats at a frame offset of a shard. */
  read(shard: number, offset: number, frames: number): Float32Array;
  /** Rows [shard, offset, frames, start, flip]: normalised crops of P frames (start ignored when frames <= P). */
  trainBatch(plan: Int32Array, P: number, mean: Float32Array, std: Float32Array): Promise<Float32Array>;
  /** Rows [shard, offset, frames]: every utterance's normalised test windows, stacked. */
  windows(plan: Int32Array, P: number, mean: Float32Array, std: Float32Array): Promise<{ data: Float32Array; counts: Int32Array }>;
  /** Unmaps the shards (after pending jobs finish). */
  close(): void;
}

export interface ReaderBinding {
  FeatureReader: new (shardFiles: string[], bins: number) => NativeFeatureReader;
}

// ---- EfficientTDNN accuracy predictor (native/binding/tdnn_predictor_binding.cc) ----
/** AccuracyPredictor.fit's arguments (reference defaults in brackets) and the port's named options. */
export interface PredictorFitOptions {
  epochs?: number; // [50]
  lr?: number; // [1e-3]
  weightDecay?: number; // [1e-3] L2 added to the gradient (alpha)
  loss?: 'mse' | 'l1' | 'smoothl1'; // [mse]
  optimizer?: 'adam' | 'sgd'; // [adam]; sgd has momentum 0.9
  scheduler?: 'steplr' | 'cycliclr'; // [steplr]: StepLR(epochs // cycle, gamma) per epoch; cycliclr triangular2 per batch
  gamma?: number; // [0.5]
  cycle?: number; // [2]
  batchSize?: number; // [256], shuffled
  dropLast?: boolean; // [true]
  /** Shuffle seeds from a private generator seeded with this (default: torch's default generator, as the DataLoader). */
  seed?: number;
  /** The reference continues the first fit's optimiser and scheduler in later fits; true starts afresh. */
  freshOptimizer?: boolean;
}

export interface PredictorFitResult {
  epochLoss: number[];
  epochLr: number[];
  batchesPerEpoch: number;
  l1Error: number;
}

export interface NativeTdnnPredictor {
  readonly inFeats: number;
  readonly hidden: number;
  stateDict(): StateDictEntry[];
  getTensor(name: string): NativeTensor;
  setTensor(name: string, data: TypedArray, shape: number[]): void;
  /** x holds n encodings of inFeats values, row-major; raw is model(x), eer the inverse-ynorm prediction. */
  predict(x: Float32Array, n: number): { raw: Float32Array; eer: Float32Array };
  fit(x: Float32Array, n: number, y: Float32Array, options?: PredictorFitOptions): Promise<PredictorFitResult>;
}

export interface TdnnPredictorBinding {
  /** With a seed, like torch.manual_seed(seed) before AccuracyPredictor(inFeats) (the Linear init draws). */
  TdnnPredictor: new (inFeats: number, options?: { seed?: number; hidden?: number }) => NativeTdnnPredictor;
}


// ---- EfficientTDNN supernet (native/binding/tdnn_binding.cc) ----
/** sugar's subnet tuple (depth, [c0..c_depth], [k0..k_depth], cat). */
export interface TdnnSubnetNative { depth: number; channels: number[]; kernels: number[]; cat: number }

export interface TdnnForwardOptions {
  mode?: 'eval' | 'train';
  /** omitted = the largest subnet */
  subnet?: TdnnSubnetNative;
  /** AAM-softmax weight (embedDim, classes) with labels: train mode only, gives logits, loss and gradients */
  aamWeight?: Float32Array;
  aamShape?: [number, number];
  labels?: Int32Array | BigInt64Array;
  margin?: number;
  scale?: number;
  easyMargin?: boolean;
  /** every buffer of the supernet after the forward */
  buffers?: boolean;
  /** sugar's clone() of the subnet, from the weights as they are before the forward */
  exportSubnet?: boolean;
  trace?: boolean;
}

export interface TdnnForwardResult {
  embedding: NativeTensor;
  logits?: NativeTensor;
  loss?: number;
  /** every parameter that got a gradient (full shape) and 'aam.W' */
  grads?: Record<string, NativeTensor>;
  buffers?: Record<string, NativeTensor>;
  subnetState?: { name: string; kind: 'parameter' | 'buffer'; tensor: NativeTensor }[];
  trace?: Record<string, NativeTensor>;
}

export interface TdnnBinding {
  tdnnForward(model: NativeModel, input: Float32Array, shape: [number, number, number], options?: TdnnForwardOptions): Promise<TdnnForwardResult>;
}

// ---- EfficientTDNN training step (native/binding/tdnn_trainer_binding.cc) ----
export interface TdnnTrainerOptions {
  /** AAM-softmax classes: W is (embedDim, classes), xavier_normal_ from the default generator */
  classes: number;
  lr?: number;
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** torch.optim.Adam weight_decay: L2 added to the gradient of every parameter and of W */
  weightDecay?: number;
  margin?: number;
  scale?: number;
  easyMargin?: boolean;
  /** data parallel over the process group (distInit first); W is broadcast from rank 0 at the first step */
  distributed?: boolean;
  /** with distributed: the dynamic BatchNorms use the global batch's statistics */
  syncBn?: boolean;
}

export interface TdnnStepStats {
  /** means over the walks */
  loss: number;
  acc1: number;
  acc5: number;
  walkLosses: number[];
  phasesMs: Record<string, number>;
}

export interface NativeTdnnTrainer {
  /** Waveforms (B, L) in the int16 range (LogMelFbanks natively) or features (B, inFeats, T); one subnet per walk. */
  step(input: Float32Array, shape: [number, number] | [number, number, number], labels: Int32Array,
    options: { subnets: TdnnSubnetNative[]; lr: number; margin?: number }): Promise<TdnnStepStats>;
  optimizerState(): Record<string, NativeTensor>;
  loadOptimizerState(state: Record<string, { data: TypedArray; shape: number[] }>): void;
  /** { 'aam.W': (embedDim, classes) } */
  headState(): Record<string, NativeTensor>;
  loadHeadState(state: Record<string, { data: TypedArray; shape: number[] }>): void;
}

export interface TdnnTrainerBinding {
  TdnnTrainer: new (model: NativeModel, options: TdnnTrainerOptions) => NativeTdnnTrainer;
}

// ---- data parallel (native/binding/dist_binding.cc) ----
export interface DistInfo { initialized: boolean; rank: number; worldSize: number; backend: 'gloo' | 'nccl' | null }

export interface DistInitOptions {
  backend?: 'auto' | 'gloo' | 'nccl';
  /** the training device: nccl needs cuda; auto picks nccl for cuda when built, else gloo */
  device?: string;
  rank: number;
  worldSize: number;
  masterAddr: string;
  masterPort: number;
  timeoutSeconds?: number;
  /** torchrun's agent hosts the store (TORCHELASTIC_USE_AGENT_STORE): every rank is a client */
  agentStore?: boolean;
  /** key prefix in the store */
  storePrefix?: string;
}

export interface DistBinding {
  /** process-group backends compiled into this build */
  distBackends(): string[];
  /** TCPStore rendezvous (rank 0 hosts it) + the process group; resolves when every rank joined */
  distInit(options: DistInitOptions): Promise<DistInfo>;
  distInfo(): DistInfo;
  distDestroy(): void;
  /** the root's bytes on every rank (others pass null) */
  distBroadcastBytes(data: Uint8Array | null, root?: number): Promise<Uint8Array>;
  /** every rank's array, in rank order (lengths may differ) */
  distAllGather(data: Float32Array): Promise<Float32Array[]>;
  /** element-wise sum over ranks */
  distAllReduce(data: Float64Array): Promise<Float64Array>;
  distBarrier(): Promise<void>;
  /** every parameter and buffer of the model from the root rank */
  distBroadcastModel(model: NativeModel, root?: number): Promise<void>;
}

export type Addon = DistBinding & SystemBinding & ModelBinding & BnnBinding & TrainerBinding & FeaturesBinding & ReaderBinding & TdnnBinding & TdnnPredictorBinding & TdnnTrainerBinding;

let cached: Addon | undefined;

/** Loads the addon, or throws an actionable error saying how to build it. */
export function loadNative(): Addon {
  if (cached) return cached;
  const require = createRequire(import.meta.url);
  // libgomp reads these when libtorch is loaded. All native work runs on one compute thread, not
  // on the process's first thread; there libgomp's default (unset) wait policy falls back to a
  // ~100-spin wait and every parallel region pays a futex wake-up: a search step took 9-10 s
  // instead of 5.7 s (Python on its main thread: 5.7 s). ACTIVE with a bounded spin count restores
  // it. 10000 spins, not libgomp's 300000: idle the same (training step 405-422 ms vs 404-423),
  // but beside one busy process a thread waiting at a barrier soon yields its core to the thread it
  // waits for: training step 1.4 s instead of 3.5 s, eval forward 3.3 s instead of 11-14 s, search
  // step 9.3 s instead of 38-50 s (3000 spins: 10 % slower idle; PASSIVE: no better loaded).
  process.env.OMP_WAIT_POLICY ??= 'ACTIVE';
  process.env.GOMP_SPINCOUNT ??= '10000';
  const gypBuild = require('node-gyp-build') as { (dir: string): Addon; resolve(dir: string): string };
  let file = '';
  try {
    file = gypBuild.resolve(PROJECT_ROOT);
    cached = require(file) as Addon;
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    const prebuilt = file ? prebuildLibtorch(file) : null;
    const hint = prebuilt && /libtorch|libc10|libtorch_cpu|undefined symbol|cannot open shared object|file too short|invalid ELF/.test(msg)
      ? `the prebuilt addon ${file} was built against libtorch ${prebuilt.recorded.torchVersion} (${prebuilt.recorded.torchLibDir}; ${prebuilt.json}), ` +
        `and the libtorch here ${prebuilt.installed ? `is ${prebuilt.installed}` : 'was not found'}${prebuilt.installed === prebuilt.recorded.torchVersion ? ' but does not load with it' : ''}: ` +
        'run `npm run setup` in the package directory to build the addon from source against it (or install libtorch ' + prebuilt.recorded.torchVersion + ').'
      : /libtorch|libc10|libtorch_cpu/.test(msg)
        ? 'libtorch could not be loaded: install it with `npm run setup` (Debian libtorch-dev) or point LIBTORCH/Torch_DIR at one and rebuild.'
        : 'the native addon is not built: run `npm run setup` (or `npm run build` once libtorch is installed).';
    throw new Error(`autospeech native addon unavailable: ${hint}\n  cause: ${msg.split('\n')[0]}`);
  }
  // libtorch defaults to one thread on this kind of machine: use every core unless told otherwise.
  cached.setThreads(defaultThreads());
  // Opt-in (AUTOSPEECH_HUGEPAGES=1): fewer page faults and less RSS on training steps, but measured
  // 15-25 % slower on depthwise-conv inference here, so it is off by default.
  cached.setHugePages(process.env.AUTOSPEECH_HUGEPAGES === '1');
  return cached;
}

/** What scripts/record_prebuild.mjs writes beside a prebuilt addon (prebuilds/<platform>-<arch>/libtorch.json). */
export interface PrebuildRecord {
  /** libtorch's version as its CMake config gave it when the addon was built */
  torchVersion: string;
  /** the directory the addon found libtorch in (its RUNPATH) */
  torchLibDir: string;
  /** the shared libraries of libtorch it links (DT_NEEDED) */
  needed: string[];
  napiVersion: number;
  node: string;
  built: string;
}

/** libtorch's version from its CMake config: LIBTORCH, Torch_DIR, else Debian's libtorch-dev; null if none. */
export function installedLibtorchVersion(): string | null {
  const dirs = [process.env.Torch_DIR, process.env.LIBTORCH && join(process.env.LIBTORCH, 'share', 'cmake', 'Torch'),
    process.env.LIBTORCH && join(process.env.LIBTORCH, 'lib', 'cmake', 'Torch'), '/usr/lib/x86_64-linux-gnu/cmake/Torch', '/usr/lib/aarch64-linux-gnu/cmake/Torch'];
  for (const d of dirs) {
    if (!d) continue;
    const f = join(d, 'TorchConfigVersion.cmake');
    if (!existsSync(f)) continue;
    const m = /set\(PACKAGE_VERSION\s+"([^"]+)"\)/.exec(readFileSync(f, 'utf8'));
    if (m) return m[1];
  }
  return null;
}

/** The record beside a prebuilt addon (null for an addon built here, in build/). */
export function prebuildLibtorch(addonFile: string): { json: string; recorded: PrebuildRecord; installed: string | null } | null {
  if (!/[\\/]prebuilds[\\/]/.test(addonFile)) return null;
  const json = join(dirname(addonFile), 'libtorch.json');
  if (!existsSync(json)) return null;
  return { json, recorded: JSON.parse(readFileSync(json, 'utf8')) as PrebuildRecord, installed: installedLibtorchVersion() };
}

/** AUTOSPEECH_THREADS if set, else the number of cores. */
export function defaultThreads(): number {
  const env = process.env.AUTOSPEECH_THREADS;
  if (env !== undefined && env !== '') {
    const n = Number(env);
    if (!Number.isInteger(n) || n < 1) throw new Error(`AUTOSPEECH_THREADS must be a positive integer, got '${env}'`);
    return n;
  }
  return availableParallelism();
}
