import test from 'ava';

import { cosineLr, isValidationEpoch, scratchDropPath, searchDropPath } from '../lib/train/schedule.ts';

test('cosine lr has the reference one-epoch offset', (t) => {
  t.is(cosineLr(0, 0.01, 0.001, 301), 0.01);
  // Values printed by torch 1.13's CosineAnnealingLR(T_max=50, eta_min=0.001) stepped with step(e):
  // bit-identical, including the rounding of 0.001 + 0.009 * 2 / 2.
  const torchValues = [0.01, 0.010000000000000002, 0.009991120277927222, 0.009964516155915152, 0.0099202926282791, 0.00985862422507884];
  torchValues.forEach((v, e) => t.is(cosineLr(e, 0.01, 0.001, 50), v));
  t.true(Math.abs(cosineLr(2, 0.01, 0.001, 301) - (0.001 + 0.009 * (1 + Math.cos(Math.PI / 301)) / 2)) < 1e-15);
  t.true(Math.abs(cosineLr(302, 0.01, 0.001, 301) - 0.001) < 1e-15); // pi * 301 / 301
  // search: T_max = END_EPOCH = 50
  t.true(Math.abs(cosineLr(26, 0.01, 0.001, 50) - 0.0055) < 1e-15);
  for (let e = 1; e < 50; e++) t.true(cosineLr(e + 1, 0.01, 0.001, 50) <= cosineLr(e, 0.01, 0.001, 50));
});

test('drop-path ramps of search and scratch', (t) => {
  t.is(searchDropPath(0, 0.2, 50), 0);
  t.is(searchDropPath(49, 0.2, 50), 0.2);
  t.is(searchDropPath(10, 0, 50), 0);
  t.is(scratchDropPath(0, 0.2, 301), 0);
  t.true(Math.abs(scratchDropPath(300, 0.2, 301) - 0.2 * 300 / 301) < 1e-15);
});

test('validation epochs', (t) => {
  t.deepEqual([...Array(12).keys()].filter((e) => isValidationEpoch(e, 5, 12, false)), [0, 5, 10]);
  t.deepEqual([...Array(12).keys()].filter((e) => isValidationEpoch(e, 5, 12, true)), [0, 5, 10, 11]);
});
