// Every config key with its default: the reference's config/default.py (same names, same
// defaults), then this project's keys. Reference behaviour is always the default; each deviation
// is a named key, recorded in the run directory's resolved config.
export const DEFAULTS = {
  PRINT_FREQ: 20,
  VAL_FREQ: 20,
  CUDNN: { BENCHMARK: true, DETERMINISTIC: false, ENABLED: true },
  SEED: 3,
  MODEL: {
    NAME: 'foo_net',
    NUM_CLASSES: 500,
    LAYERS: 8,
    INIT_CHANNELS: 16,
    DROP_PATH_PROB: 0.2,
    PRETRAINED: false,
    // project keys
    MIXING: 'gumbel', // search supernet: 'gumbel' (reference: hard straight-through per cell per forward) | 'softmax' (DARTS)
    SHIFTED_FACTORIZED_REDUCE: false, // true = DARTS' x[:, :, 1:, 1:] shift the reference commented out
    // true = channels-last (NHWC) weights and activations: oneDNN's direct depthwise kernels, ~1.4x
    // faster training steps and ~2x faster evaluation here, last-bit differences from the reference
    CHANNELS_LAST: false,
    // data parallel (--nproc / torchrun): BatchNorm statistics of the global batch across ranks
    // (torch.nn.SyncBatchNorm); False = per-rank statistics, as plain DDP
    SYNC_BN: false,
    // EfficientTDNN (MODEL.NAME tdnn8m2g): sugar's DynamicTDNN constructor arguments; the defaults
    // are tdnn8m2g's. Reduced supernets (the fixtures' 64-wide one, the demo's) override them.
    IN_FEATS: 80,
    EMBED_DIM: 192,
    NUM_BLOCKS: 4,
    CHANNELS: 512,
    KERNEL_SIZE: 5,
    CAT_CHANNELS: 1536,
    // ResNet (resnet18/34 and their binary-weight twins resnet18_bwn/resnet34_bwn, bnn.md §3):
    // every width x WIDTH_MULT (stem, blocks, embedding; 0.5 = the thin 32-64-128-256 ResNet),
    // ReLU or PReLU (per channel, init 0.25) activations
    WIDTH_MULT: 1.0,
    ACTIVATION: 'relu',
    // *_bwn only: the conv groups with binary weights ('blocks' = the 3x3 convs of layer1-4,
    // 'shortcuts' = the 1x1 downsample convs, 'stem' = conv1; BN and the classifier stay fp32),
    // the scaling factor alpha ('channel' = mean |W| per output filter, 'layer', 'none'), the
    // straight-through estimator ('clip' = gradient masked to |W| <= 1, 'identity'), the gradient
    // through alpha, and a clamp of the latent weights to [-c, c] after each step (0 = none)
    BINARIZE: ['blocks', 'shortcuts'],
    BINARY_SCALE: 'channel',
    BINARY_STE: 'clip',
    BINARY_ALPHA_GRAD: true,
    LATENT_CLIP: 0.0,
  },
  // The classification loss on the embedding. 'softmax' = the AutoSpeech reference's label-smoothed
  // cross-entropy on a linear classifier (TRAIN.LABEL_SMOOTHING); 'aam' = sugar's AAMSoftmax
  // (cosine logits with an additive angular margin on the target, plain cross-entropy).
  LOSS: {
    NAME: 'softmax',
    MARGIN: 0.2,
    SCALE: 30.0,
    EASY_MARGIN: false,
  },
  DATASET: {
    DATA_DIR: '',
    SUB_DIR: '',
    TEST_DATA_DIR: '',
    TEST_DATASET: '',
    NUM_WORKERS: 0,
    PARTIAL_N_FRAMES: 32,
    // project keys
    STORE_DIR: '', // '' = <DATA_DIR>/store (written by `autospeech preprocess`)
    MEAN_STD: '', // a dir with the reference's mean.npy/std.npy to use instead of ours
    TRIALS: 'veri_test.txt',
    // EfficientTDNN (tdnn train): waveform crops from the logmel store (sugar's loadWAV)
    LOGMEL_STORE_DIR: '', // '' = <DATA_DIR>/store_logmel (written by `autospeech preprocess --frontend logmel`)
    TRAIN_SAMPLES: 32000, // sugar's --second: crop length in samples (README: 32000 largest, 48000 later stages)
    MIN_SAMPLES: 48000, // loadWAV's min_samples: files of at most max(this, TRAIN_SAMPLES) samples are wrap-padded to it + 1
  },
  TRAIN: {
    BATCH_SIZE: 32,
    LR: 0.1,
    LR_MIN: 0.001,
    WD: 0.0, // dead in the reference; applied only with APPLY_WD
    BETA1: 0.9, // dead in the reference (Adam defaults happen to be equal)
    BETA2: 0.999,
    ARCH_LR: 0.1,
    ARCH_WD: 0.0,
    ARCH_BETA1: 0.9, // dead in the reference: the architect hard-codes betas (0.5, 0.999)
    ARCH_BETA2: 0.999,
    DROPPATH_PROB: 0.2,
    BEGIN_EPOCH: 0,
    END_EPOCH: 140,
    // project keys
    ARCH_ORDER: 'first', // 'first' (reference) | 'second' (unrolled DARTS)
    APPLY_WD: false,
    LABEL_SMOOTHING: 0.1,
    FAST_SEARCH: false, // weight step computes only each edge's sampled op
    STEPS_PER_EPOCH: 0, // 0 = one pass over the training utterances (the reference); N caps an epoch
    CHECKPOINT_STEPS: 0, // also write Model/last.ckpt every N steps (0 = at epoch ends only)
    // stop (exit 1) at the first non-finite loss, naming the step and the last good checkpoint;
    // False trains on (the reference's behaviour), but a non-finite model is never saved as the best
    STOP_ON_NONFINITE: true,
    // EfficientTDNN progressive shrinking (tdnn train): the stage (largest, kernel, depth, width1,
    // width2 or a --task string such as supernet_kernel_depth), the previous stage's checkpoint
    // (a .ckpt or a run dir: its supernet weights and AAM weight; a fresh optimizer, schedule and
    // path sampler, as --initial-weights), walks per batch, and sugar's CyclicLR (TRAIN.LR is max_lr)
    STAGE: '',
    INIT_CHECKPOINT: '',
    // train / train-baseline: initial weights from another run's checkpoint (a .ckpt, a run dir's
    // Model/last.ckpt, or latest:<config name>), loaded strictly, with a fresh optimizer and
    // schedule: e.g. a BWN from its trained fp32 twin (latent weights = the fp32 weights)
    INIT_FROM: '',
    DYNAMIC_WALKS: 1,
    CYCLE_STEP: 10236,
    CYCLE_BASE_LR: 1e-8,
    CYCLE_MODE: 'triangular2',
    PATH_SEED: 666, // TDNNPath's random.Random(666)
  },
  EVAL: {
    CACHE_EMBEDDINGS: true,
    P_TARGETS: [0.01, 0.05],
    // windows per forward when embedding utterances: small batches keep activations in cache (C=32:
    // 4.1 ms/window at 8 vs 10.5 at 64, measured here); results are identical for any batch >= 2
    MAX_BATCH: 8,
    MAX_UTTERANCES: 0, // identification evaluation on an evenly spaced subset of this many test utterances (0 = all, the reference)
  },
  // project keys
  // Data-parallel training (--nproc N, or torchrun's RANK / WORLD_SIZE / MASTER_ADDR / MASTER_PORT):
  // the c10d process-group backend (auto = nccl for CUDA devices when the build has it, else gloo)
  // and its collective timeout in seconds (torch's default 1800).
  DIST: { BACKEND: 'auto', TIMEOUT: 1800 },
  DEVICE: 'cpu', // cpu | cuda | cuda:N
  THREADS: 0, // 0 = all cores
  OUTPUT_DIR: '', // '' = the reference's per-script roots (logs_search, logs_scratch, logs)
  DETERMINISTIC: false, // only deterministic algorithms (CPU runs with fixed THREADS are already reproducible)
};

