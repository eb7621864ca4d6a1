// Structural checks shared by the parser and the JSON form; errors name the cell, gene and value.
import { UserError } from '../errors.ts';
import { type Gene, type Genotype, OPERATIONS } from './types.ts';

export class GenotypeError extends UserError {
  constructor(message: string) {
    super(`genotype: ${message}`);
    this.name = 'GenotypeError';
  }
}

const KNOWN = new Set<string>(OPERATIONS);

export function checkOp(op: string, where: string): void {
  if (!KNOWN.has(op)) throw new GenotypeError(`unknown op '${op}' ${where} (known: ${OPERATIONS.join(', ')})`);
}

export function validateGenes(genes: Gene[], cell: 'normal' | 'reduce'): void {
  if (genes.length === 0 || genes.length % 2 !== 0)
    throw new GenotypeError(`${cell} has ${genes.length} genes, expected an even number >= 2 (two per node)`);
  genes.forEach(([op, input], i) => {
    const node = Math.floor(i / 2);
    const where = `in ${cell} gene ${i} (node ${node + 2})`;
    checkOp(op, where);
    if (!Number.isInteger(input) || input < 0)
      throw new GenotypeError(`input index ${input} ${where} must be a non-negative integer`);
    if (input >= node + 2)
      throw new GenotypeError(`input index ${input} ${where} must be < ${node + 2} (inputs are states 0..${node + 1})`);
  });
}

export function validateConcat(concat: number[], genes: Gene[], cell: 'normal' | 'reduce'): void {
  const states = 2 + genes.length / 2;
  const field = `${cell}_concat`;
  if (concat.length === 0) throw new GenotypeError(`${field} is empty`);
  const seen = new Set<number>();
  for (const c of concat) {
    if (!Number.isInteger(c) || c < 0 || c >= states)
      throw new GenotypeError(`${field} index ${c} is out of range (states are 0..${states - 1})`);
    if (seen.has(c)) throw new GenotypeError(`${field} lists state ${c} twice`);
    seen.add(c);
  }
}

export function validateGenotype(g: Genotype): Genotype {
  validateGenes(g.normal, 'normal');
  validateGenes(g.reduce, 'reduce');
  validateConcat(g.normalConcat, g.normal, 'normal');
  validateConcat(g.reduceConcat, g.reduce, 'reduce');
  return g;
}
