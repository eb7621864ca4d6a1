import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import {
  README_GENOTYPE_TEXT, deriveFromAlphas, deriveGenotype, formatGenotype, genotypeFromJson, genotypeToJson,
  loadGenotypeArg, parseGenotype,
} from '../lib/genotype/index.ts';
import { loadNative } from '../lib/native.ts';
import { fixture, manifest } from './helpers/fixtures.ts';

const pairs = manifest('genotype').scalars.pairs.value as { dir: string; genotype: string; description: string }[];

for (const pair of pairs) {
  test(`derivation ${pair.dir} (${pair.description}): from the float32 softmax and from the alphas`, (t) => {
    const p = (n: string) => fixture('genotype', pair.dir, `${n}.npy`).data as Float32Array;
    t.is(formatGenotype(deriveGenotype(p('softmax_normal'), p('softmax_reduce'))), pair.genotype);
    t.is(formatGenotype(deriveFromAlphas(p('alphas_normal'), p('alphas_reduce'), loadNative().softmax)), pair.genotype);
  });
}

test('derivation of the search fixture alphas', (t) => {
  const a = (n: string) => fixture('search', 'state_dict', `${n}.npy`).data as Float32Array;
  t.is(formatGenotype(deriveFromAlphas(a('alphas_normal'), a('alphas_reduce'), loadNative().softmax)), manifest('search').scalars.genotype.value);
});

test('the README genotype round-trips byte-identical, also through JSON and from other spellings', (t) => {
  const g = parseGenotype(README_GENOTYPE_TEXT);
  t.is(formatGenotype(g), README_GENOTYPE_TEXT);
  t.is(formatGenotype(genotypeFromJson(JSON.parse(JSON.stringify(genotypeToJson(g))), 'json')), README_GENOTYPE_TEXT);
  t.is(README_GENOTYPE_TEXT, manifest('derived').scalars.genotype.value);
  const spaced = README_GENOTYPE_TEXT.replace(/'/g, '"').replace(/, /g, ' ,\n  ').replace('(normal', '(\n normal');
  t.is(formatGenotype(parseGenotype(spaced)), README_GENOTYPE_TEXT);
  const reordered = "Genotype(reduce=[('max_pool_3x3', 1), ('max_pool_3x3', 0)], reduce_concat=[2], normal_concat=range(2, 3), normal=[('skip_connect', 0), ('sep_conv_3x3', 1),],)";
  t.is(formatGenotype(parseGenotype(reordered)), "Genotype(normal=[('skip_connect', 0), ('sep_conv_3x3', 1)], normal_concat=range(2, 3), reduce=[('max_pool_3x3', 1), ('max_pool_3x3', 0)], reduce_concat=[2])");
});

test('loadGenotypeArg takes the string, JSON, or a file of either', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'geno-'));
  const json = JSON.stringify(genotypeToJson(parseGenotype(README_GENOTYPE_TEXT)));
  writeFileSync(join(dir, 'g.txt'), README_GENOTYPE_TEXT + '\n');
  writeFileSync(join(dir, 'g.json'), json);
  writeFileSync(join(dir, 'g.yaml'), `normal: [[dil_conv_5x5, 1], [dil_conv_3x3, 0]]\nnormal_concat: [2]\nreduce: [[max_pool_3x3, 1], [max_pool_3x3, 0]]\nreduce_concat: [2]\n`);
  for (const arg of [README_GENOTYPE_TEXT, json, join(dir, 'g.txt'), join(dir, 'g.json')]) t.is(formatGenotype(loadGenotypeArg(arg)), README_GENOTYPE_TEXT);
  t.is(loadGenotypeArg(join(dir, 'g.yaml')).normal[0][0], 'dil_conv_5x5');
  t.throws(() => loadGenotypeArg('nothing-here'), { message: /neither a Genotype/ });
  t.throws(() => loadGenotypeArg('{"normal": 3}'), { message: /'normal' must be a list/ });
  t.throws(() => loadGenotypeArg('{"normal": [], "normal_concat": [2], "reduce": [], "reduce_concat": [2], "x": 1}'), { message: /unknown field 'x'/ });
});

