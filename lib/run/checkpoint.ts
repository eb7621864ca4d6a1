// A checkpoint is one file, written atomically: "ASCKPT01", a u32 header length, a JSON header
// ({ meta, tensors: [{ name, dtype, shape, offset, bytes }] }), the raw little-endian tensor data,
// and a SHA-256 of everything before it, so a truncated or corrupted file is one clear error.
// Tensor names are grouped by prefix: model/<state_dict key>, optim/<...>, rng/<...>.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';

import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { NpyData, NpyDType } from '../io/npy.ts';

const MAGIC = Buffer.from('ASCKPT01', 'latin1');

export interface CheckpointTensor { data: NpyData; shape: number[]; dtype: NpyDType }

export interface Checkpoint<M = Record<string, unknown>> {
  meta: M;
  tensors: Map<string, CheckpointTensor>;
}

export function saveCheckpoint(path: string, ckpt: Checkpoint<unknown>): void {
  const entries: { name: string; dtype: NpyDType; shape: number[]; offset: number; bytes: number }[] = [];
  const bodies: Uint8Array[] = [];
  let offset = 0;
  for (const [name, t] of ckpt.tensors) {
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    entries.push({ name, dtype: t.dtype, shape: t.shape, offset, bytes: bytes.length });
    bodies.push(bytes);
    offset += bytes.length;
  }
  const header = Buffer.from(JSON.stringify({ meta: ckpt.meta, tensors: entries }));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(header.length);
  const hash = createHash('sha256');
  const parts = [MAGIC, len, header, ...bodies];
  for (const p of parts) hash.update(p);
  writeFileAtomic(path, [...parts, hash.digest()]);
}

export function loadCheckpoint<M = Record<string, unknown>>(path: string): Checkpoint<M> {
  if (!existsSync(path)) throw new UserError(`checkpoint ${path} not found`);
  const b = readFileSync(path);
  const bad = (why: string): never => { throw new UserError(`checkpoint ${path} is corrupt: ${why}`); };
  if (b.length < 8 + 4 + 32 || !b.subarray(0, 8).equals(MAGIC)) bad('not an autospeech checkpoint (bad magic)');
  const digest = createHash('sha256').update(b.subarray(0, b.length - 32)).digest();
  if (!digest.equals(b.subarray(b.length - 32))) bad('checksum mismatch (truncated or modified)');
  const hlen = b.readUInt32LE(8);
  let header: { meta: M; tensors: { name: string; dtype: NpyDType; shape: number[]; offset: number; bytes: number }[] };
  try {
    header = JSON.parse(b.subarray(12, 12 + hlen).toString());
  } catch {
    return bad('unreadable header');
  }
  const base = 12 + hlen;
  const tensors = new Map<string, CheckpointTensor>();
  for (const e of header.tensors) {
    const raw = new Uint8Array(e.bytes);
    raw.set(b.subarray(base + e.offset, base + e.offset + e.bytes));
    const data = e.dtype === 'float32' ? new Float32Array(raw.buffer) : e.dtype === 'int64' ? new BigInt64Array(raw.buffer)
      : e.dtype === 'float64' ? new Float64Array(raw.buffer) : e.dtype === 'int32' ? new Int32Array(raw.buffer) : raw;
    tensors.set(e.name, { data, shape: e.shape, dtype: e.dtype });
  }
  return { meta: header.meta, tensors };
}
