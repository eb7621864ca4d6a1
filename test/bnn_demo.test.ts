// `autospeech demo --system bnn` (lib/bnn/demo.ts) end to end on the tiny demo set with a tiny
// ResNet-34 (4-8-16-32 channels, one epoch of 100-frame crops): results.json has the shape,
// the files' sizes are the files', their tensor bytes are the memory formula's (the same table as
// `model-info --json`, and the fp32 .pth's tensors as torch.load reads them), the BWN started from the
// fp32 run's checkpoint and the ablation from its own draws, each .bwn evaluates to its training run's
// own last validation EER; bad overrides and options fail before anything is trained.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { readBwn } from '../lib/bnn/format.ts';
import { cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';

// The tiny set has 8 speakers, 2 of them kept out of dev for the trials.
const tiny = ['MODEL.NUM_CLASSES', '6', 'MODEL.WIDTH_MULT', '0.0625', 'DATASET.PARTIAL_N_FRAMES', '100', 'TRAIN.BATCH_SIZE', '8',
  'TRAIN.END_EPOCH', '1', 'THREADS', '1'];

test('demo --system bnn: a bad override, TRAIN.INIT_FROM and --init-baseline elsewhere are one clear error, exit 2, nothing written', async (t) => {
  const data = await tinyDemoSet();
  const out = mkdtempSync(join(tmpdir(), 'bnn-demo-bad-'));
  const bad = cli(['demo', '--system', 'bnn', '--data', data, '--out', out, ...tiny, 'TRAIN.BATCH_SIZE', '0']);
  t.is(bad.status, 2, bad.stderr);
  t.regex(bad.stderr, /TRAIN\.BATCH_SIZE/);
  const unknown = cli(['demo', '--system', 'bnn', '--data', data, '--out', out, 'MODEL.NO_SUCH_KEY', '1']);
  t.is(unknown.status, 2, unknown.stderr);
  t.regex(unknown.stderr, /MODEL\.NO_SUCH_KEY/);
  const init = cli(['demo', '--system', 'bnn', '--data', data, '--out', out, 'TRAIN.INIT_FROM', 'x.ckpt']);
  t.is(init.status, 2, init.stderr);
  t.regex(init.stderr, /TRAIN\.INIT_FROM: the bnn demo sets it/);
  const name = cli(['demo', '--system', 'bnn', '--data', data, '--out', out, 'MODEL.NAME', 'resnet34']);
  t.is(name.status, 2, name.stderr);
  t.regex(name.stderr, /binary-weight model must be resnet18_bwn or resnet34_bwn/);
  const flag = cli(['demo', '--system', 'tdnn', '--init-baseline', '--data', data, '--out', out]);
  t.is(flag.status, 2, flag.stderr);
  t.regex(flag.stderr, /--init-baseline is for --system bnn/);
  t.false(existsSync(join(out, 'results.json')));
  t.false(existsSync(join(out, 'files')));
});

test.serial('demo --system bnn end to end on the tiny set: results.json, files against the formula, init recorded, .bwn EER = training EER', async (t) => {
  const data = await tinyDemoSet();
  const out = mkdtempSync(join(tmpdir(), 'bnn-demo-'));
  const r = cli(['demo', '--system', 'bnn', '--data', data, '--out', out, '--init-baseline', ...tiny, '--json']);
  t.is(r.status, 0, r.stderr.slice(-3000));
  const res = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
  t.deepEqual(JSON.parse(r.stdout), res);
  t.is(res.system, 'bnn');
  t.true(res.seconds > 0);
  t.deepEqual(Object.keys(res.stages), ['demo data', 'preprocess', 'train (fp32)', 'train (bwn)', 'train (bwn, init baseline)', 'export', 'evaluate']);
  t.deepEqual(res.rows.map((m: { model: string }) => m.model), ['fp32', 'bwn', 'bwn_init_baseline']);
  const [fp32, bwn, base] = res.rows;
  for (const m of res.rows) {
    for (const k of ['model', 'params', 'file_bytes', 'ratio', 'eer', 'minDCF_0.01', 'minDCF_0.05']) t.true(k in m, `${m.model}: ${k}`);
    t.is(m.file_bytes, statSync(m.file).size, m.file);
    t.is(m.tensor_bytes, m.formula_bytes, m.model);
    t.is(m.ratio, fp32.file_bytes / m.file_bytes);
    t.true(m.eer >= 0 && m.eer <= 1, `${m.model} EER ${m.eer}`);
    t.true(m['minDCF_0.01'] >= 0 && m['minDCF_0.05'] <= 1.0000001);
    t.is(m.trials, res.trials);
    // evaluated from the deployable file; the embeddings are the checkpoint's, so the EER is its
    // training validation's (one epoch: validated at epoch 0, the last)
    t.is(m.training_eer_epoch, 0);
    t.is(m.eer, m.training_eer, m.model);
    t.true(existsSync(join(out, 'files', `${m.model}_scores.txt`)));
  }
  t.is(fp32.ratio, 1);
  t.true(bwn.ratio > 1);
  t.is(bwn.params, fp32.params);
  t.deepEqual(bwn.groups, fp32.groups);
  t.is(fp32.init, 'baseline');
  t.is(bwn.init, 'fp32-checkpoint');
  t.is(base.init, 'baseline');

  // The memory table is model-info's for the same network, and the files' tensors are its file row.
  const info = cli(['model-info', '--cfg', 'exps/demo/resnet34_bwn_veri.yaml', ...tiny, '--json']);
  t.is(info.status, 0, info.stderr);
  const memory = JSON.parse(info.stdout).memory;
  t.deepEqual(res.memory, memory);
  const fileRow = memory.rows.find((x: { what: string }) => x.what.startsWith('embedding extractor file'));
  t.is(fp32.formula_bytes, fileRow.fp32Bytes);
  t.is(bwn.formula_bytes, fileRow.bwnBytes);
  t.is(base.formula_bytes, fileRow.bwnBytes);
  // The .bwn as written by export --format bwn: header + payload, tensors = the formula's bytes.
  const f = readBwn(bwn.file);
  t.is(f.fileBytes, bwn.file_bytes);
  t.is(f.payloadStart + f.header.payloadBytes, bwn.file_bytes);
  t.is([...f.tensors.values()].reduce((a, x) => a + x.entry.bytes, 0), fileRow.bwnBytes);
  t.false(f.header.withClassifier);
  t.is(f.header.run.id, res.runs.bwn.split('/').pop());

  // The fp32 extractor .pth loads in PyTorch: no classifier, no num_batches_tracked, fp32, the formula's bytes.
  const py = spawnSync('/usr/bin/python3', ['-c', [
    'import sys, json, torch',
    'sd = torch.load(sys.argv[1])',
    'print(json.dumps({"keys": list(sd.keys()), "bytes": sum(v.numel() * v.element_size() for v in sd.values()), "dtypes": sorted({str(v.dtype) for v in sd.values()})}))',
  ].join('\n'), fp32.file], { encoding: 'utf8' });
  if (py.status === 0) {
    const x = JSON.parse(py.stdout);
    t.is(x.bytes, fileRow.fp32Bytes);
    t.deepEqual(x.dtypes, ['torch.float32']);
    t.false(x.keys.some((k: string) => k.startsWith('classifier.') || k.endsWith('num_batches_tracked')));
    t.is(x.keys.length, f.header.tensors.filter((e) => !e.name.endsWith('.alpha')).length);
  } else t.log(`python3 with torch not available here: ${py.stderr.slice(-300)}`);

  // The BWN's run started from the fp32 run's last checkpoint; the ablation from its own draws.
  const versions = (run: string) => JSON.parse(readFileSync(join(run, 'versions.json'), 'utf8'));
  t.is(versions(res.runs.fp32).init, 'baseline');
  t.is(versions(res.runs.bwn).init, 'checkpoint');
  t.is(versions(res.runs.bwn).source.checkpoint, join(res.runs.fp32, 'Model', 'last.ckpt'));
  t.is(versions(res.runs.bwn_init_baseline).init, 'baseline');
  t.regex(res.fingerprint.data_sha256, /^[0-9a-f]{64}$/);
  t.deepEqual(Object.keys(res.fingerprint.files_sha256), ['fp32', 'bwn', 'bwn_init_baseline']);
  // The table prints the same figures.
  const table = cli(['demo', '--system', 'bnn', '--data', data, '--out', out, ...tiny]);
  t.is(table.status, 0, table.stderr.slice(-2000));
  t.regex(table.stdout, /fp32 +\S+ +\d+ +1\.00x/);
  t.regex(table.stdout, /bwn \(init fp32 checkpoint\) +\S+ +\d+ +\d+\.\d\dx/);
});
