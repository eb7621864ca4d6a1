// The utterances `embed` is given: wav paths as arguments, a list (one path a line) or a Kaldi
// wav.scp (`<utt-id> <path>`). The id of a path is the path as written; of an scp entry its utt-id.
// Empty lines and lines starting with '#' are skipped; a repeated id is an error naming both lines.
import { existsSync, readFileSync } from 'node:fs';

import { UserError } from '../errors.ts';

export interface EmbedInput {
  id: string;
  file: string;
  /** where it was given, for messages: 'argument 2', 'list.txt:14' */
  where: string;
}

function lines(file: string, what: string): { text: string; where: string }[] {
  if (!existsSync(file)) throw new UserError(`${what} ${file} not found`);
  return readFileSync(file, 'utf8').split('\n').map((raw, i) => ({ text: raw.replace(/\r$/, '').trim(), where: `${file}:${i + 1}` }))
    .filter((l) => l.text !== '' && !l.text.startsWith('#'));
}

export function readList(file: string): EmbedInput[] {
  return lines(file, '--list').map(({ text, where }) => ({ id: text, file: text, where }));
}

export function readWavScp(file: string): EmbedInput[] {
  return lines(file, '--scp').map(({ text, where }) => {
    const m = /^(\S+)\s+(.+)$/.exec(text);
    if (!m) throw new UserError(`${where}: expected '<utt-id> <wav path>', got '${text}'`);
    const path = m[2].trim();
    if (path.endsWith('|')) throw new UserError(`${where}: '${path}' is a Kaldi command pipe; only wav files are read (run the command and list its output files)`);
    return { id: m[1], file: path, where };
  });
}

/** Arguments, then the list, then the scp; ids must be unique. */
export function collectInputs(args: string[], list?: string, scp?: string): EmbedInput[] {
  const all: EmbedInput[] = [
    ...args.map((a, i) => ({ id: a, file: a, where: `argument ${i + 1}` })),
    ...(list ? readList(list) : []),
    ...(scp ? readWavScp(scp) : []),
  ];
  const seen = new Map<string, string>();
  for (const u of all) {
    const first = seen.get(u.id);
    if (first) throw new UserError(`utterance '${u.id}' is given twice (${first} and ${u.where}): ids must be unique`);
    seen.set(u.id, u.where);
  }
  return all;
}
