// Resume and run-directory guards: --resume auto matches the experiment name exactly, a resume
// with a config that changes the math is refused unless overridden (and then recorded), one writer
// per run directory (a dead owner's lock is taken over), a corrupt last.ckpt falls back to the
// newest checkpoint that verifies, and atomic writes leave no temp file behind when they fail.
import test from 'ava';
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';

import { writeFileAtomic } from '../lib/io/atomic.ts';
import { acquireRunLock } from '../lib/run/lock.ts';
import { isRunOf } from '../lib/run/run_dir.ts';
import { BIN, cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';
import { manifest } from './helpers/fixtures.ts';

const G = manifest('derived').scalars.genotype.value as string;

async function trainArgs(cfgFile: string, root: string, extra: string[] = []): Promise<string[]> {
  const data = await tinyDemoSet();
  return ['train', '--cfg', cfgFile, '--text_arch', G, 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'MODEL.INIT_CHANNELS', '4',
    'MODEL.LAYERS', '3', 'TRAIN.BATCH_SIZE', '8', 'TRAIN.STEPS_PER_EPOCH', '2', 'TRAIN.END_EPOCH', '2', 'VAL_FREQ', '1', 'EVAL.MAX_UTTERANCES', '4', 'OUTPUT_DIR', root, ...extra];
}

const runs = (root: string) => readdirSync(root).filter((d) => existsSync(join(root, d, 'Model'))).sort();

test('run names match the experiment exactly', (t) => {
  t.true(isRunOf('ck_2026_12_02_10_00_00', 'ck'));
  t.true(isRunOf('ck_2026_12_02_10_00_00_1', 'ck'));
  t.false(isRunOf('ck_v3_2026_12_02_10_00_00', 'ck'));
  t.true(isRunOf('ck_v3_2026_12_02_10_00_00', 'ck_v3'));
});

test.serial('--resume auto does not take the run of ck_v3.yaml for ck.yaml', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'prefix-'));
  copyFileSync('exps/demo/scratch_iden.yaml', join(dir, 'ck.yaml'));
  copyFileSync('exps/demo/scratch_iden.yaml', join(dir, 'ck_v3.yaml'));
  const root = join(dir, 'runs');
  const v3 = cli(await trainArgs(join(dir, 'ck_v3.yaml'), root, ['TRAIN.END_EPOCH', '1']));
  t.is(v3.status, 0, v3.stderr);
  const ck = cli([...(await trainArgs(join(dir, 'ck.yaml'), root, ['TRAIN.END_EPOCH', '1'])), '--resume', 'auto']);
  t.is(ck.status, 0, ck.stderr);
  t.notRegex(ck.stderr, /resumed/);
  const names = runs(root);
  t.is(names.length, 2);
  t.true(names.some((n) => isRunOf(n, 'ck')) && names.some((n) => isRunOf(n, 'ck_v3')));
});

