// The genotype: for each cell type, two genes (op, input state) per intermediate node, and the
// states concatenated into the cell output. Mirrors the reference's namedtuple
// Genotype(normal, normal_concat, reduce, reduce_concat).
export type Gene = [op: string, input: number];

export interface Genotype {
  normal: Gene[];
  normalConcat: number[];
  reduce: Gene[];
  reduceConcat: number[];
}

/** The 8 operations of the reference search space s2, in alpha-column order. */
export const PRIMITIVES = [
  'none', 'max_pool_3x3', 'avg_pool_3x3', 'skip_connect',
  'sep_conv_3x3', 'sep_conv_5x5', 'dil_conv_3x3', 'dil_conv_5x5',
] as const;

/** Every op of the reference OPS table: what a derived network can build. */
export const OPERATIONS = [
  ...PRIMITIVES, 'sep_conv_7x7', 'sep_conv_3x1', 'sep_conv_1x3', 'dil_conv_3x1', 'dil_conv_1x3', 'conv_7x1_1x7',
] as const;

/** The genotype reported in the reference README (used for every "Proposed" result). */
export const README_GENOTYPE_TEXT =
  "Genotype(normal=[('dil_conv_5x5', 1), ('dil_conv_3x3', 0), ('dil_conv_5x5', 0), ('sep_conv_3x3', 1), ('sep_conv_3x3', 1), ('sep_conv_3x3', 2), ('dil_conv_3x3', 2), ('max_pool_3x3', 1)], normal_concat=range(2, 6), reduce=[('max_pool_3x3', 1), ('max_pool_3x3', 0), ('dil_conv_5x5', 2), ('max_pool_3x3', 1), ('dil_conv_5x5', 3), ('dil_conv_3x3', 2), ('dil_conv_5x5', 4), ('dil_conv_5x5', 2)], reduce_concat=range(2, 6))";
