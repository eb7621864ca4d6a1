// Reads torch.save files without Python: the zip format (PyTorch >= 1.6: <root>/data.pkl, whose
// persistent ids ('storage', torch.<T>Storage, key, location, numel) name <root>/data/<key>) and
// the legacy format (_use_new_zipfile_serialization=False: the magic-number, protocol and sys_info
// pickles, the object pickle, the pickled list of storage keys, then each storage as a u64 element
// count + raw bytes). Tensors (torch._utils._rebuild_tensor_v2 / _rebuild_parameter) come back as
// TorchTensor, copied to contiguous C order from their storage offset and strides; any location
// (cpu, cuda:0) is read as CPU. Besides collections.OrderedDict the only objects it builds are what
// the reference's checkpoints hold around the state_dict: a Genotype namedtuple (-> PyObject),
// range(), NumPy scalars (best_eer) and _codecs.encode (protocol-2 bytes). Anything else is an error
// naming the object. Big-endian archives are refused.
import { readFileSync } from 'node:fs';

import type { NpyData, NpyDType } from './npy.ts';
import { BUILD, PickleError, PyTuple, callable, describe, unpickle } from './pickle.ts';
import type { TorchTensor } from './torch_save.ts';
import { ZipError, readZip } from './zip.ts';

export class TorchLoadError extends Error {
  constructor(message: string) { super(message); this.name = 'TorchLoadError'; }
}

/** An instance of a class the reader knows (the Genotype namedtuple), with its constructor arguments. */
export class PyObject {
  constructor(readonly qualname: string, readonly args: unknown[]) {}
}

/** range(start, stop, step) */
export class PyRange {
  constructor(readonly start: number, readonly stop: number, readonly step: number) {}
  values(): number[] { const out: number[] = []; for (let v = this.start; this.step > 0 ? v < this.stop : v > this.stop; v += this.step) out.push(v); return out; }
}

export interface TorchFile { format: 'zip' | 'legacy'; value: unknown; tensors: number }

const STORAGES: Record<string, { dtype: NpyDType; size: number }> = {
  FloatStorage: { dtype: 'float32', size: 4 }, DoubleStorage: { dtype: 'float64', size: 8 }, LongStorage: { dtype: 'int64', size: 8 },
  IntStorage: { dtype: 'int32', size: 4 }, ByteStorage: { dtype: 'uint8', size: 1 }, BoolStorage: { dtype: 'bool', size: 1 },
};

class StorageType { constructor(readonly qualname: string, readonly dtype: NpyDType, readonly size: number) {} }

class Storage {
  bytes: Buffer | null = null;
  constructor(readonly key: string, readonly type: StorageType, readonly numel: number) {}
}

/** A tensor whose storage may not have been read yet (legacy files keep the storages after the pickle). */
class PendingTensor {
  tensor: TorchTensor | null = null;
  constructor(readonly storage: Storage, readonly offset: number, readonly shape: number[], readonly stride: number[]) {}

  resolve(where: string): TorchTensor {
    if (this.tensor) return this.tensor;
    const { storage, offset, shape, stride } = this;
    const bytes = storage.bytes;
    if (!bytes) throw new TorchLoadError(`${where}: storage ${storage.key} is missing`);
    const el = storage.type.size, numel = shape.reduce((a, d) => a * d, 1);
    const out = Buffer.alloc(numel * el);
    if (numel > 0) {
      let maxIndex = offset;
      for (let k = 0; k < shape.length; k++) maxIndex += (shape[k] - 1) * stride[k];
      if (offset < 0 || maxIndex >= bytes.length / el)
        throw new TorchLoadError(`${where}: a tensor [${shape}] at offset ${offset} with strides [${stride}] runs past its storage ${storage.key} of ${bytes.length / el} elements`);
      const contiguous = shape.every((_, k) => stride[k] === shape.slice(k + 1).reduce((a, d) => a * d, 1) || shape[k] === 1);
      if (contiguous) bytes.copy(out, 0, offset * el, (offset + numel) * el);
      else {
        const idx = shape.map(() => 0);
        for (let i = 0; i < numel; i++) {
          let src = offset;
          for (let k = 0; k < shape.length; k++) src += idx[k] * stride[k];
          bytes.copy(out, i * el, src * el, (src + 1) * el);
          for (let k = shape.length - 1; k >= 0; k--) { if (++idx[k] < shape[k]) break; idx[k] = 0; }
        }
      }
    }
    this.tensor = { dtype: storage.type.dtype, shape, data: typed(out, storage.type.dtype) };
    return this.tensor;
  }
}

function typed(b: Buffer, dtype: NpyDType): NpyData {
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
  switch (dtype) {
    case 'float32': return new Float32Array(ab);
    case 'float64': return new Float64Array(ab);
    case 'int64': return new BigInt64Array(ab);
    case 'int32': return new Int32Array(ab);
    default: return new Uint8Array(ab);
  }
}

