// The feature store: float32 (T, bins) frames of every kept utterance in a few large shard files,
// an index (utterance, speaker, split, shard, offset, frames) and the global mean/std. Written shard
// by shard, each file atomically, with the shard's index file as its completion marker, so a killed
// preprocess resumes and ends byte-identical to an uninterrupted run. Every shard's size and CRC-32
// are recorded (marker and index) with the size and mtime of each wav it was made from: preprocess
// rebuilds a shard that is truncated, corrupt or whose wavs changed, `data check` verifies the
// checksums, and opening a store checks every shard's size, so a damaged store is an error naming
// the shard (reads go through checked preads, never a memory map that would die of SIGBUS).
// Two kinds, by front end: 'stft' (the AutoSpeech spectrogram frames, utterances under 300 frames
// dropped, global mean/std) and 'logmel' (EfficientTDNN: the waveform itself, float32 samples in the
// int16 range, bins = 1, offsets and lengths in samples, nothing dropped, no mean/std), because sugar
// crops the raw waveform (wrap padding) and computes LogMelFbanks per crop.
import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';

import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readNpy, writeNpy } from '../io/npy.ts';
import { type NativeFeatureReader, loadNative } from '../native.ts';
import { BINS, MIN_FRAMES, MeanStdAccumulator, fileFeatures } from './features.ts';
import { scanVoxCeleb, readIdenSplit, type Utterance } from './voxceleb.ts';
import { loadAudio16k } from './load_audio.ts';
import { WavError } from './wav.ts';

export const STORE_VERSION = 2; // 2: shard sizes and checksums
export const FILES_PER_SHARD = 256;
/** Below this many files to extract, the default is to extract in this process. */
export const AUTO_WORKERS_MIN_FILES = 2500;

/** What a store holds: spectrogram frames (stft) or waveforms for the log-mel front end (logmel). */
export type StoreFrontend = 'stft' | 'logmel';
export const STORE_FRONTENDS: readonly StoreFrontend[] = ['stft', 'logmel'];

/** The default store directory of a data root for a front end: <root>/store or <root>/store_logmel. */
export function defaultStoreDir(root: string, frontend: StoreFrontend = 'stft'): string {
  return join(root, frontend === 'stft' ? 'store' : `store_${frontend}`);
}

export interface StoredUtterance {
  path: string; // spk/video/nnnnn.wav
  speaker: string;
  part: string; // dev | test | wav
  iden: 0 | 1 | 2 | 3; // iden_split set, 0 when absent
  shard: number;
  offset: number; // in frames (samples in a logmel store)
  frames: number; // frames (samples in a logmel store)
  /** the wav's own sample rate when preprocess --resample converted it to 16 kHz */
  resampledFrom?: number;
}

/** What a shard file must be: its size in bytes and the CRC-32 of its bytes. */
export interface ShardInfo { file: string; bytes: number; crc32: number }

export interface StoreIndex {
  version: number;
  /** absent in stores written before the logmel kind: stft */
  frontend?: StoreFrontend;
  bins: number;
  /** one entry per shard (absent only in stores written before version 2) */
  shards?: ShardInfo[];
  utterances: StoredUtterance[];
  skipped: { path: string; frames: number }[]; // shorter than 300 frames, dropped like the reference
  errors: { file: string; reason: string }[];
}

export interface ShardRecord { utterances: Omit<StoredUtterance, 'iden'>[]; skipped: StoreIndex['skipped']; errors: StoreIndex['errors']; shard: ShardInfo }

/** A wav's size and mtime when its shard was made: a changed file makes the shard stale. */
interface SourceStamp { size: number; mtimeMs: number }

/** The shard's completion marker (shard_NNNN.json). */
interface ShardMarker extends ShardRecord { files: string[]; sources: (SourceStamp | null)[]; resample?: boolean; frontend?: StoreFrontend }

export interface PreprocessResult {
  index: StoreIndex;
  reusedShards: number;
  shards: number;
  workers: number;
  /** shards rebuilt although a marker existed, with the reason (truncated, corrupt, wavs changed) */
  rebuilt: { shard: number; reason: string }[];
}

