// Kaldi binary archives of float vectors, as Kaldi's copy-vector and kaldiio write them: per entry
// `<key> ` then the binary marker `\0B`, the type token `FV ` (float32; `DV ` float64 on reading),
// the size byte `\4`, the little-endian int32 dimension and the values. The .scp lists
// `<key> <ark path>:<byte offset of the \0B marker>`. Keys are whitespace-free and non-empty.
import { readFileSync } from 'node:fs';

import { UserError } from '../errors.ts';

/** A key Kaldi accepts: non-empty, no whitespace. */
export function checkKaldiKey(key: string, where: string): void {
  if (key === '' || /\s/.test(key)) throw new UserError(`${where}: '${key}' cannot be a Kaldi key (keys are non-empty and have no whitespace)`);
}

/**
 * The ark bytes of `keys.length` float32 vectors of `dim` values (row i of `data`), and the scp text
 * naming `arkPath` with each entry's offset.
 */
export function kaldiVectorArk(keys: readonly string[], data: Float32Array, dim: number, arkPath: string): { ark: Buffer; scp: string } {
  if (data.length !== keys.length * dim) throw new Error(`kaldi ark: ${keys.length} keys of dim ${dim} need ${keys.length * dim} values, got ${data.length}`);
  const parts: Buffer[] = [];
  const scp: string[] = [];
  let offset = 0;
  for (let i = 0; i < keys.length; i++) {
    checkKaldiKey(keys[i], 'kaldi ark');
    const key = Buffer.from(`${keys[i]} `, 'utf8');
    const head = Buffer.alloc(2 + 3 + 1 + 4);
    head.write('\0B', 0, 'latin1');
    head.write('FV ', 2, 'latin1');
    head[5] = 4;
    head.writeInt32LE(dim, 6);
    const body = Buffer.alloc(4 * dim);
    for (let k = 0; k < dim; k++) body.writeFloatLE(data[i * dim + k], 4 * k);
    scp.push(`${keys[i]} ${arkPath}:${offset + key.length}`);
    parts.push(key, head, body);
    offset += key.length + head.length + body.length;
  }
  return { ark: Buffer.concat(parts), scp: scp.length ? scp.join('\n') + '\n' : '' };
}

/** One binary vector at `offset` (its `\0B` marker) of `b`; `where` names the source in errors. */
function vectorAt(b: Buffer, offset: number, where: string): { values: Float32Array; end: number } {
  const fail = (why: string): never => { throw new UserError(`${where}: ${why}`); };
  if (offset + 10 > b.length) fail(`truncated entry at byte ${offset}`);
  if (b[offset] !== 0 || b[offset + 1] !== 0x42) fail(`byte ${offset}: not a binary Kaldi object (expected '\\0B')`);
  const token = b.toString('latin1', offset + 2, offset + 5);
  if (token !== 'FV ' && token !== 'DV ') fail(`byte ${offset}: a '${token.trim()}' object, not a float vector (FV/DV)`);
  if (b[offset + 5] !== 4) fail(`byte ${offset + 5}: size byte ${b[offset + 5]}, expected 4`);
  const dim = b.readInt32LE(offset + 6);
  const width = token === 'FV ' ? 4 : 8;
  const start = offset + 10, end = start + dim * width;
  if (dim < 0 || end > b.length) fail(`vector of dim ${dim} at byte ${offset} runs past the end (truncated?)`);
  const values = new Float32Array(dim);
  for (let k = 0; k < dim; k++) values[k] = width === 4 ? b.readFloatLE(start + 4 * k) : b.readDoubleLE(start + 8 * k);
  return { values, end };
}

/** Every `(key, vector)` of a binary ark file, in order. */
export function readKaldiVectorArk(file: string): { key: string; values: Float32Array }[] {
  const b = readFileSync(file);
  const out: { key: string; values: Float32Array }[] = [];
  let at = 0;
  while (at < b.length) {
    const space = b.indexOf(0x20, at);
    if (space < 0) throw new UserError(`${file}: byte ${at}: a key without its vector (truncated?)`);
    const key = b.toString('utf8', at, space);
    checkKaldiKey(key, `${file}: byte ${at}`);
    const v = vectorAt(b, space + 1, file);
    out.push({ key, values: v.values });
    at = v.end;
  }
  return out;
}

/** The vectors an scp names (`key ark:offset` per line), in its order; each ark is read once. */
export function readKaldiVectorScp(scp: string): { key: string; values: Float32Array }[] {
  const arks = new Map<string, Buffer>();
  const out: { key: string; values: Float32Array }[] = [];
  readFileSync(scp, 'utf8').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '') return;
    const where = `${scp}:${i + 1}`;
    const m = /^(\S+)\s+(.+):(\d+)$/.exec(line);
    if (!m) throw new UserError(`${where}: expected '<key> <ark file>:<offset>', got '${line}'`);
    const [, key, ark, off] = m;
    let b = arks.get(ark);
    if (!b) {
      try {
        b = readFileSync(ark);
      } catch (err) {
        throw new UserError(`${where}: cannot read ${ark}: ${(err as Error).message}`);
      }
      arks.set(ark, b);
    }
    out.push({ key, values: vectorAt(b, Number(off), `${ark} (${where})`).values });
  });
  return out;
}
