// The .bwn file of a binary-weight ResNet (bnn.md §3.4), one little-endian file:
//   "BWN1", u32 header length, UTF-8 JSON header, zero padding to 8 bytes, payload.
// The header names the network (depth, widthMult, activation, classes, binarised layers and their
// options), the conventions (bin(w) = +1 iff w >= 0, bit 1 = +1, LSB first) and every tensor
// (name, kind 'packed' | 'f32', shape, offset into the payload, byte length), plus the payload's
// SHA-256 and the training run it came from. Payload blobs start 8-byte aligned (zero padding).
// Binarised convs are their packed sign streams (lib/bnn/pack.ts) plus alpha as f32 exactly as the
// training-time forward computed it; the fp32 tensors are the stem (unless binarised), BN weight,
// bias, running mean and var (num_batches_tracked is not deployed), PReLU slopes, and the
// classifier only when asked for.
//
// Loading rebuilds W_b = alpha * s (+-alpha exactly) and runs it in the fp32 twin (same module
// tree, binarised keys holding W_b): its embeddings are bit-identical to the BWN's own eval mode.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import type { BinaryLayerInfo, ModelSpec, NativeModel, StateDictEntry } from '../native.ts';
import { packSigns, unpackSigns } from './pack.ts';

const MAGIC = Buffer.from('BWN1', 'latin1');
export const BWN_VERSION = 1;

export interface BwnTensorEntry { name: string; kind: 'packed' | 'f32'; shape: number[]; offset: number; bytes: number }

export interface BwnHeader {
  format: 'bwn';
  version: number;
  arch: string;
  /** the network as the native spec describes it (kind resnet with the binary options) */
  spec: ModelSpec;
  withClassifier: boolean;
  /** binarised convs in state_dict order: module path, alpha mode */
  layers: { name: string; key: string; scale: BinaryLayerInfo['scale'] }[];
  binConvention: 'ge0_plus';
  bitMeaning: '1=+1';
  bitOrder: 'lsb-first';
  byteOrder: 'little-endian';
  omitted: string[];
  tensors: BwnTensorEntry[];
  payloadBytes: number;
  payloadSha256: string;
  run: Record<string, unknown>;
}

export interface BwnFile { header: BwnHeader; headerBytes: number; payloadStart: number; fileBytes: number; tensors: Map<string, { entry: BwnTensorEntry; data: Uint8Array }> }

const align8 = (n: number) => Math.ceil(n / 8) * 8;
const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const isDeployed = (e: StateDictEntry, withClassifier: boolean) =>
  !e.name.endsWith('num_batches_tracked') && (withClassifier || !e.name.startsWith('classifier.'));

/** bytes = headerBytes (magic, length, JSON, its padding) + payloadBytes; the payload holds dataBytes of tensors and paddingBytes of alignment. */
export interface BwnWriteResult { file: string; bytes: number; headerBytes: number; payloadBytes: number; dataBytes: number; paddingBytes: number; tensors: number }

/**
 * Writes `model` (a binary-weight ResNet built from `spec`, holding its trained latent weights) as
 * a .bwn file, atomically. The signs and alphas come from the model itself (Model.binaryLayers).
 */