export interface PreprocessOptions {
  filesPerShard?: number;
  /** Convert other sample rates to 16 kHz (librosa.load's resampling) instead of rejecting the files. */
  resample?: boolean;
  /** Worker processes extracting shards in parallel (1 = in this process; default: one per core for
   *  large jobs, in-process below AUTO_WORKERS_MIN_FILES files). */
  workers?: number;
  onProgress?: (doneFiles: number, totalFiles: number) => void;
  /** What the store holds (default stft: spectrogram frames). */
  frontend?: StoreFrontend;
}

export const shardName = (s: number, ext: string) => `shard_${String(s).padStart(4, '0')}.${ext}`;

export async function preprocess(root: string, out: string, opts: PreprocessOptions = {}): Promise<PreprocessResult> {
  const perShard = opts.filesPerShard ?? FILES_PER_SHARD;
  const frontend = opts.frontend ?? 'stft';
  if (!STORE_FRONTENDS.includes(frontend)) throw new UserError(`preprocess: unknown front end '${frontend}' (expected ${STORE_FRONTENDS.join(' or ')})`);
  const scan = scanVoxCeleb(root);
  const utts = scan.utterances;
  const split = existsSync(join(root, 'iden_split.txt')) ? readIdenSplit(join(root, 'iden_split.txt')) : new Map<string, 1 | 2 | 3>();
  mkdirSync(out, { recursive: true });
  removeStaleTemps(out);
  const shards = Math.ceil(utts.length / perShard);
  const chunks = Array.from({ length: shards }, (_, s) => utts.slice(s * perShard, (s + 1) * perShard));
  const records: (ShardRecord | undefined)[] = new Array(shards);
  let reused = 0, doneFiles = 0;
  const pending: number[] = [];
  const rebuilt: PreprocessResult['rebuilt'] = [];
  chunks.forEach((chunk, s) => {
    const r = completedShard(out, s, chunk, !!opts.resample, frontend);
    if ('record' in r) { records[s] = r.record; reused++; doneFiles += chunk.length; } else {
      pending.push(s);
      if (r.stale) rebuilt.push({ shard: s, reason: r.stale });
    }
  });
  opts.onProgress?.(doneFiles, utts.length);
  // Worker processes cost ~0.7 s each to start (tsx + libtorch) while in-process extraction already
  // spreads each file's frames over the cores: measured here, in-process wins below a few thousand
  // files (demo set, 1200 files: 1.8 s vs 2.2 s) and 2 workers win above (7200 files: 13 s vs 16-26 s).
  const auto = pending.reduce((n, s) => n + chunks[s].length, 0) < AUTO_WORKERS_MIN_FILES ? 1 : availableParallelism();
  const workers = Math.max(1, Math.min(opts.workers ?? auto, pending.length));
  const finished = (s: number, rec: ShardRecord) => {
    records[s] = rec;
    doneFiles += chunks[s].length;
    opts.onProgress?.(doneFiles, utts.length);
  };
  if (workers <= 1) for (const s of pending) finished(s, buildShard(s, chunks[s], out, !!opts.resample, frontend));
  else await buildShardsInWorkers(pending, chunks, out, workers, !!opts.resample, frontend, finished);
  const done = records as ShardRecord[];
  const index: StoreIndex = {
    version: STORE_VERSION, ...(frontend === 'stft' ? {} : { frontend }), bins: frontend === 'stft' ? BINS : 1,
    shards: done.map((r) => r.shard),
    utterances: done.flatMap((r) => r.utterances.map((u) => ({ ...u, iden: split.get(u.path) ?? 0 }))),
    skipped: done.flatMap((r) => r.skipped),
    errors: [...scan.errors, ...done.flatMap((r) => r.errors)],
  };
  if (index.utterances.length === 0) throw new UserError(frontend === 'stft' ? `${root}: no utterance of at least ${MIN_FRAMES} frames could be read` : `${root}: no utterance could be read`);
  if (frontend === 'logmel') {
    // Waveforms: the log-mel front end normalises per utterance, there is no global mean/std.
    writeFileAtomic(join(out, 'index.json'), JSON.stringify(index));
    return { index, reusedShards: reused, shards, workers, rebuilt };
  }
  // Global per-bin mean/std over every kept utterance, in index order.
  const acc = new MeanStdAccumulator();
  const store = new FeatureStore(out, index);
  for (let i = 0; i < index.utterances.length; i++) acc.add(store.read(i), index.utterances[i].frames);
  store.close();
  const { mean, std } = acc.result();
  // Every kept file's features are finite (checked per file), so these are too; never write otherwise.
  const bad = [...mean, ...std].findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw new Error(`${out}: the global ${bad < BINS ? 'mean' : 'std'} of bin ${bad % BINS} is not finite; mean.npy/std.npy were not written`);
  writeNpy(join(out, 'mean.npy'), { data: mean, shape: [BINS] });
  writeNpy(join(out, 'std.npy'), { data: std, shape: [BINS] });
  writeFileAtomic(join(out, 'index.json'), JSON.stringify(index));
  return { index, reusedShards: reused, shards, workers, rebuilt };
}

