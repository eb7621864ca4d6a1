// Training a binary-weight ResNet through the CLI on a millisecond tone-voice set (bnn.md §3.3,
// test plan T12-style): the fp32 twin trains, the BWN starts from its checkpoint with
// TRAIN.INIT_FROM latest:<twin> (loaded strictly, recorded in versions.json) and its loss falls;
// the per-epoch STE-masked fraction is logged; a BWN checkpoint evaluates (same EER as the run's own
// validation), exports and resumes bit for bit like any other.
import test from 'ava';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadConfig } from '../lib/config/index.ts';
import { preprocess } from '../lib/data/store.ts';
import { buildModel } from '../lib/models/build.ts';
import { readNpy } from '../lib/io/npy.ts';
import { loadCheckpoint } from '../lib/run/checkpoint.ts';
import { loadInitFrom, resolveInitFrom } from '../lib/train/init_from.ts';
import { cli } from './helpers/cli.ts';
import { toneVoiceSet } from './helpers/tone_voice_set.ts';

const work = mkdtempSync(join(tmpdir(), 'bwn-train-'));
const root = join(work, 'runs');
let data = '';

test.before(async () => {
  data = toneVoiceSet(join(work, 'data'), { devSpeakers: 4, testSpeakers: 4, utterances: 8, seed: 5 }).dir;
  await preprocess(data, join(data, 'store'));
});

// 4 dev speakers, 100-frame crops, 4-8-16-32 channels: a step takes milliseconds.
const small = () => ['DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '4', 'MODEL.WIDTH_MULT', '0.0625', 'DATASET.PARTIAL_N_FRAMES', '100',
  'TRAIN.BATCH_SIZE', '8', 'VAL_FREQ', '2', 'OUTPUT_DIR', root, 'THREADS', '2'];