export function writeBwn(path: string, model: NativeModel, spec: ModelSpec, options: { withClassifier?: boolean; run?: Record<string, unknown>; arch?: string } = {}): BwnWriteResult {
  const withClassifier = !!options.withClassifier;
  const layers = model.binaryLayers();
  if (!layers.length) throw new UserError('export --format bwn: the network has no binary-weight layers (MODEL.NAME resnet18_bwn / resnet34_bwn)');
  const byKey = new Map(layers.map((l) => [l.key, l]));
  const blobs: { entry: Omit<BwnTensorEntry, 'offset'>; data: Uint8Array }[] = [];
  for (const e of model.stateDict()) {
    if (!isDeployed(e, withClassifier)) continue;
    const layer = byKey.get(e.name);
    if (layer) {
      const w = model.getTensor(e.name).data as Float32Array;
      const bits = packSigns(w, `export --format bwn: ${layer.name}`);
      blobs.push({ entry: { name: e.name, kind: 'packed', shape: [...layer.shape], bytes: bits.length }, data: bits });
      if (layer.alpha) {
        const a = layer.alpha.data as Float32Array;
        blobs.push({ entry: { name: `${layer.name}.alpha`, kind: 'f32', shape: [...layer.alpha.shape], bytes: a.byteLength }, data: new Uint8Array(a.buffer, a.byteOffset, a.byteLength) });
      }
      continue;
    }
    if (e.dtype !== 'float32') throw new UserError(`export --format bwn: tensor '${e.name}' is ${e.dtype}, the format holds float32 only`);
    const t = model.getTensor(e.name).data as Float32Array;
    for (let i = 0; i < t.length; i++) if (!Number.isFinite(t[i])) throw new UserError(`export --format bwn: tensor '${e.name}' holds ${t[i]} at ${i} (a diverged run?)`);
    blobs.push({ entry: { name: e.name, kind: 'f32', shape: e.shape, bytes: t.byteLength }, data: new Uint8Array(t.buffer, t.byteOffset, t.byteLength) });
  }
  const entries: BwnTensorEntry[] = [];
  const parts: Uint8Array[] = [];
  let offset = 0, padding = 0;
  for (const b of blobs) {
    const start = align8(offset);
    if (start > offset) { parts.push(new Uint8Array(start - offset)); padding += start - offset; }
    entries.push({ ...b.entry, offset: start });
    parts.push(b.data);
    offset = start + b.data.length;
  }
  const payloadHash = createHash('sha256');
  for (const p of parts) payloadHash.update(p);
  const header: BwnHeader = {
    format: 'bwn', version: BWN_VERSION, arch: options.arch ?? `resnet${spec.depth}_bwn`, spec, withClassifier,
    layers: layers.map((l) => ({ name: l.name, key: l.key, scale: l.scale })),
    binConvention: 'ge0_plus', bitMeaning: '1=+1', bitOrder: 'lsb-first', byteOrder: 'little-endian',
    omitted: ['num_batches_tracked', ...(withClassifier ? [] : ['classifier'])],
    tensors: entries, payloadBytes: offset, payloadSha256: payloadHash.digest('hex'), run: options.run ?? {},
  };
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(4);
  len.writeUInt32LE(json.length);
  const headerPad = align8(8 + json.length) - (8 + json.length);
  writeFileAtomic(path, [MAGIC, len, json, new Uint8Array(headerPad), ...parts]);
  return { file: path, bytes: 8 + json.length + headerPad + offset, headerBytes: 8 + json.length + headerPad, payloadBytes: offset, dataBytes: offset - padding, paddingBytes: padding, tensors: entries.length };
}