type Widen<T> = T extends boolean ? boolean : T extends number ? number : T extends string ? string
  : T extends readonly (infer U)[] ? Widen<U>[] : { -readonly [K in keyof T]: Widen<T[K]> };

export type Config = Widen<typeof DEFAULTS>;

/** Allowed values for the enumerated string keys. */
export const CHOICES: Record<string, readonly string[]> = {
  'MODEL.MIXING': ['gumbel', 'softmax'],
  'TRAIN.ARCH_ORDER': ['first', 'second'],
  'TRAIN.CYCLE_MODE': ['triangular', 'triangular2'],
  'LOSS.NAME': ['softmax', 'aam'],
  'DIST.BACKEND': ['auto', 'gloo', 'nccl'],
  'MODEL.ACTIVATION': ['relu', 'prelu'],
  'MODEL.BINARIZE': ['stem', 'blocks', 'shortcuts'],
  'MODEL.BINARY_SCALE': ['channel', 'layer', 'none'],
  'MODEL.BINARY_STE': ['clip', 'identity'],
};

/**
 * Keys that cannot change what a run computes (where it writes, how often it logs or validates,
 * evaluation batching, thread count, safety switches): a resumed run may change them freely. Any
 * other key changes the math, and resuming with it changed needs --resume-override.
 */