const runOf = (exp: string) => join(root, readdirSync(root).find((d) => d.startsWith(`${exp}_2`))!);
const metrics = (run: string) => readFileSync(join(run, 'Log', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
const meanLoss = (rows: { epoch: number; train_loss?: number }[], epoch: number) => {
  const l = rows.filter((r) => r.epoch === epoch && typeof r.train_loss === 'number').map((r) => r.train_loss!);
  return l.reduce((a, b) => a + b, 0) / l.length;
};

test.serial('the fp32 twin trains; the BWN starts from it (TRAIN.INIT_FROM latest:, strict, recorded), its loss falls and the masked fraction is logged', async (t) => {
  const fp32 = cli(['train-baseline', '--cfg', 'exps/demo/resnet34_veri.yaml', ...small(), 'TRAIN.END_EPOCH', '1']);
  t.is(fp32.status, 0, fp32.stderr);
  const twin = runOf('resnet34_veri');
  t.deepEqual(JSON.parse(readFileSync(join(twin, 'versions.json'), 'utf8')).init, 'baseline');

  const bwn = cli(['train-baseline', '--cfg', 'exps/demo/resnet34_bwn_veri.yaml', ...small(), 'TRAIN.END_EPOCH', '4', 'TRAIN.INIT_FROM', 'latest:resnet34_veri', '--json']);
  t.is(bwn.status, 0, bwn.stderr);
  const run = runOf('resnet34_bwn_veri');
  const versions = JSON.parse(readFileSync(join(run, 'versions.json'), 'utf8'));
  t.is(versions.init, 'checkpoint');
  t.is(versions.source.from, 'latest:resnet34_veri');
  t.is(versions.source.checkpoint, join(twin, 'Model', 'last.ckpt'));
  t.is(versions.source.kind, 'baseline');
  t.regex(versions.source.sha256, /^[0-9a-f]{64}$/);
  t.regex(bwn.stderr, /initial weights from TRAIN.INIT_FROM .*resnet34_veri_.*last\.ckpt \(a baseline run at global step \d+, sha256 [0-9a-f]{16}\)/);
  t.regex(bwn.stderr, /epoch 0: \d+\.\d{4} % of the 83040 binarised latent weights have \|W\| > 1/);
  const rows = metrics(run);
  t.is(rows.filter((r) => typeof r.ste_masked_fraction === 'number').length, 4);
  t.is(rows.filter((r) => r.validation).length, 2);
  const first = meanLoss(rows, 0), last = meanLoss(rows, 3);
  t.log(`BWN mean training loss: epoch 0 ${first.toFixed(4)}, epoch 3 ${last.toFixed(4)}; EER per epoch ${rows.filter((r) => r.validation).map((r) => (100 * r.validation.valid_eer).toFixed(1)).join(' ')} %`);
  t.true(last < first, `loss ${first} -> ${last}`);

  // the loaded weights are the twin's final ones (latent weights = fp32 weights), in-process
  const cfg = loadConfig('exps/demo/resnet34_bwn_veri.yaml', [...small(), 'TRAIN.INIT_FROM', join(twin, 'Model', 'last.ckpt')]);
  const init = resolveInitFrom(cfg, root, 'train-baseline')!;
  const { model } = buildModel(cfg);
  loadInitFrom(model, init);
  const ckpt = loadCheckpoint(init.checkpoint);
  for (const key of ['layer1.0.conv1.weight', 'layer3.0.downsample.0.weight', 'conv1.weight', 'bn1.running_var'])
    t.true(Buffer.from((model.getTensor(key).data as Float32Array).buffer).equals(Buffer.from((ckpt.tensors.get(`model/${key}`)!.data as Float32Array).buffer)), key);
});

test.serial('a BWN checkpoint evaluates to the run\'s own EER, exports its latent weights, W_b (pth) and a .bwn that evaluates identically, and resumes bit for bit', async (t) => {
  const run = runOf('resnet34_bwn_veri');
  const validation = metrics(run).filter((r) => r.validation).map((r) => r.validation);
  const ev = cli(['evaluate', 'verification', '--cfg', 'exps/demo/resnet34_bwn_veri.yaml', '--load_path', join(run, 'Model', 'checkpoint_2.ckpt'), ...small().slice(0, 8), '--json']);
  t.is(ev.status, 0, ev.stderr);
  t.is(validation.length, 2); // epochs 0 and 2 (VAL_FREQ 2; the baselines skip the last epoch, as the reference)
  t.is(JSON.parse(ev.stdout).eer, validation[1].valid_eer);
  const pth = join(work, 'bwn.pth');
  const ex = cli(['export', '--load_path', join(run, 'Model', 'last.ckpt'), '--out', pth, '--json']);
  t.is(ex.status, 0, ex.stderr);
  t.is(JSON.parse(ex.stdout).tensors, [...loadCheckpoint(join(run, 'Model', 'last.ckpt')).tensors.keys()].filter((k) => k.startsWith('model/')).length);

  // the same checkpoint as a .bwn (export --format bwn, the run's config.yaml) evaluates to the same EER;
  // --format pth writes the materialised W_b state_dict
  const bwnFile = join(work, 'bwn_2.bwn');
  const eb = cli(['export', '--load_path', join(run, 'Model', 'checkpoint_2.ckpt'), '--out', bwnFile, '--format', 'bwn', '--json']);
  t.is(eb.status, 0, eb.stderr);
  const written = JSON.parse(eb.stdout);
  t.is(written.bytes, written.headerBytes + written.payloadBytes);
  const evb = cli(['evaluate', 'verification', '--cfg', 'exps/demo/resnet34_bwn_veri.yaml', '--load_path', bwnFile, ...small().slice(0, 8), '--json']);
  t.is(evb.status, 0, evb.stderr);
  t.is(JSON.parse(evb.stdout).eer, validation[1].valid_eer);
  t.deepEqual(readFileSync(bwnFile.replace(/\.bwn$/, '_scores.txt'), 'utf8'), readFileSync(join(run, 'Log', 'scores_2.txt'), 'utf8'));
  // embed takes the .bwn too: the same vectors, bit for bit, as from the checkpoint it came from
  const list = join(work, 'embed_list.txt');
  writeFileSync(list, readdirSync(join(data, 'test'), { recursive: true }).map(String).filter((f) => f.endsWith('.wav')).slice(0, 6).map((f) => join(data, 'test', f)).join('\n') + '\n');
  const runCfg = join(work, 'bwn_run.yaml');
  writeFileSync(runCfg, readFileSync(join(run, 'config.yaml'), 'utf8'));
  const e1 = cli(['embed', '--load_path', join(run, 'Model', 'checkpoint_2.ckpt'), '--list', list, '--out', join(work, 'emb_ckpt')]);
  t.is(e1.status, 0, e1.stderr);
  const e2 = cli(['embed', '--load_path', bwnFile, '--cfg', runCfg, '--list', list, '--out', join(work, 'emb_bwn')]);
  t.is(e2.status, 0, e2.stderr);
  t.true(readFileSync(join(work, 'emb_ckpt', 'embeddings.npy')).equals(readFileSync(join(work, 'emb_bwn', 'embeddings.npy'))));
  t.deepEqual(readFileSync(join(work, 'emb_ckpt', 'utts.txt'), 'utf8'), readFileSync(join(work, 'emb_bwn', 'utts.txt'), 'utf8'));
  // the Node API on the .bwn: embed's first vector, info says binary-weight
  const { loadModel } = await import('../lib/index.ts');
  const api = await loadModel(bwnFile, { cfg: runCfg });
  const first = readFileSync(list, 'utf8').split('\n')[0];
  const npy = readNpy(join(work, 'emb_bwn', 'embeddings.npy'));
  t.deepEqual(await api.embed(first), (npy.data as Float32Array).slice(0, npy.shape[1]));
  t.like(api.info, { format: 'bwn', kind: 'resnet', binary: true, genotype: null, subnet: null, threshold: null, dims: { embedding: npy.shape[1], features: 257 } });
  // export --cfg ... --weights <state_dict dir> --format bwn: the same network as from the checkpoint
  const sd = join(work, 'bwn_sd');
  t.is(cli(['export', '--format', 'npy', '--load_path', join(run, 'Model', 'checkpoint_2.ckpt'), '--out', sd]).status, 0);
  const fromDir = join(work, 'from_dir.bwn');
  const ew = cli(['export', '--cfg', runCfg, '--weights', sd, '--format', 'bwn', '--out', fromDir, '--json']);
  t.is(ew.status, 0, ew.stderr);
  const e3 = cli(['embed', '--load_path', fromDir, '--cfg', runCfg, '--list', list, '--out', join(work, 'emb_bwn_dir')]);
  t.is(e3.status, 0, e3.stderr);
  t.true(readFileSync(join(work, 'emb_bwn', 'embeddings.npy')).equals(readFileSync(join(work, 'emb_bwn_dir', 'embeddings.npy'))));
  const both = cli(['export', '--cfg', runCfg, '--weights', sd, '--load_path', join(run, 'Model', 'last.ckpt'), '--format', 'bwn', '--out', join(work, 'x.bwn')]);
  t.is(both.status, 2);
  t.regex(both.stderr, /one of --load_path <ckpt> or --weights <state_dict dir>/);
  const noCfgW = cli(['export', '--weights', sd, '--format', 'bwn', '--out', join(work, 'x.bwn')]);
  t.is(noCfgW.status, 2);
  t.regex(noCfgW.stderr, /pass --cfg/);
  const noCfg = cli(['embed', '--load_path', bwnFile, '--list', list, '--out', join(work, 'emb_x')]);
  t.is(noCfg.status, 2);
  t.regex(noCfg.stderr, /a \.bwn holds the network but not the run's settings: pass --cfg/);
  const ep = cli(['export', '--load_path', join(run, 'Model', 'last.ckpt'), '--out', join(work, 'wb.pth'), '--format', 'pth', '--json']);
  t.is(ep.status, 0, ep.stderr);
  t.is(JSON.parse(ep.stdout).materialised, 35);
  const idn = cli(['evaluate', 'identification', '--cfg', 'exps/demo/resnet34_bwn_veri.yaml', '--load_path', bwnFile, ...small().slice(0, 8)]);
  t.is(idn.status, 2);
  t.regex(idn.stderr, /holds no classifier \(export it with --with-classifier for identification\)/);

  // a copy of the run cut back to its epoch-2 checkpoint resumes to the same final weights
  const copy = join(work, 'resume', 'resnet34_bwn_veri_2000_01_01_00_00_00');
  cpSync(run, copy, { recursive: true });
  for (const f of ['last.ckpt', 'checkpoint_best.ckpt']) rmSync(join(copy, 'Model', f), { force: true });
  const resumed = cli(['train-baseline', '--cfg', 'exps/demo/resnet34_bwn_veri.yaml', ...small(), 'TRAIN.END_EPOCH', '4', 'TRAIN.INIT_FROM', 'latest:resnet34_veri',
    '--resume', join(copy, 'Model', 'checkpoint_2.ckpt')]);
  t.is(resumed.status, 0, resumed.stderr);
  t.notRegex(resumed.stderr, /initial weights from TRAIN.INIT_FROM/);
  const a = loadCheckpoint(join(run, 'Model', 'last.ckpt')).tensors, b = loadCheckpoint(join(copy, 'Model', 'last.ckpt')).tensors;
  for (const [name, v] of a) if (name.startsWith('model/')) t.true(Buffer.from(v.data.buffer).equals(Buffer.from(b.get(name)!.data.buffer)), name);
});

test.serial('TRAIN.INIT_FROM errors are reported before a run dir exists, exit 2', (t) => {
  const before = readdirSync(root).length;
  const cases: [string[], RegExp][] = [
    [['TRAIN.INIT_FROM', join(work, 'nope.ckpt')], /TRAIN.INIT_FROM .*nope\.ckpt: no such file or directory/],
    [['TRAIN.INIT_FROM', 'latest:resnet18_veri'], /TRAIN.INIT_FROM latest:resnet18_veri: no run of 'resnet18_veri' with a checkpoint/],
    // the 4-class twin into a 5-class BWN: strict, naming the tensor
    [['TRAIN.INIT_FROM', 'latest:resnet34_veri', 'MODEL.NUM_CLASSES', '5'], /TRAIN.INIT_FROM .*last\.ckpt: tensor 'classifier.weight' has shape \[4,32\], the model needs \[5,32\]/],
    // a wider twin is another network
    [['TRAIN.INIT_FROM', 'latest:resnet34_veri', 'MODEL.WIDTH_MULT', '0.125'], /tensor 'conv1.weight' has shape \[4,1,7,7\], the model needs \[8,1,7,7\]/],
    [['TRAIN.INIT_FROM', 'latest:resnet34_veri', 'MODEL.ACTIVATION', 'prelu'], /missing tensor\(s\) relu.weight/],
    [['TRAIN.INIT_CHECKPOINT', 'latest:resnet34_veri'], /TRAIN.INIT_CHECKPOINT is tdnn train's previous-stage checkpoint; train-baseline starts from another run's weights with TRAIN.INIT_FROM/],
  ];
  for (const [extra, re] of cases) {
    const r = cli(['train-baseline', '--cfg', 'exps/demo/resnet34_bwn_veri.yaml', ...small(), 'TRAIN.END_EPOCH', '1', ...extra]);
    t.is(r.status, 2, `${extra.join(' ')}: ${r.stderr}`);
    t.regex(r.stderr, re);
  }
  t.is(readdirSync(root).length, before);
});
