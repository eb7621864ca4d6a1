// Run directories of a real (tiny) training run: TensorBoard files decode with valid CRCs and the
// expected tags, checkpoints are checksummed, and bad inputs end with one clear error line.
import test from 'ava';
import { existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { crc32, crc32c } from '../lib/io/crc.ts';
import { EventWriter, readEvents } from '../lib/run/tensorboard.ts';
import { cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';
import { manifest } from './helpers/fixtures.ts';

const G = manifest('derived').scalars.genotype.value as string;

test('crc32 and crc32c known vectors', (t) => {
  t.is(crc32c(Buffer.from('123456789')), 0xe3069283);
  t.is(crc32c(new Uint8Array(32)), 0x8a9136aa);
  t.is(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('event writer and reader round-trip; a flipped byte is detected', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tb-'));
  const w = new EventWriter(dir, 1_700_000_000_000);
  w.scalar('train_loss', 2.5, 0);
  w.scalar('lr', 0.01, 1);
  w.flush();
  const r = readEvents(w.path);
  t.is(r.fileVersion, 'brain.Event:2');
  t.deepEqual(r.scalars.map((s) => [s.tag, s.step, s.value]), [['train_loss', 0, 2.5], ['lr', 1, Math.fround(0.01)]]);
  const bytes = readFileSync(w.path);
  bytes[bytes.length - 6] ^= 0xff;
  writeFileSync(w.path, bytes);
  t.throws(() => readEvents(w.path), { message: /bad data CRC/ });
});

test.serial('a training run writes the reference layout, TensorBoard scalars and checkpoints; corrupt checkpoints and bad inputs are one-line errors', async (t) => {
  const data = await tinyDemoSet();
  const root = mkdtempSync(join(tmpdir(), 'run-'));
  const args = ['train', '--cfg', 'exps/demo/scratch_iden.yaml', '--text_arch', G, 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8',
    'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '3', 'TRAIN.END_EPOCH', '2', 'TRAIN.BATCH_SIZE', '8', 'VAL_FREQ', '1', 'OUTPUT_DIR', root];
  const r = cli(args);
  t.is(r.status, 0, r.stderr);
  const [name] = readdirSync(root);
  t.regex(name, /^scratch_iden_\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d$/);
  const run = join(root, name);
  for (const f of ['config.yaml', 'versions.json', 'Model/last.ckpt', 'Model/checkpoint_0.ckpt', 'Model/checkpoint_1.ckpt', 'Model/checkpoint_best.ckpt', 'Log/metrics.jsonl'])
    t.true(existsSync(join(run, f)), f);
  const versions = JSON.parse(readFileSync(join(run, 'versions.json'), 'utf8'));
  t.is(versions.libtorch, '1.13.0');
  const eventsFile = readdirSync(join(run, 'Log')).find((f) => f.startsWith('events.out.tfevents.'))!;
  const ev = readEvents(join(run, 'Log', eventsFile));
  const tags = new Set(ev.scalars.map((s) => s.tag));
  for (const tag of ['lr', 'train_loss', 'train_acc1', 'train_acc5', 'valid_top1', 'valid_top1_per_utterance']) t.true(tags.has(tag), tag);
  const losses = ev.scalars.filter((s) => s.tag === 'train_loss');
  t.is(losses.length, 16); // 64 training utterances / batch 8 x 2 epochs
  t.deepEqual(losses.map((s) => s.step), [...Array(16).keys()]);
  const jsonl = readFileSync(join(run, 'Log', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  t.is(Math.fround(jsonl.find((m) => m.step === 3 && m.train_loss !== undefined).train_loss), losses[3].value);

  // `autospeech evaluate` on the run's checkpoints reproduces the run's own validation, and its
  // verification scores give the same EER through `autospeech eer`.
  const validation = jsonl.filter((m) => m.validation).map((m) => m.validation);
  const model = ['DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '3'];
  const iden = cli(['evaluate', 'identification', '--cfg', 'exps/demo/scratch_iden.yaml', '--load_path', join(run, 'Model', 'checkpoint_1.ckpt'), ...model, '--json']);
  t.is(iden.status, 0, iden.stderr);
  const ir = JSON.parse(iden.stdout);
  t.is(validation.length, 2);
  t.is(ir.top1, validation[1].valid_top1);
  t.is(ir.top5, validation[1].valid_top5);
  t.is(ir.top1PerUtterance, validation[1].valid_top1_per_utterance);
  t.is(ir.utterances, 16);
  const scores = join(root, 'scores.txt');
  const veri = cli(['evaluate', 'verification', '--cfg', 'exps/demo/scratch_veri.yaml', '--load_path', join(run, 'Model', 'checkpoint_1.ckpt'), ...model, '--scores', scores, '--json']);
  t.is(veri.status, 0, veri.stderr);
  const vr = JSON.parse(veri.stdout);
  t.is(vr.trials, 48);
  t.is(readFileSync(scores, 'utf8').trim().split('\n').length, 48);
  const eer = cli(['eer', '--scores', scores, '--json']);
  t.is(eer.status, 0, eer.stderr);
  t.true(Math.abs(JSON.parse(eer.stdout).eer - vr.eer) < 1e-6);
  const wrong = cli(['evaluate', 'identification', '--cfg', 'exps/demo/scratch_iden.yaml', '--load_path', join(run, 'Model', 'checkpoint_1.ckpt'), ...model.slice(0, 4), 'MODEL.INIT_CHANNELS', '16', 'MODEL.LAYERS', '3']);
  t.is(wrong.status, 2);
  t.regex(wrong.stderr, /checkpoint_1\.ckpt: .*shape/);

  // With every checkpoint corrupt (a corrupt last.ckpt alone falls back to the newest good one, see
  // resume_guards), resuming is one clear error, and the run is left as it was.
  for (const f of readdirSync(join(run, 'Model'))) {
    const file = join(run, 'Model', f);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 100));
  }
  const bad = cli([...args, '--resume', run]);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /cannot resume .*: last\.ckpt is unusable \(checkpoint .*last.ckpt is corrupt: checksum mismatch.*\) and no other checkpoint in Model\/ verifies \(checkpoint_0\.ckpt, checkpoint_1\.ckpt, checkpoint_best\.ckpt are corrupt too\)/);
  t.is(bad.stderr.split('\n').filter((l) => l.startsWith('autospeech: error:')).length, 1);
  t.false(bad.stderr.includes('    at '));

  const cases: [string[], RegExp][] = [
    [['train', '--cfg', 'exps/demo/scratch_iden.yaml', '--text_arch', G, 'DATASET.DATA_DIR', '/nonexistent/data'], /DATASET.DATA_DIR \/nonexistent\/data does not exist/],
    [['train', '--cfg', 'exps/demo/scratch_iden.yaml', 'DATASET.DATA_DIR', data], /train needs --text_arch/],
    [['train', '--cfg', 'exps/demo/scratch_iden.yaml', '--text_arch', "Genotype(normal=[('sep_conv_3x3', 5)])", 'DATASET.DATA_DIR', data], /input index 5 of normal gene 0/],
    [['train', '--cfg', 'exps/demo/scratch_iden.yaml', '--text_arch', G, 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '4'], /8 speakers .* MODEL.NUM_CLASSES is 4/],
    [['search', '--cfg', 'exps/demo/search.yaml', 'TRAIN.BATCH_SIZ', '4'], /did you mean TRAIN.BATCH_SIZE/],
    [['search', '--cfg', 'exps/demo/scratch_iden.yaml'], /search needs MODEL.NAME model_search/],
  ];
  const cwd = mkdtempSync(join(tmpdir(), 'cwd-'));
  for (const [a, message] of cases) {
    const out = cli(a.map((x) => (x.startsWith('exps/') ? join(process.cwd(), x) : x)), { cwd });
    t.not(out.status, 0, a.join(' '));
    t.regex(out.stderr, message, a.join(' '));
    t.false(out.stderr.includes('    at '), a.join(' '));
  }
  t.deepEqual(readdirSync(cwd), [], 'no run directory was left behind by a failed start');
});
