// The VoxCeleb1 release layout as the reference reads it: <root>/dev/wav/<spk>/<video>/<nnnnn>.wav
// and <root>/test/wav/... (or a flat <root>/wav/...), iden_split.txt, veri_test.txt (and the cleaned
// lists when present), vox1_meta.csv (tab-separated despite its name).
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';

import { UserError } from '../errors.ts';

export interface Utterance {
  /** spk/video/nnnnn.wav, the key the split and trial files use */
  path: string;
  speaker: string;
  /** 'dev' | 'test' (or 'wav' for a flat layout) */
  part: string;
  file: string;
}

export interface Trial { label: 0 | 1; a: string; b: string }

export interface ScanError { file: string; reason: string }

/**
 * Every .wav under dir (relative paths, sorted), following symlinks. A dangling link, a link loop or
 * an unreadable entry is a per-file error record, not an abort; a directory reached twice through
 * links (a cycle) is walked once.
 */
function listWavs(dir: string, errors: ScanError[]): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const walk = (d: string, rel: string) => {
    const real = realpathSync(d);
    if (seen.has(real)) {
      errors.push({ file: d, reason: `symlink cycle: ${real} was already scanned` });
      return;
    }
    seen.add(real);
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch (err) {
      errors.push({ file: d, reason: `cannot list the directory: ${(err as Error).message}` });
      return;
    }
    for (const name of names) {
      const full = join(d, name);
      const r = rel ? `${rel}/${name}` : name;
      let isDir: boolean;
      try {
        isDir = statSync(full).isDirectory();
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        let target = '';
        try { if (lstatSync(full).isSymbolicLink()) target = readlinkSync(full); } catch { /* unreadable: reported below */ }
        const reason = code === 'ELOOP' ? `symlink loop (${full} -> ${target})` : code === 'ENOENT' && target ? `dangling symlink to ${target}`
          : `cannot stat: ${(err as Error).message}`;
        if (name.toLowerCase().endsWith('.wav') || target) errors.push({ file: full, reason });
        continue;
      }
      if (isDir) walk(full, r);
      else if (name.toLowerCase().endsWith('.wav')) out.push(r);
    }
  };
  walk(dir, '');
  return out;
}

/** The utterances of a VoxCeleb1-layout root, and the entries that could not be scanned. */
export function scanVoxCeleb(root: string): { utterances: Utterance[]; errors: ScanError[] } {
  if (!existsSync(root) || !statSync(root).isDirectory()) throw new UserError(`data directory ${root} does not exist`);
  const parts = ['dev', 'test'].filter((p) => existsSync(join(root, p, 'wav')));
  const dirs = parts.length ? parts.map((p) => ({ part: p, dir: join(root, p, 'wav') })) : existsSync(join(root, 'wav')) ? [{ part: 'wav', dir: join(root, 'wav') }] : [];
  if (dirs.length === 0) throw new UserError(`${root}: no dev/wav, test/wav or wav/ directory (expected the VoxCeleb1 layout <root>/dev/wav/<spk>/<video>/<nnnnn>.wav)`);
  const utts: Utterance[] = [];
  const errors: ScanError[] = [];
  for (const { part, dir } of dirs) {
    for (const rel of listWavs(dir, errors)) {
      const pieces = rel.split('/');
      if (pieces.length !== 3) throw new UserError(`${join(dir, rel)}: expected <spk>/<video>/<nnnnn>.wav under ${dir}`);
      utts.push({ path: rel, speaker: pieces[0], part, file: join(dir, rel) });
    }
  }
  if (utts.length === 0) throw new UserError(`${root}: no .wav files found${errors.length ? ` (${errors.length} entries could not be scanned, e.g. ${errors[0].file}: ${errors[0].reason})` : ''}`);
  return { utterances: utts, errors };
}

function lines(file: string): { text: string; line: number }[] {
  return readFileSync(file, 'utf8').split('\n').map((text, i) => ({ text: text.trim(), line: i + 1 })).filter((l) => l.text !== '');
}

/** iden_split.txt: `<1|2|3> spk/video/nnnnn.wav` -> split per path (1 train, 2 val, 3 test). */
export function readIdenSplit(file: string): Map<string, 1 | 2 | 3> {
  if (!existsSync(file)) throw new UserError(`${file} not found (the identification split)`);
  const out = new Map<string, 1 | 2 | 3>();
  for (const { text, line } of lines(file)) {
    const m = /^([123])\s+(\S+)$/.exec(text);
    if (!m) throw new UserError(`${file}:${line}: expected '<1|2|3> spk/video/nnnnn.wav', got '${text}'`);
    out.set(m[2], Number(m[1]) as 1 | 2 | 3);
  }
  return out;
}

/** veri_test.txt (and veri_test2.txt etc.): `<1|0> path path`. */
export function readTrials(file: string): Trial[] {
  if (!existsSync(file)) throw new UserError(`${file} not found (the verification trial list)`);
  return lines(file).map(({ text, line }) => {
    const m = /^([01])\s+(\S+)\s+(\S+)$/.exec(text);
    if (!m) throw new UserError(`${file}:${line}: expected '<1|0> path path', got '${text}'`);
    return { label: Number(m[1]) as 0 | 1, a: m[2], b: m[3] };
  });
}

export interface MetaRow { id: string; name: string; gender: string; nationality: string; set: string }

export function readMeta(file: string): MetaRow[] {
  if (!existsSync(file)) return [];
  const rows = lines(file).slice(1);
  return rows.map(({ text, line }) => {
    const f = text.split('\t');
    if (f.length < 5) throw new UserError(`${file}:${line}: expected 5 tab-separated columns, got ${f.length}`);
    return { id: f[0], name: f[1], gender: f[2], nationality: f[3], set: f[4] };
  });
}
