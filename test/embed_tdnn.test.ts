// `embed` / `score` / `verify` with EfficientTDNN models on the tone-voice set: a real (one short
// epoch) `tdnn train` checkpoint given as its run directory with --subnet, the clone of that subnet
// as a state_dict directory (what tdnn search --export writes) with --cfg, and the supernet as an
// npy export with --cfg and --subnet. All three give the embeddings lib/tdnn/subnet_eval.ts computes
// (whole utterance, wrap-padded to 48001 samples, LogMelFbanks), bit for bit, and `score` on them
// gives `tdnn evaluate`'s EER and minDCF.
import test from 'ava';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { tdnnEvaluate } from '../lib/cli/tdnn_search.ts';
import { loadConfig } from '../lib/config/index.ts';
import { preprocess } from '../lib/data/store.ts';
import { readNpy } from '../lib/io/npy.ts';
import { saveWeightsDir } from '../lib/models/weights.ts';
import { FeatureCache, embedTrials, openEvalSet } from '../lib/tdnn/subnet_eval.ts';
import { loadSubnetModel } from '../lib/tdnn/subnet_model.ts';
import { cli } from './helpers/cli.ts';
import { toneVoiceSet } from './helpers/tone_voice_set.ts';

const work = mkdtempSync(join(tmpdir(), 'embed-tdnn-'));
const SUBNET = '3-32-16-32-24-5-3-1-3-96';
let data = '', run = '', cfgFile = '';
let reference = new Map<string, Float32Array>();
let trialPaths: string[] = [];

test.before(async () => {
  const set = toneVoiceSet(join(work, 'data'));
  data = set.dir;
  await preprocess(data, join(data, 'store_logmel'), { frontend: 'logmel' });
  const root = join(work, 'runs');
  const r = cli(['tdnn', 'train', '--cfg', 'exps/demo/tdnn_largest.yaml', 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '4', 'MODEL.CHANNELS', '32',
    'MODEL.CAT_CHANNELS', '96', 'MODEL.EMBED_DIM', '16', 'TRAIN.BATCH_SIZE', '8', 'DATASET.TRAIN_SAMPLES', '8000', 'TRAIN.CYCLE_STEP', '5',
    'TRAIN.STEPS_PER_EPOCH', '2', 'TRAIN.END_EPOCH', '1', 'THREADS', '1', 'OUTPUT_DIR', root]);
  if (r.status !== 0) throw new Error(r.stderr);
  run = join(root, readdirSync(root)[0]);
  cfgFile = join(run, 'config.yaml');
  // the reference embeddings: lib/tdnn/subnet_eval.ts on the clone of the subnet
  const cfg = loadConfig(cfgFile);
  const evalSet = openEvalSet(data, 'veri_test.txt');
  const { model } = await loadSubnetModel(cfg, join(run, 'Model', 'last.ckpt'), SUBNET);
  reference = await embedTrials(model, evalSet, new FeatureCache(evalSet, 80));
  trialPaths = [...reference.keys()];
  writeFileSync(join(work, 'list.txt'), trialPaths.map((p) => evalSet.utterances.get(p)!.file).join('\n') + '\n');
  saveWeightsDir(model, join(work, 'clone'));
});
test.after.always(() => rmSync(work, { recursive: true, force: true }));

function rows(dir: string): Float32Array[] {
  const a = readNpy(join(dir, 'embeddings.npy'));
  return Array.from({ length: a.shape[0] }, (_, i) => (a.data as Float32Array).slice(i * a.shape[1], (i + 1) * a.shape[1]));
}

test.serial('a tdnn train run directory with --subnet: the subnet_eval embeddings bit for bit; score gives tdnn evaluate\'s EER and minDCF', async (t) => {
  const out = join(work, 'emb_run');
  const r = cli(['embed', '--load_path', run, '--subnet', SUBNET, '--list', join(work, 'list.txt'), '--out', out, '--json']);
  t.is(r.status, 0, r.stderr);
  const j = JSON.parse(r.stdout);
  t.regex(j.model, new RegExp(`EfficientTDNN subnet ${SUBNET} \\(cloned from the supernet\\) from .*last\\.ckpt`));
  t.regex(j.protocol, /wrap-padded to 48001 samples when <= 48000\), LogMelFbanks\(80\)/);
  rows(out).forEach((v, i) => t.deepEqual(v, reference.get(trialPaths[i]), trialPaths[i]));
  const ev = await tdnnEvaluate([], { cfg: cfgFile, weights: join(run, 'Model', 'last.ckpt'), data, subnet: SUBNET });
  const s = cli(['score', '--embeddings', out, '--trials', join(data, 'veri_test.txt'), '--out', join(work, 'scores.txt'), '--json']);
  t.is(s.status, 0, s.stderr);
  const sr = JSON.parse(s.stdout);
  t.is(sr.trials, ev.trials);
  t.is(sr.eer, ev.eer);
  t.is(sr['minDCF_0.01'], (ev as unknown as Record<string, number>)['minDCF_0.01']);
  t.is(sr['minDCF_0.05'], (ev as unknown as Record<string, number>)['minDCF_0.05']);
});