/** Size and CRC-32 of a shard file as it is on disk. */
export function shardInfo(dir: string, s: number): ShardInfo {
  const file = shardName(s, 'f32');
  const bytes = readFileSync(join(dir, file));
  return { file, bytes: bytes.length, crc32: crc32(bytes) };
}

function sourceStamp(file: string): SourceStamp | null {
  try {
    const st = statSync(file);
    return { size: st.size, mtimeMs: st.mtimeMs };
  } catch {
    return null;
  }
}

/**
 * The shard's record if its marker lists exactly these files, unchanged (size and mtime), and its
 * data file has the recorded size and checksum; else why it must be (re)built (`stale` is set when
 * a marker existed but no longer holds).
 */
function completedShard(out: string, s: number, chunk: Utterance[], resample: boolean, frontend: StoreFrontend): { record: ShardRecord } | { stale?: string } {
  const markerFile = join(out, shardName(s, 'json'));
  if (!existsSync(markerFile)) return {};
  let marker: ShardMarker;
  try {
    marker = JSON.parse(readFileSync(markerFile, 'utf8')) as ShardMarker;
  } catch {
    return { stale: 'its marker is unreadable' };
  }
  if (marker.files.join('\n') !== chunk.map((u) => u.path).join('\n') || !!marker.resample !== resample || (marker.frontend ?? 'stft') !== frontend) return {};
  if (!marker.shard || !marker.sources) return { stale: 'it was written by an older version (no checksum)' };
  const changed = chunk.findIndex((u, i) => {
    const now = sourceStamp(u.file), then = marker.sources[i];
    return !now || !then || now.size !== then.size || now.mtimeMs !== then.mtimeMs;
  });
  if (changed >= 0) return { stale: `${chunk[changed].file} changed since the shard was made` };
  if (!existsSync(join(out, marker.shard.file))) return { stale: `${marker.shard.file} is missing` };
  const size = statSync(join(out, marker.shard.file)).size;
  if (size !== marker.shard.bytes) return { stale: `${marker.shard.file} has ${size} bytes, ${marker.shard.bytes} were written (truncated or overwritten)` };
  if (shardInfo(out, s).crc32 !== marker.shard.crc32) return { stale: `${marker.shard.file} fails its checksum (corrupt)` };
  return { record: { utterances: marker.utterances, skipped: marker.skipped, errors: marker.errors, shard: marker.shard } };
}

/** Temp files left by a killed run (named .<file>.tmp-<pid>-<n>) whose writer is gone. */
function removeStaleTemps(out: string): void {
  for (const name of readdirSync(out)) {
    const m = /^\..+\.tmp-(\d+)-\d+$/.exec(name);
    if (!m) continue;
    let alive = true;
    try { process.kill(Number(m[1]), 0); } catch { alive = false; }
    if (!alive) rmSync(join(out, name), { force: true });
  }
}

