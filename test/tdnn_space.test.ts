// EfficientTDNN search spaces against the reference (test/fixtures/efficienttdnn): sugar's
// _make_divisible, net.space() for every stage space the manifests list (macs/search_spaces,
// sampler/<stage>.space, the reduced supernet's space), distinct and raw sizes, and a brute-force
// enumeration of the truncation rule.
import test from 'ava';

import { UserError } from '../lib/errors.ts';
import { STAGE_TASKS, type Space, buildSpace, checkSpace, countRawCombinations, countSubnets, genesToSubnet, makeDivisible, namedSpace, parseSpace, taskSpace } from '../lib/tdnn/space.ts';
import { formatSubnet } from '../lib/tdnn/subnet.ts';
import { TDNN8M2G, constructorArgs, constructorDims, tdnnManifest } from './helpers/tdnn_fixtures.ts';

const macs = tdnnManifest('macs').scalars;
const sampler = tdnnManifest('sampler').scalars;
const supernet = tdnnManifest('supernet').scalars;

// Fixture stage keys -> the named spaces they are (the stage spaces of the train script).
const STAGE_NAMES: Record<string, string[]> = { kernel: ['kernel'], kernel_depth: ['depth'], width1: ['width1'], width2: ['width2', 'coarse'], width2_coarse: ['width2', 'coarse'], fine: ['fine'] };

test('_make_divisible: every ratio of the reference table, for widths (512) and cats (1536)', (t) => {
  const rows = Object.entries(macs.make_divisible_table.value as Record<string, [number, number]>);
  t.true(rows.length > 0);
  for (const [ratio, [w, c]] of rows) {
    t.is(makeDivisible(Number(ratio) * TDNN8M2G.channels), w, `ratio ${ratio} x 512`);
    t.is(makeDivisible(Number(ratio) * TDNN8M2G.catChannels), c, `ratio ${ratio} x 1536`);
  }
});

test('macs/search_spaces: distinct subnets and raw gene combinations of every listed space; the named spaces equal them', (t) => {
  const spaces = Object.entries(macs.search_spaces.value as Record<string, { space?: Space; distinct_subnets: number; raw_12_gene_combinations: number }>);
  t.true(spaces.length > 0);
  for (const [key, s] of spaces) {
    for (const name of STAGE_NAMES[key] ?? []) {
      const built = namedSpace(TDNN8M2G, name);
      if (s.space) t.deepEqual(built, s.space, `${key} = namedSpace('${name}')`);
      t.is(countSubnets(built), BigInt(s.distinct_subnets), `${name} distinct`);
      t.is(countRawCombinations(built), BigInt(s.raw_12_gene_combinations), `${name} raw`);
    }
    if (s.space) {
      checkSpace(s.space, TDNN8M2G);
      t.is(countSubnets(s.space), BigInt(s.distinct_subnets), `${key} distinct`);
      t.is(countRawCombinations(s.space), BigInt(s.raw_12_gene_combinations), `${key} raw`);
    }
  }
});

test('the stage sizes the issue names: 243, 351, 199,017, 4,066,875 and 10,021,183,582,095; largest is one path', (t) => {
  t.is(countSubnets(namedSpace(TDNN8M2G, 'kernel')), 243n);
  t.is(countSubnets(namedSpace(TDNN8M2G, 'depth')), 351n);
  t.is(countSubnets(namedSpace(TDNN8M2G, 'width1')), 199017n);
  t.is(countSubnets(namedSpace(TDNN8M2G, 'width2')), 4066875n);
  t.is(countSubnets(namedSpace(TDNN8M2G, 'coarse')), 4066875n);
  t.is(countSubnets(namedSpace(TDNN8M2G, 'fine')), 10021183582095n);
  const largest = namedSpace(TDNN8M2G, 'largest');
  t.is(countSubnets(largest), 1n);
  t.is(formatSubnet(genesToSubnet(largest.map((c) => c[0]))), '4-512-512-512-512-512-5-5-5-5-5-1536');
  // fine: widths range(128, 513, 8), cats range(384, 1537, 8)
  const fine = namedSpace(TDNN8M2G, 'fine');
  t.is(fine[1].length, 49);
  t.is(fine[11].length, 145);
  t.deepEqual([fine[1][0], fine[1][48], fine[11][0], fine[11][144]], [128, 512, 384, 1536]);
});

