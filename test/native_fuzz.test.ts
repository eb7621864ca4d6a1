// Thousands of seeded calls of every exported addon function and class method with wrong types,
// counts, shapes and values (test/helpers/native_fuzz.ts), in a child process: any signal (SIGSEGV,
// SIGFPE, SIGABRT from an uncaught c10::Error or a failed JS allocation) or hang fails the test.
// AUTOSPEECH_FUZZ_SEED / AUTOSPEECH_FUZZ_CALLS run other or longer campaigns.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { PROJECT_ROOT } from '../lib/native.ts';

const seed = Number(process.env.AUTOSPEECH_FUZZ_SEED ?? 20261203);
const calls = Number(process.env.AUTOSPEECH_FUZZ_CALLS ?? 4000);

test('fuzzed native calls never crash the process', (t) => {
  const child = spawnSync(process.execPath, ['--import=tsx', join(PROJECT_ROOT, 'test/helpers/native_fuzz.ts'), '--seed', String(seed), '--calls', String(calls), '--trace'], {
    cwd: PROJECT_ROOT, encoding: 'utf8', timeout: 300_000, maxBuffer: 256 << 20,
  });
  const lastCall = child.stderr.split('\n').filter((l) => l.startsWith('call ')).pop();
  t.is(child.signal, null, `signal ${child.signal} at: ${lastCall}`);
  t.is(child.status, 0, `exit ${child.status} at: ${lastCall}\n${child.stderr.split('\n').filter((l) => !l.startsWith('call ')).slice(-15).join('\n')}`);
  const report = JSON.parse(child.stdout.trim().split('\n').pop()!);
  t.log(`seed ${seed}: calls made: ${report.calls}, signals: 0, threw ${report.threw}, returned ${report.returned}, ${report.cases} cases over ${report.exported.length} exports`);
  t.true(report.calls >= calls);
  t.deepEqual(report.missing, [], 'every export has a valid call in the fuzzer');
  t.deepEqual(report.missingMethods, [], 'every class method has a valid call in the fuzzer');
  t.deepEqual(report.validFailed, [], 'the unmutated calls succeed, so mutations start from real work');
  t.true(report.threw > 0 && report.returned > 0);
  t.is(report.healthy, '2x5', 'the addon still works after the campaign');
});
