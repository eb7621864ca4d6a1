// The reference's per-utterance feature layout, both ways:
//   feature/<split>/<spk>/<video>_<nnnnn>.npy with feature/<split>/<spk>/_sources.txt
//   (`<npy name>,<wav path>` per line) and _sources_{train,val,test}.txt for the iden partition,
//   plus mean.npy/std.npy at the root; <split> is dev or test (the reference also copies both into
//   merged/, which readers can recreate by symlinking).
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readNpy, writeNpy } from '../io/npy.ts';
import { BINS } from './features.ts';
import { FeatureStore, STORE_VERSION, type StoreIndex, type StoredUtterance, shardInfo } from './store.ts';

const npyName = (path: string) => path.split('/').slice(1).join('_').replace(/\.wav$/, '.npy');

export function exportReferenceLayout(store: FeatureStore, out: string): number {
  const bySpeaker = new Map<string, number[]>();
  store.index.utterances.forEach((u, i) => {
    const key = `${u.part === 'wav' ? 'dev' : u.part}/${u.speaker}`;
    bySpeaker.set(key, [...(bySpeaker.get(key) ?? []), i]);
  });
  for (const [key, items] of bySpeaker) {
    const dir = join(out, 'feature', key);
    mkdirSync(dir, { recursive: true });
    const lines: Record<string, string[]> = { '': [], train: [], val: [], test: [] };
    for (const i of items) {
      const u = store.index.utterances[i];
      writeNpy(join(dir, npyName(u.path)), { data: store.read(i), shape: [u.frames, BINS] });
      const line = `${npyName(u.path)},${join(u.part === 'wav' ? 'wav' : `${u.part}/wav`, u.path)}`;
      lines[''].push(line);
      if (u.iden) lines[['', 'train', 'val', 'test'][u.iden]].push(line);
    }
    for (const [part, l] of Object.entries(lines)) writeFileAtomic(join(dir, part ? `_sources_${part}.txt` : '_sources.txt'), l.map((x) => x + '\n').join(''));
  }
  const { mean, std } = store.meanStd();
  writeNpy(join(out, 'mean.npy'), { data: mean, shape: [BINS] });
  writeNpy(join(out, 'std.npy'), { data: std, shape: [BINS] });
  return store.index.utterances.length;
}

/** Reads feature/{dev,test}/<spk>/ (or feature/merged) back into a store at `out`. */
export function importReferenceLayout(root: string, out: string): StoreIndex {
  const feature = join(root, 'feature');
  const parts = ['dev', 'test'].filter((p) => existsSync(join(feature, p)));
  if (parts.length === 0) throw new UserError(`${feature}: no dev/ or test/ directory of per-utterance features`);
  const utterances: StoredUtterance[] = [];
  const chunks: Float32Array[] = [];
  let offset = 0;
  for (const part of parts) {
    for (const spk of readdirSync(join(feature, part)).sort()) {
      const dir = join(feature, part, spk);
      if (!statSync(dir).isDirectory()) continue;
      const sourcesFile = join(dir, '_sources.txt');
      if (!existsSync(sourcesFile)) throw new UserError(`${dir}: no _sources.txt`);
      const iden = new Map<string, 1 | 2 | 3>();
      (['train', 'val', 'test'] as const).forEach((p, k) => {
        const f = join(dir, `_sources_${p}.txt`);
        if (existsSync(f)) for (const l of readFileSync(f, 'utf8').split('\n')) if (l.trim()) iden.set(l.split(',')[0], (k + 1) as 1 | 2 | 3);
      });
      readFileSync(sourcesFile, 'utf8').split('\n').forEach((line, n) => {
        if (!line.trim()) return;
        const [name, wav] = line.split(',');
        if (!name || !wav) throw new UserError(`${sourcesFile}:${n + 1}: expected '<npy name>,<wav path>'`);
        const a = readNpy(join(dir, name));
        if (a.dtype !== 'float32' || a.shape.length !== 2 || a.shape[1] !== BINS) throw new UserError(`${join(dir, name)}: expected (T, ${BINS}) float32, got ${a.dtype} [${a.shape}]`);
        const rel = wav.split('/').slice(-3).join('/');
        utterances.push({ path: rel, speaker: spk, part, iden: iden.get(name) ?? 0, shard: 0, offset, frames: a.shape[0] });
        chunks.push(a.data as Float32Array);
        offset += a.shape[0];
      });
    }
  }
  mkdirSync(out, { recursive: true });
  writeFileAtomic(join(out, 'shard_0000.f32'), chunks.map((c) => new Uint8Array(c.buffer, c.byteOffset, c.byteLength)));
  for (const f of ['mean.npy', 'std.npy']) {
    if (!existsSync(join(root, f))) throw new UserError(`${root}: no ${f} (the reference writes mean.npy and std.npy next to feature/)`);
    const a = readNpy(join(root, f));
    writeNpy(join(out, f), { data: a.data as Float32Array, shape: [BINS] });
  }
  const index: StoreIndex = { version: STORE_VERSION, bins: BINS, shards: [shardInfo(out, 0)], utterances, skipped: [], errors: [] };
  writeFileAtomic(join(out, 'index.json'), JSON.stringify(index));
  return index;
}
