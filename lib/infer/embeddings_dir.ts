// An embeddings directory, what `autospeech embed` writes and `score` reads: embeddings.npy
// (N, D) float32 and utts.txt (the N ids, one a line, in the same order), with --format kaldi
// also embeddings.ark / embeddings.scp (Kaldi binary float vectors). The files are written as one
// step (lib/io/atomic.ts writeFilesAtomic), so a killed or failed run leaves none half-written.
// Reading also takes a Kaldi scp or ark directly (e.g. another toolkit's embeddings).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { UserError } from '../errors.ts';
import { writeFilesAtomic } from '../io/atomic.ts';
import { kaldiVectorArk, readKaldiVectorArk, readKaldiVectorScp } from '../io/kaldi_ark.ts';
import { formatNpy, readNpy } from '../io/npy.ts';

export const EMBEDDINGS_FILE = 'embeddings.npy';
export const UTTS_FILE = 'utts.txt';

export interface Embeddings {
  ids: string[];
  /** (N, dim) row-major */
  data: Float32Array;
  dim: number;
  /** where they were read from */
  source: string;
}

export function writeEmbeddingsDir(out: string, e: Omit<Embeddings, 'source'>, opts: { kaldi?: boolean } = {}): string[] {
  if (existsSync(out) && !statSync(out).isDirectory()) throw new UserError(`--out ${out}: exists and is not a directory`);
  const bad = e.ids.find((id) => id === '' || /[\r\n]/.test(id));
  if (bad !== undefined) throw new UserError(`utterance id ${JSON.stringify(bad)} cannot be a line of ${UTTS_FILE}`);
  const files: [string, string | Uint8Array | Uint8Array[]][] = [
    [join(out, EMBEDDINGS_FILE), formatNpy({ data: e.data, shape: [e.ids.length, e.dim] })],
    [join(out, UTTS_FILE), e.ids.map((id) => `${id}\n`).join('')],
  ];
  if (opts.kaldi) {
    const ark = resolve(out, 'embeddings.ark');
    const k = kaldiVectorArk(e.ids, e.data, e.dim, ark);
    files.push([ark, k.ark], [join(out, 'embeddings.scp'), k.scp]);
  }
  writeFilesAtomic(files);
  return files.map(([f]) => f);
}

function fromVectors(entries: { key: string; values: Float32Array }[], source: string): Embeddings {
  if (entries.length === 0) throw new UserError(`${source}: no vectors`);
  const dim = entries[0].values.length;
  const data = new Float32Array(entries.length * dim);
  entries.forEach((v, i) => {
    if (v.values.length !== dim) throw new UserError(`${source}: '${v.key}' has ${v.values.length} values, '${entries[0].key}' ${dim}`);
    data.set(v.values, i * dim);
  });
  return checkIds({ ids: entries.map((v) => v.key), data, dim, source });
}

function checkIds(e: Embeddings): Embeddings {
  const seen = new Map<string, number>();
  e.ids.forEach((id, i) => {
    const first = seen.get(id);
    if (first !== undefined) throw new UserError(`${e.source}: utterance '${id}' appears twice (entries ${first + 1} and ${i + 1})`);
    seen.set(id, i);
  });
  return e;
}

/** The embeddings of a directory written by `embed` (or of a Kaldi .scp / .ark, or a directory holding embeddings.scp). */
export function readEmbeddings(path: string): Embeddings {
  if (!existsSync(path)) throw new UserError(`embeddings ${path}: no such file or directory`);
  if (!statSync(path).isDirectory()) {
    if (path.endsWith('.scp')) return fromVectors(readKaldiVectorScp(path), path);
    if (path.endsWith('.ark')) return fromVectors(readKaldiVectorArk(path), path);
    throw new UserError(`embeddings ${path}: expected a directory written by \`autospeech embed\` (or a Kaldi .scp/.ark)`);
  }
  const npy = join(path, EMBEDDINGS_FILE), utts = join(path, UTTS_FILE);
  if (!existsSync(npy)) {
    if (existsSync(join(path, 'embeddings.scp'))) return fromVectors(readKaldiVectorScp(join(path, 'embeddings.scp')), join(path, 'embeddings.scp'));
    throw new UserError(`embeddings ${path}: no ${EMBEDDINGS_FILE} (the output of \`autospeech embed --out ${path}\`)`);
  }
  if (!existsSync(utts)) throw new UserError(`embeddings ${path}: ${EMBEDDINGS_FILE} without ${UTTS_FILE}`);
  let a;
  try {
    a = readNpy(npy);
  } catch (err) {
    throw new UserError((err as Error).message);
  }
  if (a.dtype !== 'float32' || a.shape.length !== 2) throw new UserError(`${npy}: expected a (N, D) float32 array, got ${a.dtype} of shape [${a.shape}]`);
  const ids = readFileSync(utts, 'utf8').split('\n');
  if (ids[ids.length - 1] === '') ids.pop();
  if (ids.length !== a.shape[0]) throw new UserError(`${path}: ${UTTS_FILE} has ${ids.length} lines but ${EMBEDDINGS_FILE} ${a.shape[0]} rows`);
  return checkIds({ ids, data: a.data as Float32Array, dim: a.shape[1], source: path });
}

/** Row i of the embeddings. */
export function row(e: Embeddings, i: number): Float32Array {
  return e.data.subarray(i * e.dim, (i + 1) * e.dim);
}
