// TensorBoard event files (events.out.tfevents.<time>.<host>) with scalar summaries, written
// without TensorFlow: records are [u64 length][masked crc32c of length][Event proto][masked crc32c],
// the Event protos hand-encoded (wall_time=1 double, step=2 int64, file_version=3, summary=5;
// Summary.value=1 {tag=1, simple_value=2 float}). readEvents() decodes and checks them.
import { appendFileSync, closeSync, fsyncSync, openSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

import { maskedCrc32c } from '../io/crc.ts';

function varint(n: number | bigint): number[] {
  let v = BigInt(n);
  if (v < 0n) v = (1n << 64n) + v;
  const out: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    out.push(b);
  } while (v > 0n);
  return out;
}

function field(num: number, wire: number): number[] {
  return varint((num << 3) | wire);
}

function lengthDelimited(num: number, bytes: Uint8Array | number[]): number[] {
  return [...field(num, 2), ...varint(bytes.length), ...bytes];
}

function event(wallTime: number, step: number, body: number[]): Uint8Array {
  const wt = Buffer.alloc(8);
  wt.writeDoubleLE(wallTime);
  return Uint8Array.from([...field(1, 1), ...wt, ...field(2, 0), ...varint(step), ...body]);
}

function record(data: Uint8Array): Buffer {
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(data.length));
  const c1 = Buffer.alloc(4), c2 = Buffer.alloc(4);
  c1.writeUInt32LE(maskedCrc32c(len));
  c2.writeUInt32LE(maskedCrc32c(data));
  return Buffer.concat([len, c1, Buffer.from(data), c2]);
}

export class EventWriter {
  readonly path: string;
  private pending: Buffer[] = [];

  constructor(logDir: string, now = Date.now()) {
    this.path = join(logDir, `events.out.tfevents.${Math.floor(now / 1000)}.${hostname()}`);
    appendFileSync(this.path, record(event(now / 1000, 0, lengthDelimited(3, Buffer.from('brain.Event:2')))));
  }

  scalar(tag: string, value: number, step: number, wallTime = Date.now() / 1000): void {
    const sv = Buffer.alloc(4);
    sv.writeFloatLE(value);
    const val = [...lengthDelimited(1, Buffer.from(tag)), ...field(2, 5), ...sv];
    const summary = lengthDelimited(1, val);
    this.pending.push(record(event(wallTime, step, lengthDelimited(5, summary))));
  }

  flush(): void {
    if (this.pending.length === 0) return;
    const fd = openSync(this.path, 'a');
    try {
      for (const r of this.pending) appendFileSync(fd, r);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    this.pending = [];
  }
}

export interface ScalarEvent { step: number; wallTime: number; tag: string; value: number }

/** Decodes an event file, verifying both CRCs of every record. */
export function readEvents(path: string): { fileVersion?: string; scalars: ScalarEvent[] } {
  const b = readFileSync(path);
  const scalars: ScalarEvent[] = [];
  let fileVersion: string | undefined;
  let off = 0;
  while (off < b.length) {
    if (off + 12 > b.length) throw new Error(`${path}: truncated record header at byte ${off}`);
    const lenBytes = b.subarray(off, off + 8);
    const len = Number(b.readBigUInt64LE(off));
    if (b.readUInt32LE(off + 8) !== maskedCrc32c(lenBytes)) throw new Error(`${path}: bad length CRC at byte ${off}`);
    const data = b.subarray(off + 12, off + 12 + len);
    if (data.length !== len || off + 16 + len > b.length) throw new Error(`${path}: truncated record at byte ${off}`);
    if (b.readUInt32LE(off + 12 + len) !== maskedCrc32c(data)) throw new Error(`${path}: bad data CRC at byte ${off}`);
    off += 16 + len;
    // decode Event
    let p = 0, wallTime = 0, step = 0;
    const readVarint = (buf: Uint8Array) => {
      let r = 0n, shift = 0n;
      for (;;) {
        const byte = buf[p++];
        r |= BigInt(byte & 0x7f) << shift;
        if (!(byte & 0x80)) break;
        shift += 7n;
      }
      return r;
    };
    const tags: { tag: string; value: number }[] = [];
    while (p < data.length) {
      const key = Number(readVarint(data));
      const num = key >> 3, wire = key & 7;
      if (wire === 1) { if (num === 1) wallTime = Buffer.from(data.subarray(p, p + 8)).readDoubleLE(); p += 8; }
      else if (wire === 0) { const v = readVarint(data); if (num === 2) step = Number(v); }
      else if (wire === 2) {
        const l = Number(readVarint(data));
        const sub = data.subarray(p, p + l);
        p += l;
        if (num === 3) fileVersion = Buffer.from(sub).toString();
        if (num === 5) {
          // Summary: repeated value (1)
          let q = 0;
          while (q < sub.length) {
            const k = sub[q++]; // field 1, wire 2
            let vl = 0, sh = 0;
            for (;;) { const byte = sub[q++]; vl |= (byte & 0x7f) << sh; if (!(byte & 0x80)) break; sh += 7; }
            const val = sub.subarray(q, q + vl);
            q += vl;
            if (k !== 0x0a) continue;
            let r = 0, tag = '', value = NaN;
            while (r < val.length) {
              const vk = val[r++];
              if (vk === 0x0a) { const tl = val[r++]; tag = Buffer.from(val.subarray(r, r + tl)).toString(); r += tl; }
              else if (vk === 0x15) { value = Buffer.from(val.subarray(r, r + 4)).readFloatLE(); r += 4; }
              else break;
            }
            tags.push({ tag, value });
          }
        }
      } else if (wire === 5) p += 4;
      else throw new Error(`${path}: unsupported wire type ${wire}`);
    }
    for (const t of tags) scalars.push({ step, wallTime, ...t });
  }
  return { fileVersion, scalars };
}
