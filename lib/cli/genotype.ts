// `autospeech genotype derive|show`.
import type { Command } from 'commander';

import { UserError } from '../errors.ts';
import { spawnSync } from 'node:child_process';

import { type Genotype, cellSvg, deriveFromAlphas, formatGenotype, genotypeToJson, loadGenotypeArg } from '../genotype/index.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { readNpy } from '../io/npy.ts';
import { loadNative } from '../native.ts';
import { emit, printJson, table } from './output.ts';

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

/** --json: the JSON form plus the canonical string; otherwise the human form. */
function printGenotype(g: Genotype, json: boolean | undefined, human: (g: Genotype) => string): void {
  if (json) printJson({ ...genotypeToJson(g), text: formatGenotype(g) });
  else emit(g, false, human);
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
      printGenotype(g, opts.json, formatGenotype);
    });
  geno
    .command('show')
    .description('validate a genotype (string, JSON or file) and print it per node and canonically')
    .argument('<genotype>', 'Genotype(...) string, JSON, or a .txt/.json/.yaml file')
    .option('--json', 'print the JSON form')
    .action((text: string, opts: { json?: boolean }) => {
      const g = loadGenotypeArg(text);
      printGenotype(g, opts.json, describe);
    });
  geno
    .command('draw')
    .description('draw the normal and reduction cells: <prefix>_normal.svg/.png and <prefix>_reduce.svg/.png')
    .argument('<genotype>', 'Genotype(...) string, JSON, or a file')
    .requiredOption('--out <prefix>', 'output path prefix')
    .option('--no-png', 'SVG only (PNG needs rsvg-convert from librsvg2-bin)')
    .action((text: string, opts: { out: string; png: boolean }) => {
      const g = loadGenotypeArg(text);
      for (const cell of ['normal', 'reduce'] as const) {
        const svg = `${opts.out}_${cell}.svg`;
        writeFileAtomic(svg, cellSvg(g, cell));
        if (opts.png) {
          const r = spawnSync('rsvg-convert', ['-o', `${opts.out}_${cell}.png`, svg], { encoding: 'utf8' });
          if (r.error) throw new UserError('rsvg-convert not found: install librsvg2-bin (npm run setup does) or pass --no-png');
          if (r.status !== 0) throw new UserError(`rsvg-convert failed: ${r.stderr.trim()}`);
        }
        process.stdout.write(`${svg}${opts.png ? ` ${opts.out}_${cell}.png` : ''}\n`);
      }
    });
}
