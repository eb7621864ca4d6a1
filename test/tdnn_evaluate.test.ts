// `tdnn evaluate` and `tdnn search` end to end on a tiny synthetic VoxCeleb-layout set of tone voices
// (test/helpers/tone_voice_set.ts: milliseconds to make, where tinyDemoSet's speech synthesis takes
// about a minute of this file's 90 s) with a small freshly built 4-block supernet: the evaluated EER/minDCF equal those computed here
// from the supernet's dynamic path (full-utterance logmel, cosine, lib/metrics); recalibration is
// deterministic per seed and changes the statistics; the searched subnet keeps to its budget, its
// predicted EER is the predictor's, and its exported clone (recalibrated) evaluates to the same
// numbers and runs in `forward`; bad input with data is one clear error.
import test from 'ava';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { tdnnEvaluate, tdnnSearch } from '../lib/cli/tdnn_search.ts';
import { loadConfig } from '../lib/config/index.ts';
import { loadAudio16k } from '../lib/data/load_audio.ts';
import { logmel } from '../lib/data/features.ts';
import { readTrials, scanVoxCeleb } from '../lib/data/voxceleb.ts';
import { readNpy, writeNpy } from '../lib/io/npy.ts';
import { computeEer, cosine, minDcf } from '../lib/metrics/eer.ts';
import { buildModel } from '../lib/models/build.ts';
import { loadWeightsDir, saveWeightsDir } from '../lib/models/weights.ts';
import { loadNative } from '../lib/native.ts';
import { subnetCost } from '../lib/tdnn/macs.ts';
import { AccuracyPredictor } from '../lib/tdnn/predictor.ts';
import { evolutionSearch, predictorObjective } from '../lib/tdnn/search.ts';
import { namedSpace } from '../lib/tdnn/space.ts';
import { formatSubnet, parseSubnet, supernetDims } from '../lib/tdnn/subnet.ts';
import { cli } from './helpers/cli.ts';
import { toneVoiceSet } from './helpers/tone_voice_set.ts';

const CFG = 'exps/tdnn/supernet.yaml';
const OVERRIDES = ['MODEL.CHANNELS', '64', 'MODEL.CAT_CHANNELS', '192', 'MODEL.EMBED_DIM', '32', 'MODEL.NUM_CLASSES', '10', 'THREADS', '1', 'SEED', '5'];
const cfg = loadConfig(CFG, OVERRIDES);
const SUBNET = '3-48-32-64-16-5-3-1-3-96';
const work = mkdtempSync(join(tmpdir(), 'tdnn-eval-'));
const SUPER = join(work, 'super'), PRED = join(work, 'pred');
let data = '';
const dcf = (r: object, p = 0.01) => (r as Record<string, number>)[`minDCF_${p}`];

test.before(async () => {
  data = toneVoiceSet(join(work, 'data')).dir;
  saveWeightsDir(buildModel(cfg).model, SUPER);
  AccuracyPredictor.create(48, { seed: 3 }).save(PRED);
});
test.after.always(() => rmSync(work, { recursive: true, force: true }));

const common = () => ({ cfg: CFG, weights: SUPER, data });

test.serial('evaluate: EER and minDCF of the full-utterance embeddings, equal to the dynamic path scored here', async (t) => {
  const r = await tdnnEvaluate(OVERRIDES, { ...common(), subnet: SUBNET });
  const trials = readTrials(join(data, 'veri_test.txt'));
  t.is(r.trials, trials.length);
  t.is(r.recalibration.batches, 0);
  // Independently: the supernet's dynamic path on each file's whole-utterance LogMelFbanks(80).
  const model = buildModel(cfg).model;
  loadWeightsDir(model, SUPER);
  const files = new Map(scanVoxCeleb(data).utterances.map((u) => [u.path, u.file]));
  const emb = new Map<string, Float32Array>();
  let short = 0;
  for (const p of new Set(trials.flatMap((x) => [x.a, x.b]))) {
    let wav = loadAudio16k(readFileSync(files.get(p)!), p).samples;
    if (wav.length <= 48000) {
      // loadWAV(num_samples=0): np.pad(audio, (0, 48000 - n + 1), 'wrap')
      short++;
      const n = wav.length;
      wav = Float32Array.from({ length: 48001 }, (_, i) => wav[i % n]);
    }
    const f = logmel(wav);
    const e = await loadNative().tdnnForward(model, f.data, [1, f.melBins, f.frames], { mode: 'eval', subnet: parseSubnet(SUBNET) });
    emb.set(p, e.embedding.data as Float32Array);
  }
  t.true(short > 0, 'some trial files take the wrap-padding path');
  const scores = trials.map((x) => cosine(emb.get(x.a)!, emb.get(x.b)!)), labels = trials.map((x) => x.label);
  t.is(r.eer, computeEer(scores, labels).eer);
  for (const p of cfg.EVAL.P_TARGETS) t.is(dcf(r, p), minDcf(scores, labels, p), `minDCF_${p}`);
  t.true(r.eer >= 0 && r.eer <= 1);
});

