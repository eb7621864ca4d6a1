// The JSON/YAML form of a genotype and the loader behind every --text_arch style argument.
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

import type { Gene, Genotype } from './types.ts';
import { parseGenotype } from './parse.ts';
import { GenotypeError, validateGenotype } from './validate.ts';

export interface GenotypeJson {
  normal: [string, number][];
  normal_concat: number[];
  reduce: [string, number][];
  reduce_concat: number[];
}

export function genotypeToJson(g: Genotype): GenotypeJson {
  return { normal: g.normal.map(([o, i]) => [o, i]), normal_concat: [...g.normalConcat], reduce: g.reduce.map(([o, i]) => [o, i]), reduce_concat: [...g.reduceConcat] };
}

export function genotypeFromJson(value: unknown, where: string): Genotype {
  const obj = value as Record<string, unknown>;
  if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) throw new GenotypeError(`${where}: expected an object with normal, normal_concat, reduce, reduce_concat`);
  for (const key of Object.keys(obj))
    if (!['normal', 'normal_concat', 'reduce', 'reduce_concat'].includes(key)) throw new GenotypeError(`${where}: unknown field '${key}'`);
  const genes = (key: string): Gene[] => {
    const list = obj[key];
    if (!Array.isArray(list)) throw new GenotypeError(`${where}: '${key}' must be a list of [op, index] pairs`);
    return list.map((g, i) => {
      if (!Array.isArray(g) || g.length !== 2 || typeof g[0] !== 'string' || typeof g[1] !== 'number')
        throw new GenotypeError(`${where}: ${key}[${i}] must be [op, index], got ${JSON.stringify(g)}`);
      return [g[0], g[1]] as Gene;
    });
  };
  const ints = (key: string): number[] => {
    const list = obj[key];
    if (!Array.isArray(list) || !list.every((v) => typeof v === 'number'))
      throw new GenotypeError(`${where}: '${key}' must be a list of integers`);
    return list as number[];
  };
  try {
    return validateGenotype({ normal: genes('normal'), normalConcat: ints('normal_concat'), reduce: genes('reduce'), reduceConcat: ints('reduce_concat') });
  } catch (e) {
    throw new GenotypeError(`${where}: ${(e as Error).message.replace(/^genotype: /, '')}`);
  }
}

/**
 * A genotype given on the command line: the Python repr string, a JSON object string, or a path to
 * a .txt/.json/.yaml file holding either form.
 */
export function loadGenotypeArg(text: string): Genotype {
  const trimmed = text.trim();
  if (trimmed.startsWith('Genotype')) return parseGenotype(trimmed);
  if (trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      throw new GenotypeError(`not valid JSON: ${(e as Error).message}`);
    }
    return genotypeFromJson(value, 'JSON genotype');
  }
  if (existsSync(trimmed)) {
    const content = readFileSync(trimmed, 'utf8');
    if (content.trim().startsWith('Genotype')) {
      try {
        return parseGenotype(content.trim());
      } catch (e) {
        throw new GenotypeError(`${trimmed}: ${(e as Error).message.replace(/^genotype: /, '')}`);
      }
    }
    let value: unknown;
    try {
      value = /\.ya?ml$/i.test(trimmed) ? parseYaml(content) : JSON.parse(content);
    } catch (e) {
      throw new GenotypeError(`${trimmed}: not a genotype (neither Genotype(...) nor valid JSON/YAML): ${(e as Error).message.split('\n')[0]}`);
    }
    return genotypeFromJson(value, trimmed);
  }
  throw new GenotypeError(`'${trimmed.length > 40 ? trimmed.slice(0, 40) + '...' : trimmed}' is neither a Genotype(...) string, a JSON genotype, nor an existing file`);
}
