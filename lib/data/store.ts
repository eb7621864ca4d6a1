// The feature store: float32 (T, 257) frames of every kept utterance in a few large shard files,
// an index (utterance, speaker, split, shard, offset, frames) and the global mean/std. Written shard
// by shard, each file atomically, with the shard's index file as its completion marker, so a killed
// preprocess resumes and ends byte-identical to an uninterrupted run.
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';

import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readNpy, writeNpy } from '../io/npy.ts';
import { BINS, MIN_FRAMES, MeanStdAccumulator, spectrogram } from './features.ts';
import { scanVoxCeleb, readIdenSplit, type Utterance } from './voxceleb.ts';
import { WavError, decodeWav } from './wav.ts';

export const STORE_VERSION = 1;
export const FILES_PER_SHARD = 256;

export interface StoredUtterance {
  path: string; // spk/video/nnnnn.wav
  speaker: string;
  part: string; // dev | test | wav
  iden: 0 | 1 | 2 | 3; // iden_split set, 0 when absent
  shard: number;
  offset: number; // in frames
  frames: number;
}

export interface StoreIndex {
  version: number;
  bins: number;
  utterances: StoredUtterance[];
  skipped: { path: string; frames: number }[]; // shorter than 300 frames, dropped like the reference
  errors: { file: string; reason: string }[];
}

interface ShardRecord { utterances: Omit<StoredUtterance, 'iden'>[]; skipped: StoreIndex['skipped']; errors: StoreIndex['errors'] }

export interface PreprocessResult { index: StoreIndex; reusedShards: number; shards: number }

export function preprocess(root: string, out: string, onProgress?: (done: number, total: number) => void, filesPerShard = FILES_PER_SHARD): PreprocessResult {
  const FILES_PER_SHARD = filesPerShard;
  const utts = scanVoxCeleb(root);
  const split = existsSync(join(root, 'iden_split.txt')) ? readIdenSplit(join(root, 'iden_split.txt')) : new Map<string, 1 | 2 | 3>();
  mkdirSync(out, { recursive: true });
  const shards = Math.ceil(utts.length / FILES_PER_SHARD);
  let reused = 0;
  const records: ShardRecord[] = [];
  for (let s = 0; s < shards; s++) {
    const marker = join(out, `shard_${String(s).padStart(4, '0')}.json`);
    const chunk = utts.slice(s * FILES_PER_SHARD, (s + 1) * FILES_PER_SHARD);
    if (existsSync(marker)) {
      const rec = JSON.parse(readFileSync(marker, 'utf8')) as ShardRecord & { files: string[] };
      if (rec.files.join('\n') === chunk.map((u) => u.path).join('\n')) {
        records.push(rec);
        reused++;
        onProgress?.((s + 1) * FILES_PER_SHARD, utts.length);
        continue;
      }
    }
    records.push(buildShard(s, chunk, out, marker));
    onProgress?.(Math.min((s + 1) * FILES_PER_SHARD, utts.length), utts.length);
  }
  const index: StoreIndex = {
    version: STORE_VERSION, bins: BINS,
    utterances: records.flatMap((r) => r.utterances.map((u) => ({ ...u, iden: split.get(u.path) ?? 0 }))),
    skipped: records.flatMap((r) => r.skipped),
    errors: records.flatMap((r) => r.errors),
  };
  if (index.utterances.length === 0) throw new UserError(`${root}: no utterance of at least ${MIN_FRAMES} frames could be read`);
  // Global per-bin mean/std over every kept utterance, in index order.
  const acc = new MeanStdAccumulator();
  const store = new FeatureStore(out, index);
  for (let i = 0; i < index.utterances.length; i++) acc.add(store.read(i), index.utterances[i].frames);
  store.close();
  const { mean, std } = acc.result();
  writeNpy(join(out, 'mean.npy'), { data: mean, shape: [BINS] });
  writeNpy(join(out, 'std.npy'), { data: std, shape: [BINS] });
  writeFileAtomic(join(out, 'index.json'), JSON.stringify(index));
  return { index, reusedShards: reused, shards };
}

function buildShard(s: number, chunk: Utterance[], out: string, marker: string): ShardRecord {
  const rec: ShardRecord = { utterances: [], skipped: [], errors: [] };
  const parts: Float32Array[] = [];
  let offset = 0;
  for (const u of chunk) {
    let frames: Float32Array;
    let count: number;
    try {
      const wav = decodeWav(readFileSync(u.file), u.file);
      const spec = spectrogram(wav.samples);
      frames = spec.data;
      count = spec.frames;
    } catch (err) {
      rec.errors.push({ file: u.file, reason: err instanceof WavError ? err.reason : (err as Error).message });
      continue;
    }
    if (count < MIN_FRAMES) {
      rec.skipped.push({ path: u.path, frames: count });
      continue;
    }
    rec.utterances.push({ path: u.path, speaker: u.speaker, part: u.part, shard: s, offset, frames: count });
    parts.push(frames);
    offset += count;
  }
  writeFileAtomic(join(out, `shard_${String(s).padStart(4, '0')}.f32`), parts.map((p) => new Uint8Array(p.buffer, p.byteOffset, p.byteLength)));
  writeFileAtomic(marker, JSON.stringify({ files: chunk.map((u) => u.path), ...rec }));
  return rec;
}

/** Random access to stored utterances (positioned reads; the page cache does the rest). */
export class FeatureStore {
  readonly index: StoreIndex;
  private fds = new Map<number, number>();

  constructor(readonly dir: string, index?: StoreIndex) {
    if (index) this.index = index;
    else {
      const file = join(dir, 'index.json');
      if (!existsSync(file)) throw new UserError(`${dir} is not a feature store (no index.json): run autospeech preprocess <data dir> first`);
      this.index = JSON.parse(readFileSync(file, 'utf8')) as StoreIndex;
      if (this.index.version !== STORE_VERSION) throw new UserError(`${file}: store version ${this.index.version}, expected ${STORE_VERSION}; re-run preprocess`);
    }
  }

  /** (frames, 257) float32 of utterance i. */
  read(i: number, into?: Float32Array): Float32Array {
    const u = this.index.utterances[i];
    let fd = this.fds.get(u.shard);
    if (fd === undefined) {
      fd = openSync(join(this.dir, `shard_${String(u.shard).padStart(4, '0')}.f32`), 'r');
      this.fds.set(u.shard, fd);
    }
    const out = into ?? new Float32Array(u.frames * BINS);
    const bytes = u.frames * BINS * 4;
    const got = readSync(fd, new Uint8Array(out.buffer, out.byteOffset, bytes), 0, bytes, u.offset * BINS * 4);
    if (got !== bytes) throw new UserError(`${this.dir}: shard ${u.shard} is truncated (utterance ${u.path})`);
    return out;
  }

  meanStd(override?: string): { mean: Float32Array; std: Float32Array } {
    const dir = override || this.dir;
    const load = (name: string) => {
      const a = readNpy(join(dir, name));
      if (a.dtype !== 'float32' || a.data.length !== BINS) throw new UserError(`${join(dir, name)}: expected ${BINS} float32 values`);
      return a.data as Float32Array;
    };
    return { mean: load('mean.npy'), std: load('std.npy') };
  }

  close(): void {
    for (const fd of this.fds.values()) closeSync(fd);
    this.fds.clear();
  }
}
