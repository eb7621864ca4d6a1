// A minimal ZIP writer (stored entries, no compression) and reader (stored or deflated) for PyTorch's serialization format.
// Entry data is aligned to 64 bytes with an extra field, as torch.save does (mmap-friendly).
import { writeFileAtomic } from './atomic.ts';
import { crc32 } from './crc.ts';
import { inflateRawSync } from 'node:zlib';

export function writeStoredZip(path: string, entries: { name: string; data: Uint8Array }[]): void {
  const parts: Uint8Array[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const headerLen = 30 + name.length;
    const pad = (64 - ((offset + headerLen + 4) % 64)) % 64;
    const extra = Buffer.alloc(4 + pad);
    extra.writeUInt16LE(0xcafe, 0); // private alignment field
    extra.writeUInt16LE(pad, 2);
    const crc = crc32(e.data);
    if (e.data.length >= 0xffffffff || offset >= 0xffffffff) throw new Error(`zip: ${e.name} is too large for a non-zip64 archive`);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(e.data.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(extra.length, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(20, 4);
    cd.writeUInt16LE(20, 6);
    cd.writeUInt32LE(crc, 16);
    cd.writeUInt32LE(e.data.length, 20);
    cd.writeUInt32LE(e.data.length, 24);
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt32LE(offset, 42);
    central.push(Buffer.concat([cd, name]));
    parts.push(local, name, extra, e.data);
    offset += 30 + name.length + extra.length + e.data.length;
  }
  const cdBytes = Buffer.concat(central);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cdBytes.length, 12);
  end.writeUInt32LE(offset, 16);
  writeFileAtomic(path, [...parts, cdBytes, end]);
}

export interface ZipEntry { name: string; data: Buffer }

/**
 * Reads a ZIP archive's entries (stored or deflated; no zip64, no encryption), checking each CRC.
 * `where` names the file in errors. This is what torch.save's archives need (stored, 64-byte aligned).
 */
export function readZip(b: Buffer, where: string): Map<string, ZipEntry> {
  const bad = (why: string): never => { throw new ZipError(`${where}: ${why}`); };
  let end = -1;
  for (let i = b.length - 22; i >= Math.max(0, b.length - 22 - 0xffff); i--) if (b.readUInt32LE(i) === 0x06054b50) { end = i; break; }
  if (end < 0) bad('not a zip archive or truncated (no end-of-central-directory record)');
  const count = b.readUInt16LE(end + 10), cdSize = b.readUInt32LE(end + 12), cdOffset = b.readUInt32LE(end + 16);
  if (count === 0xffff || cdOffset === 0xffffffff) bad('a zip64 archive (over 4 GB or 65535 entries) is not supported');
  if (cdOffset + cdSize > end) bad('truncated (central directory past the end)');
  const out = new Map<string, ZipEntry>();
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > end || b.readUInt32LE(p) !== 0x02014b50) bad(`corrupt central directory (entry ${k})`);
    const method = b.readUInt16LE(p + 10), crc = b.readUInt32LE(p + 16), csize = b.readUInt32LE(p + 20), usize = b.readUInt32LE(p + 24);
    const nlen = b.readUInt16LE(p + 28), xlen = b.readUInt16LE(p + 30), clen = b.readUInt16LE(p + 32), local = b.readUInt32LE(p + 42);
    const name = b.subarray(p + 46, p + 46 + nlen).toString('utf8');
    p += 46 + nlen + xlen + clen;
    if (csize === 0xffffffff || usize === 0xffffffff || local === 0xffffffff) bad(`${name}: zip64 entries are not supported`);
    if (local + 30 > b.length || b.readUInt32LE(local) !== 0x04034b50) bad(`${name}: corrupt local header`);
    const start = local + 30 + b.readUInt16LE(local + 26) + b.readUInt16LE(local + 28);
    if (start + csize > b.length) bad(`${name}: truncated (its data runs past the end of the file)`);
    const raw = b.subarray(start, start + csize);
    let data: Buffer;
    if (method === 0) data = raw;
    else if (method === 8) {
      try { data = inflateRawSync(raw); } catch (err) { return bad(`${name}: corrupt deflate data (${(err as Error).message})`); }
    } else return bad(`${name}: compression method ${method} is not supported (stored or deflate only)`);
    if (data.length !== usize) bad(`${name}: ${data.length} bytes, the directory says ${usize}`);
    if (crc32(data) !== crc) bad(`${name}: CRC mismatch (corrupt)`);
    out.set(name, { name, data });
  }
  return out;
}

export class ZipError extends Error {
  constructor(message: string) { super(message); this.name = 'ZipError'; }
}
