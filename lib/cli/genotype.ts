// `autospeech genotype derive|show`.
import type { Command } from 'commander';

import { UserError } from '../errors.ts';
import { type Genotype, deriveFromAlphas, formatGenotype, genotypeToJson, loadGenotypeArg } from '../genotype/index.ts';
import { readNpy } from '../io/npy.ts';
import { loadNative } from '../native.ts';
import { emit, table } from './output.ts';

function alphas(path: string): Float32Array {
  const a = readNpy(path);
  if (a.dtype !== 'float32' || a.shape.length !== 2) throw new UserError(`${path}: alphas must be a 2-D float32 array (edges x ops), got ${a.dtype} [${a.shape}]`);
  return a.data as Float32Array;
}

function describe(g: Genotype): string {
  const rows = (cell: 'normal' | 'reduce') =>
    g[cell].map(([op, input], i) => [cell, `node ${Math.floor(i / 2) + 2}`, input < 2 ? `c_{k-${2 - input}}` : `node ${input}`, op]);
  return [
    table([...rows('normal'), ...rows('reduce')], ['cell', 'node', 'input', 'op']),
    '',
    `normal concat: [${g.normalConcat.join(', ')}]   reduce concat: [${g.reduceConcat.join(', ')}]`,
    '',
    formatGenotype(g),
  ].join('\n');
}

export function register(program: Command): void {
  const geno = program.command('genotype').description('derive, validate and show genotypes');
  geno
    .command('derive')
    .description('derive the genotype from architecture weights exactly as the reference (top-2 edges, argmax op, none excluded)')
    .requiredOption('--alphas-normal <npy>', 'alphas_normal (14 x 8 float32)')
    .requiredOption('--alphas-reduce <npy>', 'alphas_reduce (14 x 8 float32)')
    .option('--json', 'print the JSON form')
    .action((opts: { alphasNormal: string; alphasReduce: string; json?: boolean }) => {
      const g = deriveFromAlphas(alphas(opts.alphasNormal), alphas(opts.alphasReduce), loadNative().softmax);
      if (opts.json) emit({ ...genotypeToJson(g), text: formatGenotype(g) }, true, () => '');
      else emit(g, false, formatGenotype);
    });
  geno
    .command('show')
    .description('validate a genotype (string, JSON or file) and print it per node and canonically')
    .argument('<genotype>', 'Genotype(...) string, JSON, or a .txt/.json/.yaml file')
    .option('--json', 'print the JSON form')
    .action((text: string, opts: { json?: boolean }) => {
      const g = loadGenotypeArg(text);
      if (opts.json) emit({ ...genotypeToJson(g), text: formatGenotype(g) }, true, () => '');
      else emit(g, false, describe);
    });
}