export const RESUME_NEUTRAL_KEYS: ReadonlySet<string> = new Set([
  'PRINT_FREQ', 'VAL_FREQ', 'OUTPUT_DIR', 'THREADS', 'DEVICE', 'DETERMINISTIC',
  'CUDNN.BENCHMARK', 'CUDNN.DETERMINISTIC', 'CUDNN.ENABLED',
  'DATASET.NUM_WORKERS', 'TRAIN.CHECKPOINT_STEPS', 'TRAIN.STOP_ON_NONFINITE',
  'EVAL.CACHE_EMBEDDINGS', 'EVAL.P_TARGETS', 'EVAL.MAX_BATCH', 'EVAL.MAX_UTTERANCES',
  'DIST.BACKEND', 'DIST.TIMEOUT',
]);

/** A numeric key's valid range: [min, max] (or max exclusive), integers where the default is one. */
export interface Range { min?: number; max?: number; maxExclusive?: boolean; minExclusive?: boolean; multipleOf?: number; odd?: boolean }

/** Ranges of every numeric key, checked on the resolved config before anything runs. */
export const RANGES: Record<string, Range> = {
  PRINT_FREQ: { min: 1 },
  VAL_FREQ: { min: 1 },
  SEED: { min: 0, max: Number.MAX_SAFE_INTEGER },
  'MODEL.NUM_CLASSES': { min: 1 },
  'MODEL.LAYERS': { min: 1 },
  'MODEL.INIT_CHANNELS': { min: 2, multipleOf: 2 },
  'MODEL.DROP_PATH_PROB': { min: 0, max: 1, maxExclusive: true },
  'MODEL.IN_FEATS': { min: 1 },
  'MODEL.EMBED_DIM': { min: 1 },
  'MODEL.NUM_BLOCKS': { min: 1 },
  'MODEL.CHANNELS': { min: 8, multipleOf: 8 },
  'MODEL.KERNEL_SIZE': { min: 1, max: 7, odd: true },
  'MODEL.CAT_CHANNELS': { min: 1 },
  // 64 x WIDTH_MULT channels must be whole: multiples of 1/64 (exact in binary, so % is exact)
  'MODEL.WIDTH_MULT': { min: 0, max: 64, minExclusive: true, multipleOf: 1 / 64 },
  'MODEL.LATENT_CLIP': { min: 0 },
  'LOSS.MARGIN': { min: 0, max: Math.PI / 2, maxExclusive: true },
  'LOSS.SCALE': { min: 0, minExclusive: true },
  'DATASET.NUM_WORKERS': { min: 0 },
  'DATASET.PARTIAL_N_FRAMES': { min: 2 },
  'TRAIN.BATCH_SIZE': { min: 1 },
  'TRAIN.LR': { min: 0 },
  'TRAIN.LR_MIN': { min: 0 },
  'TRAIN.WD': { min: 0 },
  'TRAIN.BETA1': { min: 0, max: 1, maxExclusive: true },
  'TRAIN.BETA2': { min: 0, max: 1, maxExclusive: true },
  'TRAIN.ARCH_LR': { min: 0 },
  'TRAIN.ARCH_WD': { min: 0 },
  'TRAIN.ARCH_BETA1': { min: 0, max: 1, maxExclusive: true },
  'TRAIN.ARCH_BETA2': { min: 0, max: 1, maxExclusive: true },
  'TRAIN.DROPPATH_PROB': { min: 0, max: 1, maxExclusive: true },
  'TRAIN.BEGIN_EPOCH': { min: 0 },
  'TRAIN.END_EPOCH': { min: 0 },
  'TRAIN.LABEL_SMOOTHING': { min: 0, max: 1, maxExclusive: true },
  'TRAIN.STEPS_PER_EPOCH': { min: 0 },
  'TRAIN.CHECKPOINT_STEPS': { min: 0 },
  'TRAIN.DYNAMIC_WALKS': { min: 1, max: 64 },
  'TRAIN.CYCLE_STEP': { min: 1 },
  'TRAIN.CYCLE_BASE_LR': { min: 0 },
  'TRAIN.PATH_SEED': { min: 0, max: Number.MAX_SAFE_INTEGER },
  'DATASET.TRAIN_SAMPLES': { min: 400 },
  'DATASET.MIN_SAMPLES': { min: 0 },
  'EVAL.P_TARGETS': { min: 0, max: 1, minExclusive: true, maxExclusive: true },
  'EVAL.MAX_BATCH': { min: 1 },
  'EVAL.MAX_UTTERANCES': { min: 0 },
  THREADS: { min: 0, max: 1024 },
  'DIST.TIMEOUT': { min: 1, max: 1e7 },
};
