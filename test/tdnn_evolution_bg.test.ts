// The 'BG' chromosome of the EfficientTDNN search (lib/tdnn/bg_chromosome.ts) and the geatpy SEGA
// run on it (lib/tdnn/evolution.ts): gene lengths as geatpy's crtfld gives them, Gray code by its
// definition, decoding by bs2ri's scaling (known vectors: black-box outputs of geatpy's 2.7.0 core
// recorded in yangyachao/geatpy tests/fixtures/core_parity_orig_2_7_0.json, whose chromosomes are
// (np.random.RandomState(seed).rand(n, 16) > 0.5), regenerated and cut into genes here by hand),
// genes always within their bounds, seeded determinism, MAXGEN counting, the optimum of small
// known problems, and the CLI's --encoding / --bg-code errors (exit 2, one line).
import test from 'ava';

import { UserError } from '../lib/errors.ts';
import {
  bgField, binaryToGray, bitsValue, decodeChromosome, encodeGenes, geneBits, grayToBinary, scaleValue, valueBits,
} from '../lib/tdnn/bg_chromosome.ts';
import { type GaProblem, elitistGa } from '../lib/tdnn/evolution.ts';
import { PythonRandom } from '../lib/tdnn/python_random.ts';
import { namedSpace } from '../lib/tdnn/space.ts';
import { cli } from './helpers/cli.ts';
import { TDNN8M2G } from './helpers/tdnn_fixtures.ts';

const bits = (s: string) => [...s].map(Number);

test('geneBits: ceil(log2(ub - lb + 1)) as crtfld gives integer variables; MinimizeError: 30 bits coarse, 50 fine', (t) => {
  // Recorded crtfld('BG') lens: [0,7] -> 3, [0,8] (from [0,9) with ubin 0) -> 4, [0,9] -> 4, [0,100] -> 7.
  t.deepEqual([8, 9, 10, 101].map(geneBits), [3, 4, 4, 7]);
  t.deepEqual([2, 3, 4, 5, 16, 17].map(geneBits), [1, 2, 2, 3, 4, 5]);
  t.is(geneBits(1), 1, 'a lone value still gets a bit');
  // MinimizeError coarse: depth [2,4], widths [0,4], kernels [1,3], cat [0,4]; fine: widths [0,48], cat [0,144].
  const coarse = bgField(namedSpace(TDNN8M2G, 'coarse').map((c) => c.length));
  t.deepEqual(coarse.bits, [2, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 3]);
  t.is(coarse.length, 30);
  const fine = bgField(namedSpace(TDNN8M2G, 'fine').map((c) => c.length));
  t.deepEqual(fine.bits, [2, 6, 6, 6, 6, 6, 2, 2, 2, 2, 2, 8]);
  t.is(fine.length, 50);
  t.deepEqual(coarse.offsets.slice(0, 3), [0, 2, 5]);
  t.throws(() => geneBits(0), { instanceOf: UserError });
  t.throws(() => bgField([3], 'octal' as 'gray'), { instanceOf: UserError, message: /binary or gray/ });
});

test('Gray code: the definition (g = b xor b >> 1, most significant bit first), round trips, one bit between neighbours', (t) => {
  // By hand: 0..7 -> 000 001 011 010 110 111 101 100.
  const gray3 = ['000', '001', '011', '010', '110', '111', '101', '100'];
  for (let v = 0; v < 8; v++) {
    t.deepEqual(binaryToGray(valueBits(v, 3)), bits(gray3[v]), `gray(${v})`);
    t.is(bitsValue(grayToBinary(bits(gray3[v]))), v);
  }
  t.deepEqual(grayToBinary(bits('1011')), bits('1101'), '1 1^0 1^0^1 1^0^1^1');
  for (let width = 1; width <= 10; width++)
    for (let v = 0; v < 2 ** width; v++) {
      const g = binaryToGray(valueBits(v, width));
      t.is(bitsValue(grayToBinary(g)), v);
      t.is(bitsValue(g), v ^ (v >>> 1));
      if (v > 0) t.is(g.filter((b, k) => b !== binaryToGray(valueBits(v - 1, width))[k]).length, 1);
    }
  // Recorded bs2ri, 12-bit Gray gene over [-1, 2] with lbin 0: 010000000101 gave 0.49560546875
  // = -1 + (v + 1) * 3 / 4096, so v = 2041, which only the MSB-first Gray reading yields.
  const g = bits('010000000101');
  t.is(bitsValue(grayToBinary(g)), 2041);
  t.is(-1 + (bitsValue(grayToBinary(g)) + 1) * 3 / 4096, 0.49560546875);
  t.not(bitsValue(g), 2041);
});