const R = README_GENOTYPE_TEXT;
const malformed: [string, string, RegExp][] = [
  ['empty string', '', /empty genotype string/],
  ['only spaces', '   ', /empty genotype string/],
  ['wrong head name', R.replace('Genotype', 'Genome'), /expected 'Genotype\(' at the start, found 'Genome'/],
  ['missing opening paren', R.replace('Genotype(', 'Genotype '), /expected '\(' after 'Genotype', found 'normal' at column 10/],
  ['missing closing paren', R.slice(0, -1), /expected ',' or '\)' after field 'reduce_concat', found end of input/],
  ['unknown op', R.replace("'dil_conv_3x3', 0", "'sep_conv_9x9', 0"), /unknown op 'sep_conv_9x9' in normal gene 1 .* at column 40/],
  ['op with wrong case', R.replace("'dil_conv_5x5', 1", "'DIL_CONV_5X5', 1"), /unknown op 'DIL_CONV_5X5' in normal gene 0/],
  ['misspelled keyword', R.replace('normal_concat', 'normal_concta'), /unknown field 'normal_concta' \(did you mean 'normal_concat'\?\)/],
  ['totally unknown keyword', R.replace('reduce_concat', 'zzzzzzzzzzzzz'), /unknown field 'zzzzzzzzzzzzz' at/],
  ['missing field', R.replace(/, reduce_concat=range\(2, 6\)/, ''), /missing field 'reduce_concat'/],
  ['duplicate field', R.replace('reduce_concat=range(2, 6))', 'reduce_concat=range(2, 6), normal_concat=range(2, 6))'), /field 'normal_concat' is given twice/],
  ['non-integer index', R.replace("('dil_conv_5x5', 1)", "('dil_conv_5x5', 'one')"), /expected an integer input index of normal gene 0, found ''one''/],
  ['negative index', R.replace("('dil_conv_5x5', 1)", "('dil_conv_5x5', -1)"), /input index -1 of normal gene 0 must be >= 0/],
  ['index too large for its node', R.replace("('dil_conv_3x3', 0)", "('dil_conv_3x3', 2)"), /input index 2 of normal gene 1 \(node 2\) must be < 2/],
  ['index too large later', R.replace("('dil_conv_3x3', 2), ('max_pool_3x3', 1)]", "('dil_conv_3x3', 6), ('max_pool_3x3', 1)]"), /input index 6 of normal gene 6 \(node 5\) must be < 5/],
  ['float index', R.replace("('dil_conv_5x5', 1)", "('dil_conv_5x5', 1.0)"), /input index of normal gene 0 must be an integer, found 1\.0/],
  ['odd number of genes', R.replace("('dil_conv_5x5', 1), ('dil_conv_3x3', 0), ", "('dil_conv_5x5', 1), "), /normal has 7 genes, expected an even number >= 2/],
  ['empty gene list', R.replace(/normal=\[[^\]]*\]/, 'normal=[]'), /normal has 0 genes/],
  ['gene with one element', R.replace("('dil_conv_5x5', 1)", "('dil_conv_5x5')"), /expected ',' after the op name in gene 0 of normal, found '\)'/],
  ['gene with three elements', R.replace("('dil_conv_5x5', 1)", "('dil_conv_5x5', 1, 2)"), /expected '\)' to close gene 0 of normal \(a gene is \('op', index\)\), found '2'/],
  ['unquoted op', R.replace("('dil_conv_5x5', 1)", '(dil_conv_5x5, 1)'), /expected a quoted op name in gene 0 of normal, found 'dil_conv_5x5'/],
  ['unterminated string', "Genotype(normal=[('dil_conv_5x5, 1)], normal_concat=range(2, 6))", /unterminated string \(missing closing '\)/],
  ['mismatched quotes', R.replace("('dil_conv_5x5', 1)", "('dil_conv_5x5\", 1)"), /unterminated string/],
  ['range with one argument', R.replace('normal_concat=range(2, 6)', 'normal_concat=range(6)'), /normal_concat: range needs two arguments/],
  ['range with float argument', R.replace('normal_concat=range(2, 6)', 'normal_concat=range(2, 6.5)'), /stop of normal_concat range must be an integer, found 6\.5/],
  ['empty range', R.replace('normal_concat=range(2, 6)', 'normal_concat=range(6, 2)'), /normal_concat: range\(6, 2\) is empty/],
  ['concat out of range', R.replace('reduce_concat=range(2, 6)', 'reduce_concat=range(2, 7)'), /reduce_concat index 6 is out of range \(states are 0..5\)/],
  ['duplicate concat', R.replace('normal_concat=range(2, 6)', 'normal_concat=[2, 3, 3]'), /normal_concat lists state 3 twice/],
  ['concat neither range nor list', R.replace('normal_concat=range(2, 6)', 'normal_concat=6'), /expected range\(a, b\) or a list for normal_concat, found '6'/],
  ['trailing garbage', R + ' extra', /unexpected 'extra' after the closing '\)'/],
  ['wrong bracket for genes', R.replace(/normal=\[/, 'normal=(').replace("('max_pool_3x3', 1)], normal_concat", "('max_pool_3x3', 1)), normal_concat"), /expected '\[' to open the normal gene list, found '\('/],
  ['missing comma between genes', R.replace("('dil_conv_5x5', 1), ('dil_conv_3x3', 0)", "('dil_conv_5x5', 1) ('dil_conv_3x3', 0)"), /expected ',' or '\]' after gene 0 of normal, found '\('/],
  ['missing equals', R.replace('normal=[', 'normal[') , /expected '=' after 'normal', found '\['/],
  ['positional arguments', "Genotype([('skip_connect', 0), ('skip_connect', 1)], range(2, 3), [('skip_connect', 0), ('skip_connect', 1)], range(2, 3))", /expected a field name .* found '\['/],
  ['stray character', R.replace('normal=', 'normal=@'), /unexpected character '@'/],
  ['escape in string', R.replace("'dil_conv_5x5', 1", "'dil\\conv_5x5', 1"), /escape sequences are not allowed/],
];

test(`${malformed.length} malformed strings each get their specific error`, (t) => {
  t.true(malformed.length >= 30);
  for (const [what, text, message] of malformed) {
    const err = t.throws(() => parseGenotype(text), undefined, what);
    t.regex(err?.message ?? '', message, what);
    t.is(err?.name, 'GenotypeError', what);
  }
});

test('multi-line input reports line and column with a caret', (t) => {
  const text = "Genotype(\n  normal=[('sep_conv_3x3', 0), ('bogus', 1)],\n  normal_concat=range(2, 3))";
  const err = t.throws(() => parseGenotype(text));
  t.regex(err!.message, /unknown op 'bogus' in normal gene 1 .* at line 2, column 33/s);
  t.regex(err!.message, /\n\s+\^$/);
});
