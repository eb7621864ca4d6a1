// EfficientTDNN MACs and parameters against the reference counters (test/fixtures/efficienttdnn):
// every config of macs/ at every listed input length (count_ops, count_params, thop 0.0.31 on the
// clone, table.npy), the supernet/ configs on the reduced-width net, and counts.json's factories.
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { UserError } from '../lib/errors.ts';
import { readNpy } from '../lib/io/npy.ts';
import { subnetCost } from '../lib/tdnn/macs.ts';
import { type Subnet, type SupernetDims, largestSubnet, parseSubnet, subnetFromJson } from '../lib/tdnn/subnet.ts';
import { TDNN8M2G, TDNN_FIXTURES, constructorDims, tdnnManifest } from './helpers/tdnn_fixtures.ts';

const MACS = tdnnManifest('macs');
const LENGTHS = MACS.scalars.input_lengths_T.value as number[];
const RESULTS = MACS.scalars.results.value as Record<string, Record<string, any>>;
const ORDER = (MACS.scalars.result_order?.value as string[] | undefined) ?? Object.keys(RESULTS);
const cost = (s: Subnet, d: SupernetDims, T: number) => {
  const c = subnetCost(s, d, T);
  return { macs: Number(c.macs), params: Number(c.params) };
};

test('macs/ lists configs and lengths', (t) => {
  t.true(ORDER.length > 0 && LENGTHS.length > 0);
});

for (const name of ORDER) {
  test(`macs/${name}: count_ops and count_params (= thop 0.0.31 on the clone) at every listed T`, (t) => {
    const r = RESULTS[name];
    const s = subnetFromJson(r.config, name);
    if (r.config_string) t.deepEqual(parseSubnet(r.config_string), s);
    for (const T of LENGTHS) {
      const c = cost(s, TDNN8M2G, T);
      t.is(c.macs, r[`count_ops_T${T}`], `count_ops T=${T}`);
      if (r[`thop0031_macs_T${T}`] !== undefined) t.is(c.macs, r[`thop0031_macs_T${T}`], `thop T=${T}`);
      t.is(c.params, r.count_params);
      if (r.thop0031_params !== undefined) t.is(c.params, r.thop0031_params);
      if (r.clone_numel !== undefined) t.is(c.params, r.clone_numel);
    }
  });
}

test('macs/table.npy: [count_ops T0, count_ops T1, count_params, thop macs T0, thop params] per config in result order', (t) => {
  const table = readNpy(join(TDNN_FIXTURES, 'macs', 'table.npy'));
  t.deepEqual(table.shape, [ORDER.length, 5]);
  const v = Array.from(table.data as BigInt64Array, Number);
  ORDER.forEach((name, i) => {
    const s = subnetFromJson(RESULTS[name].config, name);
    const [a, b] = [cost(s, TDNN8M2G, LENGTHS[0]), cost(s, TDNN8M2G, LENGTHS[1] ?? LENGTHS[0])];
    t.deepEqual(v.slice(5 * i, 5 * i + 5), [a.macs, b.macs, a.params, a.macs, a.params], name);
  });
});

test('the issue numbers: largest 1,929,261,440 MACs / 7,550,528 params and smallest 83,474,560 / 443,968 at 300 frames', (t) => {
  t.deepEqual(cost(largestSubnet(TDNN8M2G), TDNN8M2G, 300), { macs: 1929261440, params: 7550528 });
  t.deepEqual(cost(parseSubnet('2-128-128-128-1-1-1-384'), TDNN8M2G, 300), { macs: 83474560, params: 443968 });
});

test('EfficientTDNN-Base on a 48000-sample wave (T = 1 + 48000 // 160; the front end counts 0)', (t) => {
  const [m, p] = MACS.scalars.base_with_fbank_wav48000.value as [number, number];
  const base = RESULTS.efficienttdnn_base?.config ?? [3, [512, 512, 512, 512], [5, 3, 3, 3], 1536];
  t.deepEqual(cost(subnetFromJson(base), TDNN8M2G, 1 + Math.floor(48000 / 160)), { macs: m, params: p });
});

test('supernet/: count_ops / count_params / thop of every config on the reduced-width supernet', (t) => {
  const s = tdnnManifest('supernet').scalars;
  const dims = constructorDims(s['constructor' as string].value);
  const T = s.T.value as number;
  const configs = s.configs.value as Record<string, unknown>;
  const order = (s.config_order?.value as string[] | undefined) ?? Object.keys(configs);
  t.true(order.length > 0);
  for (const name of order) {
    const c = cost(subnetFromJson(configs[name], name), dims, T);
    t.is(c.macs, s[`${name}.count_ops`].value, `${name} count_ops`);
    t.is(c.params, s[`${name}.count_params`].value, `${name} count_params`);
    if (s[`${name}.thop_macs`]) t.is(c.macs, s[`${name}.thop_macs`].value, `${name} thop`);
    if (s[`${name}.thop_params`]) t.is(c.params, s[`${name}.thop_params`].value);
    if (s[`${name}.subnet_param_count`]) t.is(c.params, s[`${name}.subnet_param_count`].value);
  }
  if (s.count_params_largest) t.is(cost(largestSubnet(dims), dims, T).params, s.count_params_largest.value);
});

// spec §1: the factories' constructor arguments (80 mel bins, 192-dim embedding, cat 1536).
const FACTORIES: Record<string, { dims: SupernetDims; kernels?: number[] }> = {
  'tdnn8m2g()': { dims: TDNN8M2G },
  'ecapa_tdnn()': { dims: { ...TDNN8M2G, numBlocks: 3 }, kernels: [5, 3, 3, 3] },
  'tdnn14m4g()': { dims: { ...TDNN8M2G, channels: 800 } },
  'tdnn16m4g()': { dims: { ...TDNN8M2G, numBlocks: 3, channels: 1024 } },
  'tdnn26m7g()': { dims: { ...TDNN8M2G, numBlocks: 5, channels: 1024 } },
};

test('counts.json: every factory (full config) and the tdnn8m2g clones it lists', (t) => {
  const rows = JSON.parse(readFileSync(join(TDNN_FIXTURES, 'counts.json'), 'utf8')).counts as Record<string, any>[];
  let checked = 0;
  for (const row of rows) {
    const clone = /^(\w+\(\))\.clone\(([\d-]+)\)/.exec(row.factory);
    const f = FACTORIES[clone ? clone[1] : row.factory];
    if (!f) continue; // the AAM head and factories this port has no dims for
    const s = clone ? parseSubnet(clone[2]) : { ...largestSubnet(f.dims), ...(f.kernels ? { kernels: f.kernels } : {}) };
    const c = cost(s, f.dims, 300);
    t.is(c.params, row.params_without_kernel_transforms, `${row.factory} params`);
    if (row.count_ops_T300 !== undefined) t.is(c.macs, row.count_ops_T300, `${row.factory} MACs`);
    checked++;
  }
  t.true(checked >= 2);
});

test('frames must be a positive integer', (t) => {
  for (const T of [0, -3, 2.5, NaN]) t.throws(() => subnetCost(largestSubnet(TDNN8M2G), TDNN8M2G, T), { instanceOf: UserError, message: /--frames/ });
});