test('bs2ri for integer genes: v scaled onto [0, count - 1] and rounded; the recorded geatpy outputs', (t) => {
  // Case bs2ri: binary 4-bit gene over [0, 8] (the 4 last bits of each 16-bit chromosome).
  const over8: [string, number][] = [['0101', 3], ['0100', 2], ['0010', 1], ['0010', 1], ['1011', 6], ['0100', 2], ['1100', 6], ['1111', 8], ['1000', 4], ['0111', 4], ['1011', 6], ['1100', 6]];
  // Case bs2ri_inclusive: binary 4-bit gene over [0, 9].
  const over9: [string, number][] = [['0101', 3], ['0000', 0], ['1001', 5], ['1110', 8], ['0010', 1], ['1100', 7], ['1001', 5], ['0001', 1], ['1010', 6], ['0010', 1], ['0001', 1], ['0010', 1]];
  for (const [count, cases] of [[9, over8], [10, over9]] as const) {
    const field = bgField([count]);
    for (const [b, x] of cases) t.is(decodeChromosome(field, bits(b))[0], x, `${b} over [0, ${count - 1}]`);
  }
  // Not clipped, not wrapped: 4 bits over [0, 8] cover it unevenly, the top code is the upper bound.
  t.deepEqual(Array.from({ length: 16 }, (_, v) => scaleValue(v, 4, 9)), [0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8]);
  // MinimizeError coarse, by hand: depth 2 + round(2v/3) -> 2,3,3,4; widths round(4v/7) -> 0,1,1,2,2,3,3,4.
  t.deepEqual([0, 1, 2, 3].map((v) => 2 + scaleValue(v, 2, 3)), [2, 3, 3, 4]);
  t.deepEqual(Array.from({ length: 8 }, (_, v) => scaleValue(v, 3, 5)), [0, 1, 1, 2, 2, 3, 3, 4]);
  // Fine: widths round(48v/63), cat round(144v/255): the ends are exact.
  t.deepEqual([0, 1, 62, 63].map((v) => scaleValue(v, 6, 49)), [0, 1, 47, 48]);
  t.deepEqual([0, 1, 2, 254, 255].map((v) => scaleValue(v, 8, 145)), [0, 1, 1, 143, 144]);
  // A whole chromosome: genes in order, each read from its own bits (binary and Gray).
  const f = bgField([3, 5, 2]);
  t.deepEqual(decodeChromosome(f, bits('10' + '111' + '1')), [1, 4, 1]);
  t.deepEqual(decodeChromosome(bgField([3, 5, 2], 'gray'), bits('11' + '100' + '1')), [1, 4, 1], 'gray 11 = 2, 100 = 7');
  t.throws(() => decodeChromosome(f, [0, 1]));
});

test('decoded genes are always within bounds and every value is reachable; encodeGenes inverts decoding (both codes)', (t) => {
  for (let count = 1; count <= 300; count++) {
    const b = geneBits(count);
    const seen = new Set<number>();
    for (let v = 0; v < 2 ** b; v++) {
      const x = scaleValue(v, b, count);
      t.true(Number.isInteger(x) && x >= 0 && x < count, `count ${count}, v ${v} -> ${x}`);
      seen.add(x);
    }
    t.is(seen.size, count, `count ${count}: every index reachable`);
  }
  const rng = new PythonRandom(7);
  const counts = [3, 5, 5, 5, 5, 5, 3, 3, 3, 3, 3, 5, 49, 145, 1, 2, 17];
  for (const code of ['binary', 'gray'] as const) {
    const field = bgField(counts, code);
    for (let k = 0; k < 500; k++) {
      const chrom = Array.from({ length: field.length }, () => rng.getrandbits(1));
      const genes = decodeChromosome(field, chrom);
      t.true(genes.every((g, i) => g >= 0 && g < counts[i]));
      t.deepEqual(decodeChromosome(field, encodeGenes(field, genes)), genes);
    }
    for (let i = 0; i < counts.length; i++)
      for (let g = 0; g < counts[i]; g++) {
        const genes = counts.map(() => 0);
        genes[i] = g;
        t.is(decodeChromosome(field, encodeGenes(field, genes))[i], g);
      }
    t.throws(() => encodeGenes(field, counts), { instanceOf: UserError, message: /prophet gene 0 = 3/ });
  }
});