test.serial('evaluate --recalibrate: deterministic per seed, the statistics move, the number of batches is drop_last', async (t) => {
  const opts = { ...common(), subnet: SUBNET, recalibrate: '20', recalibrateBatch: '6', seed: '1' };
  const a = await tdnnEvaluate(OVERRIDES, opts);
  const b = await tdnnEvaluate(OVERRIDES, opts);
  t.deepEqual(a, b);
  t.deepEqual(a.recalibration, { batches: 3, utterances: 18 });
  const plain = await tdnnEvaluate(OVERRIDES, { ...common(), subnet: SUBNET });
  const c = await tdnnEvaluate(OVERRIDES, { ...opts, seed: '2' });
  t.true(a.eer !== plain.eer || dcf(a) !== dcf(plain) || c.eer !== a.eer || dcf(c) !== dcf(a),
    'recalibration (or its seed) changes the result');
});

test.serial('search: budget kept, predicted EER from the predictor, the exported recalibrated clone evaluates the same and runs in forward', async (t) => {
  const dims = supernetDims(cfg);
  const macs = 10_000_000n;
  const exp = join(work, 'export');
  const r = await tdnnSearch(OVERRIDES, {
    ...common(), macs: '10M', predictor: PRED, generations: '15', recalibrate: '24', recalibrateBatch: '8', export: exp,
  });
  const s = parseSubnet(r.subnet);
  t.true(r.macs <= macs);
  t.is(r.macs, subnetCost(s, dims, 300).macs);
  t.is(r.params, subnetCost(s, dims, 300).params);
  const [predicted] = await predictorObjective(AccuracyPredictor.load(PRED), dims)([s]);
  t.true(Math.abs(r.predicted_eer! - predicted / 100) < 1e-7, `${r.predicted_eer} vs ${predicted} %`);
  t.deepEqual(r.recalibration, { batches: 3, utterances: 24 });
  // The GA the command ran is the library's BG SEGA on the coarse space with SEED; --encoding RI
  // runs the earlier integer GA instead.
  const search = (encoding: 'BG' | 'RI') => evolutionSearch(namedSpace(dims, 'coarse'), dims, { macs, frames: 300 },
    predictorObjective(AccuracyPredictor.load(PRED), dims), { seed: cfg.SEED, generations: 15, encoding });
  t.is(r.subnet, formatSubnet((await search('BG')).best.subnet));
  const ri = await tdnnSearch(OVERRIDES, { ...common(), macs: '10M', predictor: PRED, generations: '15', recalibrate: '0', encoding: 'RI' });
  t.is(ri.subnet, formatSubnet((await search('RI')).best.subnet));
  t.true(ri.macs <= macs);
  // The exported clone is standalone; as loaded it gives the search's measured numbers.
  const ev = cli(['tdnn', 'evaluate', '--cfg', CFG, ...OVERRIDES, '--weights', exp, '--data', data, '--json']);
  t.is(ev.status, 0, ev.stderr);
  const e = JSON.parse(ev.stdout);
  t.is(e.subnet, r.subnet);
  t.true(e.standalone);
  t.is(e.eer, r.eer);
  t.is(e['minDCF_0.01'], dcf(r));
  const x = Float32Array.from({ length: 2 * 80 * 50 }, (_, i) => Math.sin(i * 0.01));
  writeNpy(join(work, 'x.npy'), { data: x, shape: [2, 80, 50], dtype: 'float32' });
  const fw = cli(['forward', '--cfg', CFG, ...OVERRIDES, '--weights', exp, '--input', join(work, 'x.npy'), '--mode', 'eval', '--out', join(work, 'fw')]);
  t.is(fw.status, 0, fw.stderr);
  t.deepEqual(readNpy(join(work, 'fw', 'embedding.npy')).shape, [2, 32]);
});

test.serial('bad input with data: a recalibration batch larger than the set, a missing trial list, weights of another width: exit 2, one line', (t) => {
  const base = ['tdnn', 'evaluate', '--cfg', CFG, ...OVERRIDES, '--weights', SUPER, '--data', data, '--subnet', SUBNET];
  const big = cli([...base, '--recalibrate', '6000']);
  t.is(big.status, 2, big.stderr);
  t.regex(big.stderr, /no full batch of --recalibrate-batch 128/);
  t.is(big.stderr.trim().split('\n').length, 1);
  const trials = cli([...base, '--trials', 'nope.txt']);
  t.is(trials.status, 2);
  t.regex(trials.stderr, /nope\.txt not found/);
  const wide = cli(['tdnn', 'evaluate', '--cfg', CFG, ...OVERRIDES, 'MODEL.CHANNELS', '128', '--weights', SUPER, '--data', data]);
  t.is(wide.status, 2);
  t.regex(wide.stderr, /has shape \[\d+(,\d+)*\], the model needs/);
});