test.serial('a resume that changes the math is refused with the keys listed; --resume-override records it; neutral keys pass', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'override-'));
  const first = cli(await trainArgs('exps/demo/scratch_iden.yaml', root, ['TRAIN.END_EPOCH', '1']));
  t.is(first.status, 0, first.stderr);
  const [run] = runs(root);
  const runDir = join(root, run);
  const refused = cli([...(await trainArgs('exps/demo/scratch_iden.yaml', root, ['TRAIN.LR', '0.5', 'TRAIN.BATCH_SIZE', '4'])), '--resume', runDir]);
  t.is(refused.status, 2);
  t.regex(refused.stderr, /differs from the run's in 3 key\(s\) that change the results: TRAIN\.BATCH_SIZE: 8 -> 4; TRAIN\.LR: 0\.01 -> 0\.5; TRAIN\.END_EPOCH: 1 -> 2.*--resume-override/s);
  t.false(existsSync(join(runDir, 'resume_overrides.jsonl')));
  const neutral = cli([...(await trainArgs('exps/demo/scratch_iden.yaml', root, ['TRAIN.END_EPOCH', '1', 'VAL_FREQ', '3'])), '--resume', runDir]);
  t.is(neutral.status, 0, neutral.stderr);
  const ok = cli([...(await trainArgs('exps/demo/scratch_iden.yaml', root, ['TRAIN.LR', '0.005'])), '--resume', runDir, '--resume-override']);
  t.is(ok.status, 0, ok.stderr);
  t.regex(ok.stderr, /resumed .*at epoch 1/);
  const log = readFileSync(join(runDir, 'resume_overrides.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(log.length, 2);
  t.false(log[0].override);
  t.deepEqual(log[0].changes.map((c: { key: string }) => c.key), ['VAL_FREQ']);
  t.true(log[1].override);
  t.deepEqual(log[1].changes.find((c: { key: string }) => c.key === 'TRAIN.LR'), { key: 'TRAIN.LR', old: 0.01, new: 0.005 });
  t.regex(readFileSync(join(runDir, 'config.yaml'), 'utf8'), /LR: 0\.005/);
});

test.serial('one writer per run dir: a second is refused naming the owner; a dead owner\'s lock is taken over; a corrupt last.ckpt falls back', async (t) => {
  const root = mkdtempSync(join(tmpdir(), 'lock-'));
  const args = await trainArgs('exps/demo/scratch_iden.yaml', root, ['TRAIN.END_EPOCH', '30', 'TRAIN.CHECKPOINT_STEPS', '1']);
  const owner = spawn(process.execPath, [BIN, ...args], { stdio: 'ignore' });
  const ownerExit = new Promise<void>((resolve) => owner.on('exit', () => resolve()));
  let runDir = '';
  for (let i = 0; i < 600 && !runDir; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const r = existsSync(root) ? runs(root) : [];
    if (r.length && existsSync(join(root, r[0], 'Model', 'checkpoint_0.ckpt'))) runDir = join(root, r[0]);
  }
  t.truthy(runDir, 'the first run wrote its first epoch');
  const second = cli([...args, '--resume', runDir]);
  t.is(second.status, 2, second.stderr);
  t.regex(second.stderr, new RegExp(`run dir .* is in use by pid ${owner.pid} on .*only one process may train a run at a time`));
  owner.kill('SIGKILL');
  await ownerExit;
  t.true(existsSync(join(runDir, '.lock')), 'SIGKILL leaves the lock behind');
  // corrupt last.ckpt: the newest checkpoint that verifies (by step) is used instead
  const last = join(runDir, 'Model', 'last.ckpt');
  const bytes = readFileSync(last);
  bytes[bytes.length >> 1] ^= 0xff;
  writeFileSync(last, bytes);
  const resumed = cli([...(await trainArgs('exps/demo/scratch_iden.yaml', root, ['TRAIN.END_EPOCH', '30', 'TRAIN.CHECKPOINT_STEPS', '1'])).map((a) => (a === '30' ? '2' : a)), '--resume', runDir, '--resume-override']);
  t.is(resumed.status, 0, resumed.stderr);
  t.regex(resumed.stderr, /warning: checkpoint .*last\.ckpt is corrupt: checksum mismatch.*; resuming from .*checkpoint_\d+\.ckpt \(epoch \d+, step 0\), the newest checkpoint that verifies/);
  t.false(existsSync(join(runDir, '.lock')), 'released at the end');
});

test('the run lock: exclusive within a process too, released, and stale when its pid is gone', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'lockunit-'));
  const a = acquireRunLock(dir);
  t.throws(() => acquireRunLock(dir), { message: /already being written by this process/ });
  a.release();
  t.false(existsSync(join(dir, '.lock')));
  writeFileSync(join(dir, '.lock'), JSON.stringify({ pid: 2 ** 22 + 12345, host: hostname(), started: 'then' }));
  const b = acquireRunLock(dir);
  t.is(JSON.parse(readFileSync(join(dir, '.lock'), 'utf8')).pid, process.pid);
  b.release();
});


test('a failed atomic write leaves no temp file behind', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
  mkdirSync(join(dir, 'target', 'inside'), { recursive: true }); // renaming a file onto a non-empty dir fails
  t.throws(() => writeFileAtomic(join(dir, 'target'), 'x'));
  t.deepEqual(readdirSync(dir), ['target']);
});