const ints = (v: unknown, what: string): number[] => {
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'number' && Number.isInteger(x))) throw new Error(`${what} is ${describe(v)}, not a tuple of ints`);
  return v as number[];
};

function numpyScalar(dtype: unknown, data: unknown): number | bigint {
  const d = dtype as { descr?: string; order?: string };
  if (!d?.descr || !Buffer.isBuffer(data)) throw new Error(`numpy scalar of ${describe(dtype)} from ${describe(data)}`);
  if (d.order === '>') throw new Error('a big-endian numpy scalar');
  switch (d.descr) {
    case 'f8': return data.readDoubleLE(0);
    case 'f4': return data.readFloatLE(0);
    case 'i8': return Number(data.readBigInt64LE(0));
    case 'i4': return data.readInt32LE(0);
    case 'b1': return data[0];
    default: throw new Error(`numpy scalar of dtype ${d.descr}`);
  }
}

function globalsFor(pending: PendingTensor[]): Record<string, unknown> {
  const g: Record<string, unknown> = {
    'collections.OrderedDict': callable('collections.OrderedDict', () => new Map()),
    'torch._utils._rebuild_tensor_v2': callable('torch._utils._rebuild_tensor_v2', (a) => {
      const [storage, offset, size, stride] = a;
      if (!(storage instanceof Storage)) throw new Error(`a tensor on ${describe(storage)}, not a storage`);
      if (typeof offset !== 'number') throw new Error('a non-integer storage offset');
      const shape = [...ints(size, 'size')], strides = [...ints(stride, 'stride')];
      if (shape.length !== strides.length) throw new Error(`size [${shape}] and stride [${strides}] differ in length`);
      const t = new PendingTensor(storage, offset, shape, strides);
      pending.push(t);
      return t;
    }),
    'torch._utils._rebuild_parameter': callable('torch._utils._rebuild_parameter', (a) => {
      if (!(a[0] instanceof PendingTensor)) throw new Error(`a parameter of ${describe(a[0])}`);
      return a[0];
    }),
    'builtins.range': callable('range', (a) => new PyRange(a[0] as number, a[1] as number, (a[2] as number | undefined) ?? 1)),
    '_codecs.encode': callable('_codecs.encode', (a) => {
      if (typeof a[0] !== 'string' || a[1] !== 'latin1') throw new Error(`encode(${describe(a[0])}, ${String(a[1])})`);
      return Buffer.from(a[0], 'latin1');
    }),
  };
  g['__builtin__.range'] = g['__builtin__.xrange'] = g['builtins.range']; // protocol 2 spells range as Python 2's xrange
  for (const [name, s] of Object.entries(STORAGES)) g[`torch.${name}`] = new StorageType(`torch.${name}`, s.dtype, s.size);
  for (const np of ['numpy.core.multiarray', 'numpy._core.multiarray']) g[`${np}.scalar`] = callable('numpy.scalar', (a) => numpyScalar(a[0], a[1]));
  g['numpy.dtype'] = callable('numpy.dtype', (a) => {
    const d = { descr: String(a[0]), order: '<', [BUILD]: (s: unknown) => { if (s instanceof PyTuple && typeof s[1] === 'string') d.order = s[1]; } };
    return d;
  });
  // the Genotype namedtuple of the reference (utils.py) or a script that defined it itself
  for (const m of ['utils', 'genotypes', 'models.genotypes', '__main__']) g[`${m}.Genotype`] = callable(`${m}.Genotype`, (a) => new PyObject('Genotype', a));
  return g;
}

/** Replaces every PendingTensor in a loaded tree by its TorchTensor. */
function materialise(v: unknown, where: string): unknown {
  if (v instanceof PendingTensor) return v.resolve(where);
  if (v instanceof Map) { for (const [k, x] of v) v.set(k, materialise(x, where)); return v; }
  if (Array.isArray(v)) { for (let i = 0; i < v.length; i++) v[i] = materialise(v[i], where); return v; }
  if (v instanceof PyObject) { for (let i = 0; i < v.args.length; i++) v.args[i] = materialise(v.args[i], where); return v; }
  return v;
}

function storageOf(pid: unknown, storages: Map<string, Storage>, legacy: boolean): Storage {
  if (!(pid instanceof PyTuple) || pid[0] !== 'storage') throw new Error(`persistent id ${describe(pid)} is not a storage`);
  const [, type, key, , numel, view] = pid;
  if (!(type instanceof StorageType)) throw new Error(`a storage of type ${describe(type)}`);
  if (typeof key !== 'string' || typeof numel !== 'number') throw new Error('a malformed storage id');
  if (legacy && view !== null && view !== undefined) throw new Error(`storage ${key} is a view of another storage (torch < 1.0 files): not supported`);
  let s = storages.get(key);
  if (!s) { s = new Storage(key, type, numel); storages.set(key, s); }
  return s;
}