/** Reads and validates a .bwn file: magic, version, header, alignment, sizes, hash, padding bits. */
export function readBwn(path: string): BwnFile {
  let b: Buffer;
  try {
    b = readFileSync(path);
  } catch (err) {
    throw new UserError(`${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  const bad = (why: string): never => { throw new UserError(`${path} is not a valid .bwn file: ${why}`); };
  if (b.length < 8 || !b.subarray(0, 4).equals(MAGIC)) bad('bad magic (expected BWN1)');
  const hlen = b.readUInt32LE(4);
  if (8 + hlen > b.length) bad(`the header length ${hlen} runs past the end of the file (${b.length} bytes)`);
  let header: BwnHeader;
  try {
    header = JSON.parse(b.subarray(8, 8 + hlen).toString('utf8'));
  } catch {
    return bad('unreadable header JSON');
  }
  if (header.format !== 'bwn' || header.version !== BWN_VERSION) bad(`format ${JSON.stringify(header.format)} version ${JSON.stringify(header.version)} (this tool reads bwn version ${BWN_VERSION})`);
  if (header.binConvention !== 'ge0_plus' || header.bitMeaning !== '1=+1' || header.bitOrder !== 'lsb-first') bad('unknown bit conventions');
  if (!Array.isArray(header.tensors) || !header.spec || header.spec.kind !== 'resnet') bad('no tensor table or no resnet spec');
  const payloadStart = align8(8 + hlen);
  const payload = b.subarray(payloadStart);
  if (payload.length !== header.payloadBytes) bad(`the payload is ${payload.length} bytes, the header says ${header.payloadBytes} (truncated?)`);
  const digest = createHash('sha256').update(payload).digest('hex');
  if (digest !== header.payloadSha256) bad('payload SHA-256 mismatch (corrupted or modified)');
  const tensors = new Map<string, { entry: BwnTensorEntry; data: Uint8Array }>();
  for (const e of header.tensors) {
    const where = `tensor '${e.name}'`;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) bad(`${where}: bad shape`);
    const need = e.kind === 'packed' ? Math.ceil(numel(e.shape) / 8) : e.kind === 'f32' ? 4 * numel(e.shape) : bad(`${where}: unknown kind ${JSON.stringify(e.kind)}`);
    if (e.bytes !== need) bad(`${where}: ${e.bytes} bytes for shape [${e.shape}] (needs ${need})`);
    if (!Number.isInteger(e.offset) || e.offset % 8 !== 0 || e.offset + e.bytes > payload.length) bad(`${where}: offset ${e.offset} is unaligned or outside the payload`);
    if (tensors.has(e.name)) bad(`${where} appears twice`);
    tensors.set(e.name, { entry: e, data: new Uint8Array(payload.buffer, payload.byteOffset + e.offset, e.bytes) });
  }
  return { header, headerBytes: payloadStart, payloadStart, fileBytes: b.length, tensors };
}

const f32Of = (d: Uint8Array) => new Float32Array(d.slice().buffer);

/** The fp32 twin's spec of a .bwn network: the same tree without binary layers. */
export function twinSpec(spec: ModelSpec): ModelSpec {
  const { binarize: _b, binaryScale: _s, binarySte: _t, binaryAlphaGrad: _a, latentClip: _l, ...rest } = spec;
  return { ...rest, kind: 'resnet' };
}

/**
 * Loads a .bwn into `model`, an fp32 ResNet of twinSpec(header.spec): binarised keys get W_b =
 * alpha * s, the rest their fp32 values; num_batches_tracked 0, and without a stored classifier
 * the model's own (initial) classifier stays (embeddings do not use it). Strict about the tensors.
 */
export function loadBwnInto(model: NativeModel, bwn: BwnFile, path: string): void {
  if (model.binaryLayers().length) throw new UserError(`${path}: a .bwn loads into the fp32 twin of its network (binary layers materialised), not into a binary-weight model`);
  const layerOf = new Map(bwn.header.layers.map((l) => [l.key, l]));
  const used = new Set<string>();
  for (const e of model.stateDict()) {
    if (e.name.endsWith('num_batches_tracked')) {
      model.setTensor(e.name, new BigInt64Array(1), e.shape);
      continue;
    }
    if (e.name.startsWith('classifier.') && !bwn.header.withClassifier) continue;
    const t = bwn.tensors.get(e.name);
    if (!t) throw new UserError(`${path}: no tensor '${e.name}' (the network of this config needs it)`);
    if (t.entry.shape.join(',') !== e.shape.join(',')) throw new UserError(`${path}: tensor '${e.name}' has shape [${t.entry.shape}], the network needs [${e.shape}]`);
    used.add(e.name);
    const layer = layerOf.get(e.name);
    if (t.entry.kind === 'packed') {
      if (!layer) throw new UserError(`${path}: '${e.name}' is packed but not in the layer list`);
      const s = unpackSigns(t.data, numel(e.shape), `${path}: ${e.name}`);
      const O = e.shape[0], n = s.length / O;
      let alpha: Float32Array | null = null;
      if (layer.scale !== 'none') {
        const a = bwn.tensors.get(`${layer.name}.alpha`);
        if (!a) throw new UserError(`${path}: no alpha for ${layer.name}`);
        used.add(`${layer.name}.alpha`);
        alpha = f32Of(a.data);
        if (alpha.length !== (layer.scale === 'channel' ? O : 1)) throw new UserError(`${path}: ${layer.name}.alpha has ${alpha.length} values for scale '${layer.scale}' and ${O} filters`);
      }
      const wb = new Float32Array(s.length);
      for (let j = 0; j < s.length; j++) {
        const a = alpha ? alpha[layer.scale === 'channel' ? Math.floor(j / n) : 0] : 1;
        wb[j] = s[j] > 0 ? a : -a; // alpha * (+-1), exactly as the forward's W_b
      }
      model.setTensor(e.name, wb, e.shape);
    } else {
      if (layer) throw new UserError(`${path}: '${e.name}' is a binarised layer stored as f32`);
      model.setTensor(e.name, f32Of(t.data), e.shape);
    }
  }
  const extra = [...bwn.tensors.keys()].filter((k) => !used.has(k));
  if (extra.length) throw new UserError(`${path}: unexpected tensor(s) ${extra.slice(0, 5).join(', ')} (not in this network)`);
}

/** The materialised state_dict (W_b in place of each binarised latent weight), for a .pth. */
export function materialisedStateDict(model: NativeModel): Map<string, { data: Float32Array | BigInt64Array; shape: number[]; dtype: string }> {
  const wb = new Map(model.binaryLayers({ materialize: true }).map((l) => [l.key, l.wb!]));
  const out = new Map<string, { data: Float32Array | BigInt64Array; shape: number[]; dtype: string }>();
  for (const e of model.stateDict()) {
    const t = wb.get(e.name) ?? model.getTensor(e.name);
    out.set(e.name, { data: t.data as Float32Array | BigInt64Array, shape: t.shape, dtype: t.dtype });
  }
  return out;
}
