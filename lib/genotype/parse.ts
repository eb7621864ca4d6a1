// A strict parser for the reference's --text_arch string, i.e. Python's repr of the Genotype
// namedtuple: Genotype(normal=[('op', i), ...], normal_concat=range(a, b), reduce=[...],
// reduce_concat=...). Whitespace anywhere between tokens, either quote style, trailing commas where
// Python allows them, keyword fields in any order (as Python's eval would). Errors point at the
// offending token with line, column and a caret excerpt.
import { editDistance } from '../util/edit_distance.ts';
import type { Gene, Genotype } from './types.ts';
import { GenotypeError, checkOp, validateConcat, validateGenes } from './validate.ts';

type Kind = 'ident' | 'string' | 'int' | 'number' | 'punct' | 'eof';
interface Token { kind: Kind; text: string; value?: string | number; pos: number }

function tokenize(src: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    const start = i;
    if (/[A-Za-z_]/.test(c)) {
      while (i < src.length && /[A-Za-z0-9_]/.test(src[i])) i++;
      tokens.push({ kind: 'ident', text: src.slice(start, i), pos: start });
    } else if (c === "'" || c === '"') {
      i++;
      while (i < src.length && src[i] !== c && src[i] !== '\n') {
        if (src[i] === '\\') throw fail(src, i, 'escape sequences are not allowed in op names');
        i++;
      }
      if (src[i] !== c) throw fail(src, start, `unterminated string (missing closing ${c})`);
      i++;
      tokens.push({ kind: 'string', text: src.slice(start, i), value: src.slice(start + 1, i - 1), pos: start });
    } else if (/[0-9]/.test(c) || ((c === '-' || c === '+') && /[0-9]/.test(src[i + 1] ?? ''))) {
      i++;
      while (i < src.length && /[0-9]/.test(src[i])) i++;
      let kind: Kind = 'int';
      if (src[i] === '.' || src[i] === 'e' || src[i] === 'E') {
        kind = 'number';
        i++;
        while (i < src.length && /[0-9eE+\-.]/.test(src[i])) i++;
      }
      const text = src.slice(start, i);
      tokens.push({ kind, text, value: Number(text), pos: start });
    } else if ('()[],='.includes(c)) {
      i++;
      tokens.push({ kind: 'punct', text: c, pos: start });
    } else {
      throw fail(src, i, `unexpected character '${c}'`);
    }
  }
  tokens.push({ kind: 'eof', text: 'end of input', pos: src.length });
  return tokens;
}

function location(src: string, pos: number): { line: number; column: number; excerpt: string } {
  const before = src.slice(0, pos);
  const line = before.split('\n').length;
  const lineStart = before.lastIndexOf('\n') + 1;
  const lineEnd = src.indexOf('\n', pos) === -1 ? src.length : src.indexOf('\n', pos);
  const column = pos - lineStart + 1;
  // Show at most 60 characters around the position.
  const from = Math.max(lineStart, pos - 40);
  const to = Math.min(lineEnd, pos + 20);
  const excerpt = `${from > lineStart ? '...' : ''}${src.slice(from, to)}${to < lineEnd ? '...' : ''}`;
  const caret = ' '.repeat(pos - from + (from > lineStart ? 3 : 0)) + '^';
  return { line, column, excerpt: `${excerpt}\n${caret}` };
}

function fail(src: string, pos: number, message: string): GenotypeError {
  const { line, column, excerpt } = location(src, pos);
  const where = src.includes('\n') ? `line ${line}, column ${column}` : `column ${column}`;
  return new GenotypeError(`${message} at ${where}\n${excerpt}`);
}

const FIELDS = ['normal', 'normal_concat', 'reduce', 'reduce_concat'] as const;
type Field = (typeof FIELDS)[number];


export interface ParsedGenotype extends Genotype {
  /** Whether each concat was written as range(a, b) (for a byte-identical print). */
  concatStyle: { normal: 'range' | 'list'; reduce: 'range' | 'list' };
}

