// sugar's TDNNPath sampler and Python's random.Random against the reference
// (test/fixtures/efficienttdnn/sampler): the first MT outputs of Random(666), every stage's draw
// sequence (raw 12 genes and truncated paths), lower/upper bounds, the draws inside the reduced
// supernet's forwards, and exact resumption from a saved state.
import test from 'ava';
import { join } from 'node:path';

import { readNpy } from '../lib/io/npy.ts';
import { PythonRandom } from '../lib/tdnn/python_random.ts';
import { TDNNPath } from '../lib/tdnn/sampler.ts';
import { type Space, buildSpace } from '../lib/tdnn/space.ts';
import { subnetToJson } from '../lib/tdnn/subnet.ts';
import { TDNN_FIXTURES, constructorArgs, constructorDims, tdnnManifest } from './helpers/tdnn_fixtures.ts';

const M = tdnnManifest('sampler');
const S = M.scalars;
const STAGES = Object.keys(S).filter((k) => k.endsWith('.space')).map((k) => k.slice(0, -'.space'.length));
const FIRST = S.mt_first_uint32.value as number[];

test('the manifest lists stages and MT outputs', (t) => {
  t.true(STAGES.length > 0);
  t.true(FIRST.length > 0);
});

test('random.Random(666): getrandbits(32) = the reference outputs (init_by_array seeding)', (t) => {
  const r = new PythonRandom(666);
  t.deepEqual(FIRST.map(() => r.getrandbits(32)), FIRST);
  const big = new PythonRandom(666);
  t.deepEqual(FIRST.map(() => Number(big.getrandbitsBig(32))), FIRST);
});

test('getrandbits, randbelow, random and choice consume the MT outputs as CPython does', (t) => {
  // getrandbits(k <= 32) is the top k bits of one output; getrandbits(64) puts the first output low
  let r = new PythonRandom(666);
  t.is(r.getrandbits(5), FIRST[0] >>> 27);
  t.is(r.getrandbitsBig(64), BigInt(FIRST[1]) | (BigInt(FIRST[2]) << 32n));
  t.is(r.getrandbitsBig(40), BigInt(FIRST[3]) | (BigInt(FIRST[4] >>> 24) << 32n));
  // random(): (a >> 5) * 2^26 + (b >> 6), over 2^53
  r = new PythonRandom(666);
  t.is(r.random(), ((FIRST[0] >>> 5) * 67108864 + (FIRST[1] >>> 6)) / 9007199254740992);
  // choice of a single element: getrandbits(1) redrawn until 0, so every output with the top bit set is consumed
  r = new PythonRandom(666);
  t.is(r.choice(['only']), 'only');
  const used = FIRST.findIndex((u) => u >>> 31 === 0) + 1;
  t.true(used > 0);
  t.is(r.getrandbits(32), FIRST[used]);
  // randbelow(n): k = n.bit_length() bits, rejection while >= n
  for (const n of [3, 5, 7, 49, 145]) {
    const k = n.toString(2).length;
    const want = FIRST.map((u) => u >>> (32 - k)).find((v) => v < n);
    if (want === undefined) continue;
    t.is(new PythonRandom(666).randbelow(n), want, `randbelow(${n})`);
  }
  t.throws(() => new PythonRandom(666).choice([]), { message: /empty sequence/ });
});

for (const stage of STAGES) {
  test(`${stage}: a fresh TDNNPath draws the reference sequence (raw genes, truncated paths, bounds)`, (t) => {
    const space = S[`${stage}.space`].value as Space;
    const samples = S[`${stage}.samples`].value as unknown[];
    const path = new TDNNPath(space);
    t.deepEqual([subnetToJson(path.lower), subnetToJson(path.upper)], S[`${stage}.lower_upper`].value);
    const rawFile = `${stage}.raw_draws.npy`;
    const raw = M.files[rawFile] ? readNpy(join(TDNN_FIXTURES, 'sampler', rawFile)) : undefined;
    const n = Math.max(samples.length, raw?.shape[0] ?? 0);
    t.true(n > 0);
    const fresh = new TDNNPath(space);
    const draws = Array.from({ length: n }, () => path.sampleGenes());
    if (raw) {
      t.deepEqual(raw.shape, [n, space.length]);
      t.deepEqual(draws.flat(), Array.from(raw.data as BigInt64Array, Number));
    }
    t.deepEqual(samples.map(() => subnetToJson(fresh.sample())), samples);
    t.is(path.draws, n);
  });
}

test('forward sampling on the reduced supernet: one draw per train forward from its own space', (t) => {
  const f = S.forward_sampling_reduced_supernet.value;
  const dims = constructorDims(f.constructor);
  const a = constructorArgs(f.constructor);
  const space = buildSpace(dims, a.search_space as any, { kernels: a.kernels as number[], depths: a.depths as number[], widths: a.widths as number[] });
  const path = new TDNNPath(space);
  const configs = f.config_after_each_train_forward as unknown[];
  t.true(configs.length > 0);
  t.deepEqual(configs.map(() => subnetToJson(path.sample())), configs);
  // an eval forward keeps the last drawn path: nothing is drawn
  t.deepEqual(f.config_after_an_eval_forward, configs[configs.length - 1]);
});

test('resume: a sampler restored from its saved state (MT state or draw count) continues the exact sequence', (t) => {
  const stage = STAGES[STAGES.length - 1];
  const space = S[`${stage}.space`].value as Space;
  const reference = new TDNNPath(space);
  const all = Array.from({ length: 700 }, () => reference.sampleGenes()); // crosses several MT refills (624 words)
  for (const cut of [0, 1, 17, 52, 333]) {
    const first = new TDNNPath(space);
    first.skip(cut);
    const saved = JSON.parse(JSON.stringify(first.getState()));
    t.is(saved.draws, cut);
    const resumed = TDNNPath.fromState(space, saved);
    t.deepEqual(Array.from({ length: all.length - cut }, () => resumed.sampleGenes()), all.slice(cut), `MT state at ${cut}`);
    const replayed = TDNNPath.fromState(space, { seed: saved.seed, draws: cut } as any);
    t.deepEqual(Array.from({ length: 10 }, () => replayed.sampleGenes()), all.slice(cut, cut + 10), `draw count ${cut}`);
    t.is(replayed.draws, cut + 10);
  }
  t.throws(() => TDNNPath.fromState(space, { seed: 666, draws: 3, mt: { key: [1, 2], pos: 0 } }), { message: /MT19937 state/ });
});
