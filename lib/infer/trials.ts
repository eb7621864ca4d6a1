// Trial lists as `score` reads them, and how their utterances are found among embedding ids.
// Formats (one per file): VoxCeleb's `<1|0> enrol test` (veri_test.txt, veri_test2.txt,
// list_test_all(2).txt, list_test_hard(2).txt: VoxCeleb1-O, -E, -H and their cleaned versions),
// the label-less `enrol test`, and Kaldi's `enrol test target|nontarget`. A trial utterance such
// as id10270/5r0dWxy17C8/00001.wav matches the embedding id equal to it or ending in
// /id10270/5r0dWxy17C8/00001.wav (ids are the paths `embed` was given, often absolute).
import { existsSync, readFileSync } from 'node:fs';

import { UserError } from '../errors.ts';

export interface ScoreTrial { label: 0 | 1 | null; enrol: string; test: string }

export interface TrialList { file: string; trials: ScoreTrial[]; labelled: boolean }

export function readTrialList(file: string): TrialList {
  if (!existsSync(file)) throw new UserError(`--trials ${file} not found`);
  const trials: ScoreTrial[] = [];
  let form: 'voxceleb' | 'plain' | 'kaldi' | undefined;
  readFileSync(file, 'utf8').split('\n').forEach((raw, i) => {
    const text = raw.replace(/\r$/, '').trim();
    if (text === '' || text.startsWith('#')) return;
    const where = `${file}:${i + 1}`;
    const f = text.split(/\s+/);
    let here: typeof form, t: ScoreTrial;
    if (f.length === 3 && (f[0] === '0' || f[0] === '1')) { here = 'voxceleb'; t = { label: Number(f[0]) as 0 | 1, enrol: f[1], test: f[2] }; }
    else if (f.length === 3 && (f[2] === 'target' || f[2] === 'nontarget')) { here = 'kaldi'; t = { label: f[2] === 'target' ? 1 : 0, enrol: f[0], test: f[1] }; }
    else if (f.length === 2) { here = 'plain'; t = { label: null, enrol: f[0], test: f[1] }; }
    else throw new UserError(`${where}: expected '<1|0> enrol test', 'enrol test' or 'enrol test target|nontarget', got '${text}'`);
    if (form && here !== form) throw new UserError(`${where}: a '${here}' trial line in a list of '${form}' lines ('${text}')`);
    form = here;
    trials.push(t);
  });
  if (trials.length === 0) throw new UserError(`--trials ${file}: no trials`);
  return { file, trials, labelled: form !== 'plain' };
}

const strip = (p: string) => p.replace(/^(\.\/)+/, '');

/** Embedding ids looked up by a trial's path: the id itself, else the one id ending in /<path>. */
export class UttIndex {
  private readonly exact = new Map<string, number>();
  /** per number of trailing path components: suffix -> id index, or -1 when several ids share it */
  private readonly bySuffix = new Map<number, Map<string, number>>();

  constructor(private readonly ids: readonly string[]) {
    ids.forEach((id, i) => this.exact.set(strip(id), i));
  }

  private suffixes(k: number): Map<string, number> {
    let m = this.bySuffix.get(k);
    if (!m) {
      m = new Map();
      this.ids.forEach((id, i) => {
        const parts = strip(id).split('/');
        if (parts.length < k) return;
        const key = parts.slice(parts.length - k).join('/');
        m!.set(key, m!.has(key) ? -1 : i);
      });
      this.bySuffix.set(k, m);
    }
    return m;
  }

  /** The index of the id `path` names, undefined when none does; an error when several do. */
  find(path: string): number | undefined {
    const p = strip(path);
    const hit = this.exact.get(p);
    if (hit !== undefined) return hit;
    const i = this.suffixes(p.split('/').length).get(p);
    if (i === -1) {
      const all = this.ids.filter((id) => strip(id).endsWith(`/${p}`));
      throw new UserError(`trial utterance ${path} matches several embedded utterances (${all.slice(0, 3).join(', ')}${all.length > 3 ? ', ...' : ''}): give ids that tell them apart`);
    }
    return i;
  }
}