/** Shards handed out one at a time to `workers` child processes (one compute thread each). */
function buildShardsInWorkers(pending: number[], chunks: Utterance[][], out: string, workers: number, resample: boolean, frontend: StoreFrontend,
  finished: (s: number, rec: ShardRecord) => void): Promise<void> {
  const queue = [...pending];
  // Run from lib/ through tsx, or compiled to dist/ (the installed package): the worker alike.
  const compiled = import.meta.url.endsWith('.js');
  const script = fileURLToPath(new URL(compiled ? './preprocess_worker.js' : './preprocess_worker.ts', import.meta.url));
  const execArgv = compiled ? [] : ['--import', import.meta.resolve('tsx')];
  return new Promise((resolve, reject) => {
    let running = 0, failed = false;
    const children: ChildProcess[] = [];
    const fail = (err: Error) => {
      if (failed) return;
      failed = true;
      for (const c of children) c.kill();
      reject(err);
    };
    const feed = (child: ChildProcess) => {
      const s = queue.shift();
      if (s === undefined) { child.disconnect(); return; }
      child.send({ shard: s, files: chunks[s], out, resample, frontend } satisfies ShardJob);
    };
    for (let w = 0; w < workers; w++) {
      const child = fork(script, [], {
        execArgv,
        env: { ...process.env, AUTOSPEECH_THREADS: '1' },
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      children.push(child);
      running++;
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr += d));
      child.on('message', (m: ShardDone) => {
        if ('error' in m) return fail(new Error(`preprocess worker, shard ${m.shard}: ${m.error}`));
        finished(m.shard, m.record);
        feed(child);
      });
      child.on('exit', (code, signal) => {
        running--;
        if (code !== 0) return fail(new Error(`preprocess worker ${child.pid} ended with ${signal ?? `exit code ${code}`}${stderr ? `: ${stderr.trim().split('\n').slice(-3).join(' | ')}` : ''}`));
        if (running === 0 && !failed) queue.length ? fail(new Error('preprocess workers ended with shards left')) : resolve();
      });
      child.on('error', (err) => fail(err));
      feed(child);
    }
  });
}

export interface ShardJob { shard: number; files: Utterance[]; out: string; resample: boolean; frontend: StoreFrontend }
export type ShardDone = { shard: number; record: ShardRecord } | { shard: number; error: string };

export function buildShard(s: number, chunk: Utterance[], out: string, resample = false, frontend: StoreFrontend = 'stft'): ShardRecord {
  const rec: Omit<ShardRecord, 'shard'> = { utterances: [], skipped: [], errors: [] };
  const parts: Float32Array[] = [];
  // Stamped before reading, so a file changed while this shard is built makes it stale next time.
  const sources = chunk.map((u) => sourceStamp(u.file));
  let offset = 0;
  for (const u of chunk) {
    let frames: Float32Array;
    let count: number;
    let resampledFrom: number | undefined;
    try {
      const wav = loadAudio16k(readFileSync(u.file), u.file, resample);
      resampledFrom = wav.resampledFrom;
      if (frontend === 'logmel') {
        frames = waveformSamples(wav.samples, u.file);
        count = frames.length;
      } else {
        const spec = fileFeatures('stft', wav.samples, u.file);
        frames = spec.data;
        count = spec.frames;
      }
    } catch (err) {
      rec.errors.push({ file: u.file, reason: err instanceof WavError ? err.reason : (err as Error).message });
      continue;
    }
    if (frontend === 'stft' && count < MIN_FRAMES) {
      rec.skipped.push({ path: u.path, frames: count });
      continue;
    }
    rec.utterances.push({ path: u.path, speaker: u.speaker, part: u.part, shard: s, offset, frames: count, ...(resampledFrom ? { resampledFrom } : {}) });
    parts.push(frames);
    offset += count;
  }
  const bytes = parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength));
  writeFileAtomic(join(out, shardName(s, 'f32')), bytes);
  const shard: ShardInfo = { file: shardName(s, 'f32'), bytes: bytes.reduce((n, b) => n + b.length, 0), crc32: bytes.reduce((c, b) => crc32(b, c), 0) };
  const marker: ShardMarker = { files: chunk.map((u) => u.path), sources, ...(resample ? { resample } : {}), ...(frontend === 'stft' ? {} : { frontend }), ...rec, shard };
  writeFileAtomic(join(out, shardName(s, 'json')), JSON.stringify(marker));
  return { ...rec, shard };
}

