// Prints a genotype exactly as Python's repr of the reference namedtuple.
import type { Gene, Genotype } from './types.ts';

function genes(list: Gene[]): string {
  return `[${list.map(([op, i]) => `('${op}', ${i})`).join(', ')}]`;
}

function isRun(values: number[]): boolean {
  return values.length > 0 && values.every((v, i) => v === values[0] + i);
}

function concat(values: number[], style?: 'range' | 'list'): string {
  if (style !== 'list' && isRun(values)) return `range(${values[0]}, ${values[values.length - 1] + 1})`;
  return `[${values.join(', ')}]`;
}

export function formatGenotype(g: Genotype & { concatStyle?: { normal: 'range' | 'list'; reduce: 'range' | 'list' } }): string {
  return `Genotype(normal=${genes(g.normal)}, normal_concat=${concat(g.normalConcat, g.concatStyle?.normal)}, ` +
    `reduce=${genes(g.reduce)}, reduce_concat=${concat(g.reduceConcat, g.concatStyle?.reduce)})`;
}