test('sampler/<stage>.space: the train script task strings build the same spaces for tdnn8m2g', (t) => {
  const keys = Object.keys(sampler).filter((k) => k.endsWith('.space'));
  t.true(keys.length > 0);
  for (const key of keys) {
    const stage = key.slice(0, -'.space'.length);
    const names = STAGE_NAMES[stage];
    checkSpace(sampler[key].value, TDNN8M2G, key);
    if (names) for (const name of names) t.deepEqual(namedSpace(TDNN8M2G, name), sampler[key].value, `${stage} = ${name}`);
    if (names) t.deepEqual(taskSpace(TDNN8M2G, STAGE_TASKS[names[0]]), sampler[key].value, `task ${STAGE_TASKS[names[0]]}`);
  }
});

test("the reduced supernet's space is net.space() with the coarse ratios for its dims", (t) => {
  const dims = constructorDims(supernet['constructor' as string].value);
  t.deepEqual(buildSpace(dims, ['kernel', 'depth', 'width1', 'width2']), supernet.space.value);
  t.deepEqual(namedSpace(dims, 'width2'), supernet.space.value);
  const fwd = sampler.forward_sampling_reduced_supernet.value;
  const args = constructorArgs(fwd.constructor);
  const built = buildSpace(constructorDims(fwd.constructor), args.search_space as any, { kernels: args.kernels as number[], depths: args.depths as number[], widths: args.widths as number[] });
  checkSpace(built, constructorDims(fwd.constructor));
});

test('distinct count = brute-force enumeration of all gene combinations truncated to depth + 1 (duplicates in lists included)', (t) => {
  const spaces: Space[] = [
    sampler['kernel_depth.space']?.value ?? namedSpace(TDNN8M2G, 'depth'),
    [[1, 2, 4, 2], [64, 32], [16, 16, 8], [8], [24, 8], [8], [1, 3], [5], [1, 3, 5], [3], [1, 1], [48, 96, 48]],
    [[3], [512, 256], [128], [128], [512, 128], [256, 512], [5], [3], [1], [3, 5], [1, 5], [384]],
  ];
  for (const space of spaces) {
    const seen = new Set<string>();
    const genes: number[] = [];
    const walk = (i: number) => {
      if (i === space.length) return void seen.add(formatSubnet(genesToSubnet(genes)));
      for (const v of space[i]) {
        genes[i] = v;
        walk(i + 1);
      }
    };
    walk(0);
    t.is(countSubnets(space), BigInt(seen.size), JSON.stringify(space));
  }
});

test('bad spaces: one error naming the list and the element', (t) => {
  const base = () => JSON.parse(JSON.stringify(namedSpace(TDNN8M2G, 'width2'))) as unknown[][];
  const bad = (edit: (s: unknown[][]) => unknown, re: RegExp) => {
    const s = base();
    const v = edit(s) ?? s;
    const err = t.throws(() => parseSpace(JSON.stringify(v), TDNN8M2G), { instanceOf: UserError });
    t.regex(err!.message, re);
  };
  bad((s) => s.slice(0, 11), /expected 12 lists .* got 11/);
  bad((s) => void (s[3] = []), /list 3 \(c2\) must be a non-empty list/);
  bad((s) => void (s[7][1] = 4), /list 7 \(k1\), element 1: 4 is not a kernel/);
  bad((s) => void (s[7][0] = 7), /list 7 \(k1\), element 0: 7 is not a kernel: odd, in \[1, 5\]/);
  bad((s) => void (s[2][4] = 520), /list 2 \(c1\), element 4: 520 is not a block width/);
  bad((s) => void (s[2][0] = 100), /list 2 \(c1\), element 0: 100 is not a block width: a multiple of 8/);
  bad((s) => void (s[1][0] = 2), /list 1 \(c0\), element 0: 2 is not a trunk width/);
  bad((s) => void (s[0][2] = 5), /list 0 \(depth\), element 2: 5 is not a depth in \[1, 4\]/);
  bad((s) => void (s[11][0] = 'x'), /list 11 \(cat\), element 0: "x" is not an integer/);
  bad((s) => void (s[11][1] = 1.5), /list 11 \(cat\), element 1: 1.5 is not an integer/);
  bad(() => ({ a: 1 }), /expected a JSON list of 12 lists/);
  t.throws(() => parseSpace('[[2,3', TDNN8M2G), { instanceOf: UserError, message: /not valid JSON/ });
  t.throws(() => parseSpace('nope', TDNN8M2G), { instanceOf: UserError, message: /unknown space name/ });
  t.throws(() => parseSpace('supernet_kernel_size', TDNN8M2G), { instanceOf: UserError, message: /unknown mode 'size'/ });
  // a supernet too shallow for the depth stage's NUM_BLOCKS-2 is refused, not built
  t.throws(() => namedSpace({ ...TDNN8M2G, numBlocks: 2 }, 'depth'), { instanceOf: UserError, message: /list 0 \(depth\), element 0: 0 is not a depth/ });
});
