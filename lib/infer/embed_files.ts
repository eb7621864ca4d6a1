// Embedding many wav files with one Embedder: each file read and decoded (other sample rates
// resampled to 16 kHz as `preprocess --resample` does), its features prepared on the JS thread
// while the previous batch is embedded on the compute thread. A file that cannot be read, decoded
// or featurised, or whose embedding is not finite, is a per-file error; the others go on.
import { readFileSync } from 'node:fs';

import { loadAudio16k } from '../data/load_audio.ts';
import { WavError } from '../data/wav.ts';
import { Progress } from '../run/progress.ts';
import type { Embedder, Prepared } from './embedder.ts';
import type { EmbedInput } from './inputs.ts';

export interface FileError { id: string; file: string; reason: string }

export interface EmbedFilesResult {
  /** the ids embedded, in input order */
  ids: string[];
  /** (ids.length, dim) row-major */
  data: Float32Array;
  dim: number;
  errors: FileError[];
  /** files converted from another sample rate */
  resampled: number;
  seconds: number;
}

function readError(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (err instanceof WavError) return err.reason;
  if (e.code === 'ENOENT') return 'no such file';
  if (e.code === 'EACCES') return 'permission denied';
  if (e.code === 'EISDIR') return 'is a directory';
  throw err;
}

export async function embedFiles(embedder: Embedder, inputs: EmbedInput[], opts: { progress?: boolean } = {}): Promise<EmbedFilesResult> {
  const start = Date.now();
  const progress = opts.progress ? new Progress('embed', inputs.length) : undefined;
  const errors: (FileError & { k: number })[] = [];
  const vectors = new Map<number, Float32Array>();
  let resampled = 0, done = 0, dim = -1;

  // Groups of prepared inputs of about batchCost, prepared lazily in input order.
  let next = 0;
  const prepareGroup = (): { items: Prepared[]; idx: number[] } => {
    const items: Prepared[] = [], idx: number[] = [];
    let cost = 0;
    while (next < inputs.length && cost < embedder.batchCost) {
      const k = next++;
      const u = inputs[k];
      try {
        const audio = loadAudio16k(readFileSync(u.file), u.file, true);
        if (audio.resampledFrom) resampled++;
        const p = embedder.prepare(audio.samples, u.file);
        items.push(p);
        idx.push(k);
        cost += p.cost;
      } catch (err) {
        errors.push({ k, id: u.id, file: u.file, reason: readError(err) });
        done++;
      }
    }
    return { items, idx };
  };

  let group = prepareGroup();
  while (group.items.length > 0) {
    const pending = embedder.embed(group.items);
    pending.catch(() => {}); // awaited below
    const following = prepareGroup(); // while the compute thread embeds this group
    const out = await pending;
    out.forEach((v, j) => {
      const k = group.idx[j];
      if (dim < 0) dim = v.length;
      if (v.length !== dim) throw new Error(`embedding of ${inputs[k].file} has ${v.length} values, the first had ${dim}`);
      const bad = v.findIndex((x) => !Number.isFinite(x));
      if (bad >= 0) errors.push({ k, id: inputs[k].id, file: inputs[k].file, reason: `the embedding is not finite (value ${v[bad]} at ${bad})` });
      else vectors.set(k, v);
    });
    done += group.items.length;
    if (done < inputs.length) progress?.update(done); // the last update (below) ends the bar
    group = following;
  }
  progress?.update(inputs.length);
  const order = [...vectors.keys()].sort((a, b) => a - b);
  const data = new Float32Array(order.length * Math.max(dim, 0));
  order.forEach((k, i) => data.set(vectors.get(k)!, i * dim));
  errors.sort((a, b) => a.k - b.k);
  return { ids: order.map((k) => inputs[k].id), data, dim: Math.max(dim, 0), errors: errors.map(({ k: _, ...e }) => e), resampled, seconds: (Date.now() - start) / 1000 };
}