export function parseGenotype(src: string): ParsedGenotype {
  if (src.trim() === '') throw new GenotypeError('empty genotype string');
  const tokens = tokenize(src);
  let k = 0;
  const peek = () => tokens[k];
  const describe = (t: Token) => (t.kind === 'eof' ? 'end of input' : `'${t.text}'`);
  const expect = (text: string, what?: string): Token => {
    const t = tokens[k];
    if (t.kind !== 'punct' || t.text !== text) throw fail(src, t.pos, `expected '${text}'${what ? ` ${what}` : ''}, found ${describe(t)}`);
    k++;
    return t;
  };
  const isPunct = (text: string) => peek().kind === 'punct' && peek().text === text;

  const integer = (what: string): number => {
    const t = peek();
    if (t.kind === 'number') throw fail(src, t.pos, `${what} must be an integer, found ${t.text}`);
    if (t.kind !== 'int') throw fail(src, t.pos, `expected an integer ${what}, found ${describe(t)}`);
    k++;
    return t.value as number;
  };

  const genes = (field: Field): Gene[] => {
    expect('[', `to open the ${field} gene list`);
    const out: Gene[] = [];
    while (!isPunct(']')) {
      expect('(', `to open gene ${out.length} of ${field}`);
      const opTok = peek();
      if (opTok.kind !== 'string') throw fail(src, opTok.pos, `expected a quoted op name in gene ${out.length} of ${field}, found ${describe(opTok)}`);
      k++;
      checkOpAt(opTok, field, out.length);
      expect(',', `after the op name in gene ${out.length} of ${field}`);
      const idxTok = peek();
      const index = integer(`input index of ${field} gene ${out.length}`);
      if (index < 0) throw fail(src, idxTok.pos, `input index ${index} of ${field} gene ${out.length} must be >= 0`);
      const node = Math.floor(out.length / 2);
      if (index >= node + 2)
        throw fail(src, idxTok.pos, `input index ${index} of ${field} gene ${out.length} (node ${node + 2}) must be < ${node + 2}`);
      if (isPunct(',')) k++;
      if (!isPunct(')')) throw fail(src, peek().pos, `expected ')' to close gene ${out.length} of ${field} (a gene is ('op', index)), found ${describe(peek())}`);
      k++;
      out.push([opTok.value as string, index]);
      if (isPunct(',')) k++;
      else if (!isPunct(']')) throw fail(src, peek().pos, `expected ',' or ']' after gene ${out.length - 1} of ${field}, found ${describe(peek())}`);
    }
    k++;
    return out;
  };

  const checkOpAt = (t: Token, field: Field, i: number) => {
    try {
      checkOp(t.value as string, `in ${field} gene ${i}`);
    } catch (e) {
      throw fail(src, t.pos, (e as Error).message.replace(/^genotype: /, ''));
    }
  };

  const concat = (field: Field): { values: number[]; style: 'range' | 'list' } => {
    const t = peek();
    if (t.kind === 'ident' && t.text === 'range') {
      k++;
      expect('(', 'after range');
      const a = integer(`start of ${field} range`);
      if (isPunct(')')) throw fail(src, peek().pos, `${field}: range needs two arguments, range(start, stop)`);
      expect(',', `between the range arguments of ${field}`);
      const b = integer(`stop of ${field} range`);
      if (isPunct(',')) k++;
      expect(')', `to close range(...) of ${field}`);
      if (b <= a) throw fail(src, t.pos, `${field}: range(${a}, ${b}) is empty`);
      return { values: Array.from({ length: b - a }, (_, i) => a + i), style: 'range' };
    }
    if (isPunct('[')) {
      k++;
      const values: number[] = [];
      while (!isPunct(']')) {
        values.push(integer(`in ${field}`));
        if (isPunct(',')) k++;
        else if (!isPunct(']')) throw fail(src, peek().pos, `expected ',' or ']' in ${field}, found ${describe(peek())}`);
      }
      k++;
      return { values, style: 'list' };
    }
    throw fail(src, t.pos, `expected range(a, b) or a list for ${field}, found ${describe(t)}`);
  };

  const head = peek();
  if (head.kind !== 'ident' || head.text !== 'Genotype')
    throw fail(src, head.pos, `expected 'Genotype(' at the start, found ${describe(head)}`);
  k++;
  expect('(', "after 'Genotype'");
  const seen = new Map<Field, Token>();
  const result: Partial<ParsedGenotype> & { concatStyle: ParsedGenotype['concatStyle'] } = { concatStyle: { normal: 'range', reduce: 'range' } };
  while (!isPunct(')')) {
    const name = peek();
    if (name.kind !== 'ident') throw fail(src, name.pos, `expected a field name (${FIELDS.join(', ')}), found ${describe(name)}`);
    if (!(FIELDS as readonly string[]).includes(name.text)) {
      const best = [...FIELDS].sort((a, b) => editDistance(name.text, a) - editDistance(name.text, b))[0];
      throw fail(src, name.pos, `unknown field '${name.text}'${editDistance(name.text, best) <= 3 ? ` (did you mean '${best}'?)` : ''}`);
    }
    const field = name.text as Field;
    if (seen.has(field)) throw fail(src, name.pos, `field '${field}' is given twice`);
    seen.set(field, name);
    k++;
    expect('=', `after '${field}'`);
    if (field === 'normal') result.normal = genes(field);
    else if (field === 'reduce') result.reduce = genes(field);
    else {
      const c = concat(field);
      if (field === 'normal_concat') { result.normalConcat = c.values; result.concatStyle.normal = c.style; }
      else { result.reduceConcat = c.values; result.concatStyle.reduce = c.style; }
    }
    if (isPunct(',')) k++;
    else if (!isPunct(')')) throw fail(src, peek().pos, `expected ',' or ')' after field '${field}', found ${describe(peek())}`);
  }
  const close = expect(')');
  if (peek().kind !== 'eof') throw fail(src, peek().pos, `unexpected ${describe(peek())} after the closing ')'`);
  for (const f of FIELDS) if (!seen.has(f)) throw fail(src, close.pos, `missing field '${f}'`);
  const g = result as ParsedGenotype;
  try {
    validateGenes(g.normal, 'normal');
    validateGenes(g.reduce, 'reduce');
    validateConcat(g.normalConcat, g.normal, 'normal');
    validateConcat(g.reduceConcat, g.reduce, 'reduce');
  } catch (e) {
    const field = /^genotype: (normal|reduce)_concat/.test((e as Error).message)
      ? (e as Error).message.startsWith('genotype: normal') ? 'normal_concat' : 'reduce_concat'
      : /^genotype: (normal|reduce) has/.exec((e as Error).message)?.[1] as Field | undefined;
    const at = field ? seen.get(field as Field)! : head;
    throw fail(src, at.pos, (e as Error).message.replace(/^genotype: /, ''));
  }
  return g;
}
