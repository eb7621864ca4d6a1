// CyclicLR against torch: test/fixtures/cyclic_lr/torch.json holds lrs that torch 1.13's
// lr_scheduler.CyclicLR put into an Adam param group before each optimizer step (generated once
// with Debian's python3-torch; the generator is named in the file). Every case is loaded
// generically and must match bit for bit (both sides compute in float64 with the same formula).
import test from 'ava';
import { readFileSync } from 'node:fs';

import { type CyclicMode, cyclicLr } from '../lib/train/schedule.ts';

interface Case { baseLr: number; maxLr: number; stepSizeUp: number; stepSizeDown: number | null; mode: CyclicMode; lrs: [number, number][] }
const { cases } = JSON.parse(readFileSync(new URL('./fixtures/cyclic_lr/torch.json', import.meta.url), 'utf8')) as { cases: Case[] };

test('the fixture has cases', (t) => {
  t.true(cases.length >= 3);
});

for (const [i, c] of cases.entries()) {
  test(`CyclicLR case ${i}: ${c.mode} ${c.baseLr}..${c.maxLr}, up ${c.stepSizeUp}${c.stepSizeDown !== null ? `, down ${c.stepSizeDown}` : ''}`, (t) => {
    for (const [step, lr] of c.lrs) {
      const got = cyclicLr(step, { baseLr: c.baseLr, maxLr: c.maxLr, stepSizeUp: c.stepSizeUp, stepSizeDown: c.stepSizeDown ?? undefined, mode: c.mode });
      t.is(got, lr, `step ${step}`);
    }
  });
}

test('triangular2 halves the peak every cycle and starts at base_lr', (t) => {
  const o = { baseLr: 1e-8, maxLr: 1e-3, stepSizeUp: 4, mode: 'triangular2' as const };
  t.is(cyclicLr(0, o), 1e-8);
  t.is(cyclicLr(4, o), 1e-3);
  t.true(Math.abs(cyclicLr(12, o) - (1e-8 + (1e-3 - 1e-8) / 2)) < 1e-18);
  t.true(Math.abs(cyclicLr(20, o) - (1e-8 + (1e-3 - 1e-8) / 4)) < 1e-18);
  t.is(cyclicLr(8, o), 1e-8);
});

test('bad arguments throw', (t) => {
  t.throws(() => cyclicLr(-1, { baseLr: 0, maxLr: 1, stepSizeUp: 2 }));
  t.throws(() => cyclicLr(1.5, { baseLr: 0, maxLr: 1, stepSizeUp: 2 }));
  t.throws(() => cyclicLr(1, { baseLr: 0, maxLr: 1, stepSizeUp: 0 }));
});
