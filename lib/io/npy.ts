// NumPy .npy reading and writing (format 1.0/2.0/3.0 read, 1.0 written; little-endian, C order).
// Supported dtypes: float32, float64, int64, int32, uint8, bool. Errors name the file.
import { readFileSync } from 'node:fs';

import { writeFileAtomic } from './atomic.ts';

export type NpyDType = 'float32' | 'float64' | 'int64' | 'int32' | 'uint8' | 'bool';
export type NpyData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface NpyArray {
  dtype: NpyDType;
  shape: number[];
  data: NpyData;
}

const DESCR: Record<string, NpyDType> = {
  '<f4': 'float32', '<f8': 'float64', '<i8': 'int64', '<i4': 'int32', '|u1': 'uint8', '<u1': 'uint8', '|b1': 'bool',
};
const DESCR_OF: Record<NpyDType, string> = {
  float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1', bool: '|b1',
};
const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

export class NpyError extends Error {
  constructor(where: string, message: string) {
    super(`${where}: ${message}`);
    this.name = 'NpyError';
  }
}

function parseHeader(header: string, where: string): { descr: string; fortran: boolean; shape: number[] } {
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined)
    throw new NpyError(where, `malformed .npy header ${JSON.stringify(header.trim())}`);
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map((s) => {
      const n = Number(s.replace(/L$/, ''));
      if (!Number.isInteger(n) || n < 0) throw new NpyError(where, `bad shape entry '${s}' in header`);
      return n;
    });
  return { descr, fortran: fortran === 'True', shape };
}

/** Parses .npy bytes. `where` names the source in errors. */
export function parseNpy(buf: Uint8Array, where = '<buffer>'): NpyArray {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 10 || !b.subarray(0, 6).equals(MAGIC)) throw new NpyError(where, 'not a .npy file (bad magic)');
  const major = b[6];
  let headerLen: number;
  let offset: number;
  if (major === 1) {
    headerLen = b.readUInt16LE(8);
    offset = 10;
  } else if (major === 2 || major === 3) {
    if (b.length < 12) throw new NpyError(where, 'truncated header');
    headerLen = b.readUInt32LE(8);
    offset = 12;
  } else {
    throw new NpyError(where, `unsupported .npy format version ${major}`);
  }
  if (offset + headerLen > b.length) throw new NpyError(where, 'truncated header');
  const header = b.subarray(offset, offset + headerLen).toString(major === 3 ? 'utf8' : 'latin1');
  const { descr, fortran, shape } = parseHeader(header, where);
  const dtype = DESCR[descr];
  if (!dtype) throw new NpyError(where, `unsupported dtype '${descr}' (float32, float64, int64, int32, uint8, bool are)`);
  const count = shape.reduce((a, d) => a * d, 1);
  const dataStart = offset + headerLen;
  const itemSize = dtype === 'float64' || dtype === 'int64' ? 8 : dtype === 'float32' || dtype === 'int32' ? 4 : 1;
  const bytes = count * itemSize;
  if (b.length - dataStart < bytes)
    throw new NpyError(where, `truncated data: header promises ${bytes} bytes, file has ${b.length - dataStart}`);
  if (b.length - dataStart > bytes) throw new NpyError(where, `${b.length - dataStart - bytes} trailing bytes after the data`);
  if (fortran && shape.length > 1) throw new NpyError(where, 'Fortran-order arrays are not supported (save with C order)');
  // Copy into a fresh, aligned buffer.
  const raw = new Uint8Array(bytes);
  raw.set(b.subarray(dataStart, dataStart + bytes));
  let data: NpyData;
  switch (dtype) {
    case 'float32': data = new Float32Array(raw.buffer); break;
    case 'float64': data = new Float64Array(raw.buffer); break;
    case 'int64': data = new BigInt64Array(raw.buffer); break;
    case 'int32': data = new Int32Array(raw.buffer); break;
    default: data = raw; break;
  }
  return { dtype, shape, data };
}

export function readNpy(path: string): NpyArray {
  let buf: Buffer;
  try {
    buf = readFileSync(path);
  } catch (err) {
    throw new NpyError(path, (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : String(err));
  }
  return parseNpy(buf, path);
}

function dtypeOfData(data: NpyData): NpyDType {
  if (data instanceof Float32Array) return 'float32';
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof BigInt64Array) return 'int64';
  if (data instanceof Int32Array) return 'int32';
  return 'uint8';
}

/** Serialises to .npy 1.0 bytes (header padded to a multiple of 64, as numpy does). */
export function formatNpy(arr: { data: NpyData; shape: number[]; dtype?: NpyDType }): Uint8Array[] {
  const dtype = arr.dtype ?? dtypeOfData(arr.data);
  const count = arr.shape.reduce((a, d) => a * d, 1);
  if (count !== arr.data.length) throw new Error(`npy: shape [${arr.shape}] needs ${count} elements, data has ${arr.data.length}`);
  const shapeText = arr.shape.length === 1 ? `(${arr.shape[0]},)` : `(${arr.shape.join(', ')})`;
  let header = `{'descr': '${DESCR_OF[dtype]}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const pre = Buffer.alloc(10);
  MAGIC.copy(pre, 0);
  pre[6] = 1;
  pre[7] = 0;
  pre.writeUInt16LE(header.length, 8);
  const body = new Uint8Array(arr.data.buffer, arr.data.byteOffset, arr.data.byteLength);
  return [pre, Buffer.from(header, 'latin1'), body];
}

/** Writes atomically (temp file + rename). */
export function writeNpy(path: string, arr: { data: NpyData; shape: number[]; dtype?: NpyDType }): void {
  writeFileAtomic(path, formatNpy(arr));
}