const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;

export function loadTorchFile(path: string): TorchFile {
  let b: Buffer;
  try { b = readFileSync(path); } catch (err) { throw new TorchLoadError(`${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`); }
  try {
    return b.length >= 4 && b.readUInt32LE(0) === 0x04034b50 ? loadZip(b, path) : loadLegacy(b, path);
  } catch (err) {
    if (err instanceof PickleError || err instanceof ZipError || err instanceof TorchLoadError) throw new TorchLoadError(err.message);
    throw err;
  }
}

function wrapStorage(where: string, fn: () => Storage): Storage {
  try { return fn(); } catch (err) { throw new TorchLoadError(`${where}: ${(err as Error).message}`); }
}

function loadZip(b: Buffer, path: string): TorchFile {
  const entries = readZip(b, path);
  const pkl = [...entries.keys()].find((n) => /^[^/]+\/data\.pkl$/.test(n));
  if (!pkl) throw new TorchLoadError(`${path}: a zip archive without <name>/data.pkl (not a torch.save file)`);
  const root = pkl.slice(0, -'data.pkl'.length);
  const order = entries.get(`${root}byteorder`);
  if (order && order.data.toString().trim() !== 'little') throw new TorchLoadError(`${path}: a big-endian archive (byteorder ${order.data.toString().trim()})`);
  const pending: PendingTensor[] = [];
  const storages = new Map<string, Storage>();
  const { value } = unpickle(entries.get(pkl)!.data, {
    where: `${path}: ${pkl}`, globals: globalsFor(pending),
    persistentLoad: (pid) => wrapStorage(path, () => storageOf(pid, storages, false)),
  });
  for (const s of storages.values()) {
    const e = entries.get(`${root}data/${s.key}`);
    if (!e) throw new TorchLoadError(`${path}: storage ${root}data/${s.key} is missing from the archive`);
    if (e.data.length < s.numel * s.type.size) throw new TorchLoadError(`${path}: ${e.name} holds ${e.data.length} bytes, ${s.numel} x ${s.type.size} expected`);
    s.bytes = e.data;
  }
  return { format: 'zip', value: materialise(value, path), tensors: pending.length };
}

function loadLegacy(b: Buffer, path: string): TorchFile {
  if (b.length < 2 || b[0] !== 0x80) throw new TorchLoadError(`${path}: neither a zip archive nor a pickle (not a torch.save file)`);
  const plain = { where: path, globals: {} };
  const magic = unpickle(b, plain, 0);
  if (typeof magic.value !== 'bigint' || magic.value !== LEGACY_MAGIC) throw new TorchLoadError(`${path}: a pickle, but not a torch.save file (no torch magic number)`);
  const proto = unpickle(b, plain, magic.end);
  if (proto.value !== 1001) throw new TorchLoadError(`${path}: torch.save protocol ${String(proto.value)} (this reader knows 1001)`);
  const info = unpickle(b, plain, proto.end);
  if (info.value instanceof Map && info.value.get('little_endian') === false) throw new TorchLoadError(`${path}: written on a big-endian machine`);
  const pending: PendingTensor[] = [];
  const storages = new Map<string, Storage>();
  const obj = unpickle(b, { where: path, globals: globalsFor(pending), persistentLoad: (pid) => wrapStorage(path, () => storageOf(pid, storages, true)) }, info.end);
  const keys = unpickle(b, plain, obj.end);
  if (!Array.isArray(keys.value) || !keys.value.every((k) => typeof k === 'string')) throw new TorchLoadError(`${path}: the storage key list is ${describe(keys.value)}`);
  let p = keys.end;
  for (const key of keys.value as string[]) {
    const s = storages.get(key);
    if (!s) throw new TorchLoadError(`${path}: storage ${key} is listed but no tensor uses it`);
    if (p + 8 > b.length) throw new TorchLoadError(`${path}: truncated: storage ${key} is missing (the file ends at byte ${b.length})`);
    const n = Number(b.readBigUInt64LE(p));
    const len = n * s.type.size;
    if (p + 8 + len > b.length) throw new TorchLoadError(`${path}: truncated: storage ${key} needs ${len} bytes at byte ${p + 8}, the file ends at ${b.length}`);
    s.bytes = b.subarray(p + 8, p + 8 + len);
    p += 8 + len;
  }
  for (const s of storages.values()) if (!s.bytes) throw new TorchLoadError(`${path}: storage ${s.key} is used but not stored`);
  return { format: 'legacy', value: materialise(obj.value, path), tensors: pending.length };
}


export function isTorchTensor(v: unknown): v is TorchTensor {
  return !!v && typeof v === 'object' && 'dtype' in v && 'shape' in v && 'data' in v && ArrayBuffer.isView((v as TorchTensor).data);
}