/** 12 genes shaped as MinimizeError's coarse ones; the optimum is target, cost rises with distance. */
function quadratic(counts: number[], target: number[]): GaProblem & { calls: number[][] } {
  const calls: number[][] = [];
  return {
    counts, calls,
    evaluate: (cs) => {
      calls.push(...cs);
      return { objective: cs.map((c) => c.reduce((a, g, i) => a + (i + 1) * (g - target[i]) ** 2, 0)), violation: cs.map(() => 0) };
    },
  };
}
const COARSE = [3, 5, 5, 5, 5, 5, 3, 3, 3, 3, 3, 5];
const TARGET = [1, 3, 0, 4, 2, 1, 2, 0, 1, 2, 1, 3];

test('BG SEGA: finds the optimum of a known 12-gene problem (binary and Gray, three seeds); deterministic per seed', async (t) => {
  for (const code of ['binary', 'gray'] as const)
    for (const seed of [1, 2, 3]) {
      const r = await elitistGa(quadratic(COARSE, TARGET), { seed, generations: 120, code });
      t.deepEqual(r.best!.genes, TARGET, `${code} seed ${seed}`);
      t.is(r.best!.objective, 0);
      t.deepEqual(decodeChromosome(bgField(COARSE, code), r.best!.chromosome!), TARGET);
    }
  const a = await elitistGa(quadratic(COARSE, TARGET), { seed: 4, generations: 20 });
  const b = await elitistGa(quadratic(COARSE, TARGET), { seed: 4, generations: 20 });
  t.deepEqual(a, b);
  const c = await elitistGa(quadratic(COARSE, TARGET), { seed: 5, generations: 20 });
  t.notDeepEqual(c.population.map((x) => x.chromosome), a.population.map((x) => x.chromosome));
  const g = await elitistGa(quadratic(COARSE, TARGET), { seed: 4, generations: 20, code: 'gray' });
  t.notDeepEqual(g.population.map((x) => x.genes), a.population.map((x) => x.genes), 'the code changes the run');
});

test('BG SEGA: MAXGEN counts populations (initial included), N evaluations each; elitist history; every gene in range', async (t) => {
  for (const generations of [0, 1, 2, 7]) {
    const p = quadratic(COARSE, TARGET);
    const r = await elitistGa(p, { seed: 9, generations, population: 10 });
    const populations = Math.max(1, generations);
    t.is(r.history.length, populations, `MAXGEN ${generations}`);
    t.is(r.evaluations, 10 * populations);
    t.is(p.calls.length, 10 * populations);
    t.true(p.calls.every((c) => c.every((g, i) => Number.isInteger(g) && g >= 0 && g < COARSE[i])));
    t.is(r.population.length, 10);
  }
  const r = await elitistGa(quadratic(COARSE, TARGET), { seed: 9, generations: 50 });
  for (let i = 1; i < r.history.length; i++) t.true(r.history[i]! <= r.history[i - 1]!);
  t.is(r.best!.objective, r.history[r.history.length - 1]!);
  t.is(r.best!.objective, Math.min(...r.population.map((x) => x.objective)), 'the elite stays in the population');
  // The RI option keeps the earlier counting: `generations` rounds of offspring.
  const ri = await elitistGa(quadratic(COARSE, TARGET), { seed: 9, generations: 7, population: 10, encoding: 'RI' });
  t.is(ri.history.length, 8);
  t.is(ri.best!.chromosome, undefined);
});

