// Writes a state_dict in PyTorch's zip serialization (what torch.save produces since 1.6), so that
// `torch.load(path)` + `model.load_state_dict(sd, strict=True)` accepts it: archive/data.pkl is a
// protocol-2 pickle of an OrderedDict whose tensors are torch._utils._rebuild_tensor_v2 calls on
// persistent storages ('storage', torch.FloatStorage, key, 'cpu', numel), archive/data/<key> holds
// the raw little-endian bytes, archive/version is 3.
import { basename } from 'node:path';

import type { NpyData, NpyDType } from './npy.ts';
import { writeStoredZip } from './zip.ts';

export interface TorchTensor { data: NpyData; shape: number[]; dtype: NpyDType }

class Pickler {
  private out: number[] = [];
  private op(...bytes: number[]) { this.out.push(...bytes); }
  private u32(n: number) { this.op(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff); }
  proto() { this.op(0x80, 2); }
  global(module: string, name: string) { this.op(0x63, ...Buffer.from(`${module}\n${name}\n`, 'utf8')); }
  str(s: string) { const b = Buffer.from(s, 'utf8'); this.op(0x58); this.u32(b.length); this.op(...b); }
  int(n: number) {
    if (n >= 0 && n < 2 ** 31) { this.op(0x4a); this.u32(n); return; }
    // LONG1 for anything larger
    const bytes: number[] = [];
    let v = BigInt(n);
    while (v > 0n) { bytes.push(Number(v & 0xffn)); v >>= 8n; }
    if (bytes[bytes.length - 1] & 0x80) bytes.push(0);
    this.op(0x8a, bytes.length, ...bytes);
  }
  mark() { this.op(0x28); }
  tuple() { this.op(0x74); }
  emptyTuple() { this.op(0x29); }
  reduce() { this.op(0x52); }
  binpersid() { this.op(0x51); }
  setitems() { this.op(0x75); }
  newfalse() { this.op(0x89); }
  stop() { this.op(0x2e); }
  bytes(): Uint8Array { return Uint8Array.from(this.out); }
}

const STORAGE: Partial<Record<NpyDType, string>> = { float32: 'FloatStorage', float64: 'DoubleStorage', int64: 'LongStorage', int32: 'IntStorage', uint8: 'ByteStorage' };

export function saveTorchStateDict(path: string, entries: [string, TorchTensor][]): void {
  const p = new Pickler();
  p.proto();
  p.global('collections', 'OrderedDict');
  p.emptyTuple();
  p.reduce();
  p.mark();
  const records: { name: string; data: Uint8Array }[] = [];
  entries.forEach(([name, t], i) => {
    const storage = STORAGE[t.dtype];
    if (!storage) throw new Error(`torch export: dtype ${t.dtype} of '${name}' is not supported`);
    const numel = t.shape.reduce((a, b) => a * b, 1);
    p.str(name);
    p.global('torch._utils', '_rebuild_tensor_v2');
    p.mark();
    p.mark();
    p.str('storage');
    p.global('torch', storage);
    p.str(String(i));
    p.str('cpu');
    p.int(numel);
    p.tuple();
    p.binpersid();
    p.int(0);
    p.mark();
    for (const d of t.shape) p.int(d);
    p.tuple();
    p.mark();
    let stride = 1;
    const strides = t.shape.map(() => 0);
    for (let k = t.shape.length - 1; k >= 0; k--) { strides[k] = stride; stride *= t.shape[k]; }
    for (const s of strides) p.int(s);
    p.tuple();
    p.newfalse();
    p.global('collections', 'OrderedDict');
    p.emptyTuple();
    p.reduce();
    p.tuple();
    p.reduce();
    records.push({ name: `data/${i}`, data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength) });
  });
  p.setitems();
  p.stop();
  const root = basename(path).replace(/\.[^.]*$/, '') || 'archive';
  writeStoredZip(path, [
    { name: `${root}/data.pkl`, data: p.bytes() },
    ...records.map((r) => ({ name: `${root}/${r.name}`, data: r.data })),
    { name: `${root}/version`, data: Buffer.from('3\n') },
  ]);
}