test.serial('the clone as a state_dict directory (+ --cfg) and the supernet exported as npy (+ --cfg, --subnet) embed alike; verify has no recorded threshold', (t) => {
  const clone = cli(['embed', '--load_path', join(work, 'clone'), '--cfg', cfgFile, '--list', join(work, 'list.txt'), '--out', join(work, 'emb_clone'), '--json']);
  t.is(clone.status, 0, clone.stderr);
  t.regex(JSON.parse(clone.stdout).model, /\(a standalone clone\)/);
  rows(join(work, 'emb_clone')).forEach((v, i) => t.deepEqual(v, reference.get(trialPaths[i])));
  const sd = join(work, 'supernet_npy');
  t.is(cli(['export', '--format', 'npy', '--load_path', join(run, 'Model', 'last.ckpt'), '--out', sd]).status, 0);
  const two = readFileSync(join(work, 'list.txt'), 'utf8').trim().split('\n').slice(0, 2);
  const sup = cli(['embed', '--load_path', sd, '--cfg', cfgFile, '--subnet', SUBNET, ...two, '--out', join(work, 'emb_sd')]);
  t.is(sup.status, 0, sup.stderr);
  rows(join(work, 'emb_sd')).forEach((v, i) => t.deepEqual(v, reference.get(trialPaths[i])));
  const v = cli(['verify', '--load_path', run, '--subnet', SUBNET, ...two, '--json']);
  t.is(v.status, 0, v.stderr);
  const j = JSON.parse(v.stdout);
  const [a, b] = [reference.get(trialPaths[0])!, reference.get(trialPaths[1])!];
  let d = 0, na = 0, nb = 0;
  for (let k = 0; k < a.length; k++) { d += a[k] * b[k]; na += a[k] * a[k]; nb += b[k] * b[k]; }
  t.true(Math.abs(j.score - d / Math.sqrt(na * nb)) <= 1e-12);
  t.is(j.same, null);
  t.regex(j.threshold_source, /^none: .*records no verification evaluation/);
  const wrong = cli(['embed', '--load_path', join(work, 'clone'), '--cfg', cfgFile, '--subnet', '3-32-32-32-32-5-5-5-5-96', two[0], '--out', join(work, 'never')]);
  t.is(wrong.status, 2);
  t.regex(wrong.stderr, /holds the standalone subnet 3-32-16-32-24-5-3-1-3-96/);
});

test.serial("the Node API: loadModel(run, { subnet }) embeds as subnet_eval (log-mel on the compute thread), info names the subnet and dims", async (t) => {
  const { loadModel } = await import('../lib/index.ts');
  const m = await loadModel(run, { subnet: SUBNET });
  const files = readFileSync(join(work, 'list.txt'), 'utf8').trim().split('\n');
  for (const [i, f] of files.slice(0, 3).entries()) t.deepEqual(await m.embed(f), reference.get(trialPaths[i]), f);
  t.is(m.info.family, 'tdnn');
  t.is(m.info.kind, 'tdnn');
  t.is(m.info.format, 'tdnn checkpoint');
  t.is(m.info.subnet, SUBNET);
  t.is(m.info.genotype, null);
  t.deepEqual(m.info.dims, { embedding: 16, features: 80, window: null });
  const clone = await loadModel(join(work, 'clone'), { cfg: cfgFile });
  t.is(clone.info.subnet, SUBNET);
  t.is(clone.info.format, 'tdnn state_dict');
  t.deepEqual(clone.info.params, m.info.params);
  t.true(m.info.params.total > 0);
  t.is(await clone.score(files[0], files[1]), await m.score(files[0], files[1]));
});