/**
 * A waveform as a logmel store keeps it: float32 in the int16 range (sugar reads int16 with scipy and
 * never divides by 32768; decoded int16 samples times 32768 are those integers exactly).
 */
export function waveformSamples(samples: Float32Array, path: string): Float32Array {
  if (samples.length === 0) throw new WavError(path, 'no samples');
  const out = new Float32Array(samples.length);
  for (let i = 0; i < samples.length; i++) {
    const v = samples[i] * 32768;
    if (!Number.isFinite(v)) throw new WavError(path, `sample ${i} is not finite`);
    out[i] = v;
  }
  return out;
}

/** Random access to stored utterances through the native memory-mapped reader. */
export class FeatureStore {
  readonly index: StoreIndex;
  private native?: NativeFeatureReader;

  constructor(readonly dir: string, index?: StoreIndex) {
    if (index) this.index = index;
    else {
      const file = join(dir, 'index.json');
      if (!existsSync(file)) throw new UserError(`${dir} is not a feature store (no index.json): run autospeech preprocess <data dir> first`);
      this.index = JSON.parse(readFileSync(file, 'utf8')) as StoreIndex;
      if (this.index.version !== STORE_VERSION) throw new UserError(`${file}: store version ${this.index.version}, expected ${STORE_VERSION}; re-run preprocess`);
    }
  }

  /** The native reader over every shard (mapped on first use). */
  get reader(): NativeFeatureReader {
    if (!this.native) {
      const shards = this.index.utterances.reduce((m, u) => Math.max(m, u.shard), -1) + 1;
      const files = Array.from({ length: shards }, (_, s) => join(this.dir, shardName(s, 'f32')));
      files.forEach((f, s) => {
        if (!existsSync(f)) throw new UserError(`${this.dir}: shard file ${f} is missing; re-run preprocess`);
        const want = this.index.shards?.[s]?.bytes;
        const size = statSync(f).size;
        if (want !== undefined && size !== want)
          throw new UserError(`${f}: ${size} bytes, the store's index says ${want} (truncated or overwritten); re-run preprocess to rebuild it`);
      });
      const { FeatureReader } = loadNative();
      this.native = new FeatureReader(files, this.index.bins);
    }
    return this.native;
  }

  /** (frames, bins) float32 of utterance i. */
  read(i: number): Float32Array {
    const u = this.index.utterances[i];
    try {
      return this.reader.read(u.shard, u.offset, u.frames);
    } catch (err) {
      throw new UserError(`${this.dir}: cannot read utterance ${u.path}: ${(err as Error).message}`);
    }
  }

  /** Each shard whose bytes no longer match the checksum recorded in the index (with the reason). */
  verifyShards(): { shard: string; problem: string }[] {
    const out: { shard: string; problem: string }[] = [];
    for (const [s, info] of (this.index.shards ?? []).entries()) {
      const file = join(this.dir, info.file);
      if (!existsSync(file)) { out.push({ shard: file, problem: 'missing' }); continue; }
      const now = shardInfo(this.dir, s);
      if (now.bytes !== info.bytes) out.push({ shard: file, problem: `${now.bytes} bytes, ${info.bytes} recorded (truncated or overwritten)` });
      else if (now.crc32 !== info.crc32) out.push({ shard: file, problem: 'checksum mismatch (corrupt)' });
    }
    return out;
  }

  get frontend(): StoreFrontend {
    return this.index.frontend ?? 'stft';
  }

  meanStd(override?: string): { mean: Float32Array; std: Float32Array } {
    if (this.frontend !== 'stft' && !override) throw new UserError(`${this.dir} is a ${this.frontend} store (waveforms): it has no global mean/std`);
    const dir = override || this.dir;
    const load = (name: string) => {
      const a = readNpy(join(dir, name));
      if (a.dtype !== 'float32' || a.data.length !== BINS) throw new UserError(`${join(dir, name)}: expected ${BINS} float32 values`);
      return a.data as Float32Array;
    };
    return { mean: load('mean.npy'), std: load('std.npy') };
  }

  close(): void {
    this.native?.close();
    this.native = undefined;
  }
}
