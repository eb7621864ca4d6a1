export { type Gene, type Genotype, OPERATIONS, PRIMITIVES, README_GENOTYPE_TEXT } from './types.ts';
export { GenotypeError, validateGenotype } from './validate.ts';
export { type ParsedGenotype, parseGenotype } from './parse.ts';
export { formatGenotype } from './format.ts';
export { type GenotypeJson, genotypeFromJson, genotypeToJson, loadGenotypeArg } from './json.ts';
export { type DeriveOptions, type Softmax, deriveFromAlphas, deriveGenotype } from './derive.ts';
export { cellSvg } from './draw.ts';
export { alphaHeatmapSvg } from './heatmap.ts';