test('BG SEGA: prophets go first, after the random draws; pm 0 and xovr 0 keep the population to its initial chromosomes', async (t) => {
  const r = await elitistGa(quadratic(COARSE, TARGET), { seed: 2, generations: 1, prophets: [TARGET] });
  t.deepEqual(r.population[0].genes, TARGET);
  t.is(r.history[0], 0);
  // The random individuals after the prophet are the same as without it (drawn first, then cut).
  const plain = await elitistGa(quadratic(COARSE, TARGET), { seed: 2, generations: 1 });
  t.deepEqual(r.population.slice(1).map((x) => x.chromosome), plain.population.slice(0, 49).map((x) => x.chromosome));
  const still = await elitistGa(quadratic(COARSE, TARGET), { seed: 2, generations: 30, pm: 0, xovr: 0 });
  const initial = new Set(plain.population.map((x) => x.chromosome!.join('')));
  t.true(still.population.every((x) => initial.has(x.chromosome!.join(''))), 'selection alone makes no new chromosome');
  await t.throwsAsync(elitistGa(quadratic(COARSE, TARGET), { prophets: [[9, 9]] }), { instanceOf: UserError, message: /prophet/ });
});

test("BG SEGA with constraints: 'mark' keeps to the feasible optimum; 'violation' walks an infeasible start into it", async (t) => {
  // 8 genes of 10 values (4 bits each over [0, 9]), feasible only when the sum is <= 4.
  const problem = {
    counts: Array(8).fill(10),
    evaluate: (cs: number[][]) => ({ objective: cs.map((c) => -c.reduce((a, b) => a + b, 0)), violation: cs.map((c) => Math.max(0, c.reduce((a, b) => a + b, 0) - 4)) }),
  };
  const v = await elitistGa(problem, { seed: 3, generations: 60, constraintHandling: 'violation' });
  t.is(v.history[0], null, 'the initial population was infeasible');
  t.is(v.best!.violation, 0);
  t.is(v.best!.objective, -4);
  const m = await elitistGa(problem, { seed: 3, generations: 5 });
  t.deepEqual(m, await elitistGa(problem, { seed: 3, generations: 5 }));
  t.true(m.best === null || m.best.violation === 0);
});

test('GA options: a bad encoding, BG code or probability is a UserError naming it', async (t) => {
  const p = quadratic(COARSE, TARGET);
  await t.throwsAsync(elitistGa(p, { encoding: 'XX' as 'BG' }), { instanceOf: UserError, message: /encoding 'XX'.*BG or RI/ });
  await t.throwsAsync(elitistGa(p, { code: 'octal' as 'gray' }), { instanceOf: UserError, message: /code 'octal'/ });
  await t.throwsAsync(elitistGa(p, { xovr: 1.5 }), { instanceOf: UserError, message: /crossover/ });
  await t.throwsAsync(elitistGa(p, { pm: -0.1 }), { instanceOf: UserError, message: /mutation/ });
});

// ---- CLI: checked before any predictor, data or weights are read ----
const SEARCH = ['tdnn', 'search', '--cfg', 'exps/tdnn/supernet.yaml', '--weights', '/nonexistent/weights', '--data', '/nonexistent/data', '--macs', '1G'];

test('CLI: --encoding and --bg-code: bad values are one error each (exit 2); RI and gray are accepted', (t) => {
  for (const [args, re] of [
    [['--encoding', 'bg'], /--encoding 'bg': expected BG or RI/],
    [['--bg-code', 'octal'], /--bg-code 'octal': expected binary or gray/],
    [['--encoding', 'RI', '--bg-code', 'gray'], /--bg-code: only for --encoding BG/],
  ] as [string[], RegExp][]) {
    const r = cli([...SEARCH, ...args]);
    t.is(r.status, 2, r.stderr);
    t.regex(r.stderr, re);
    t.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
  // Valid values get past the GA options to the next check (no predictor given).
  for (const args of [['--encoding', 'RI'], ['--encoding', 'BG', '--bg-code', 'gray']]) {
    const r = cli([...SEARCH, ...args]);
    t.is(r.status, 2);
    t.regex(r.stderr, /--method evolution .* needs --predictor/);
  }
  const help = cli(['tdnn', 'search', '--help']);
  t.regex(help.stdout, /--encoding <e>[\s\S]*?default:\s+"BG"\)/);
  t.regex(help.stdout, /--bg-code <c>[\s\S]*?default:\s+"binary"\)/);
});
