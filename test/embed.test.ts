// `embed`, `verify`, `score` and `export --format npy` on a tiny trained verification checkpoint
// (tinyDemoSet, 2 epochs of a C=8 network, as test/run.test.ts trains one): embed's vectors are
// the evaluation's per-utterance embeddings bit for bit (from the feature store, in process),
// verify's score is the cosine of embed's vectors and decides with the threshold the checkpoint
// records, score reproduces `evaluate verification` (EER, minDCF, every score), the Kaldi ark
// parses by the format's definition, resampled input equals its resampled samples, the npy export
// holds the checkpoint's tensors and embeds alike, and bad files are per-file errors with nothing
// half-written.
import test from 'ava';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { loadConfig } from '../lib/config/index.ts';
import { FeatureStore } from '../lib/data/store.ts';
import { decodeWav, encodeWav16 } from '../lib/data/wav.ts';
import { loadAudio16k } from '../lib/data/load_audio.ts';
import { embedUtterances } from '../lib/evaluate.ts';
import { readNpy } from '../lib/io/npy.ts';
import { buildModel } from '../lib/models/build.ts';
import { loadWeights, modelTensorsOf } from '../lib/models/weights.ts';
import { loadNative } from '../lib/native.ts';
import { loadCheckpoint, saveCheckpoint } from '../lib/run/checkpoint.ts';
import { cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';
import { manifest } from './helpers/fixtures.ts';

const G = manifest('derived').scalars.genotype.value as string;
const MODEL = ['MODEL.NUM_CLASSES', '6', 'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '3'];
const work = mkdtempSync(join(tmpdir(), 'embed-'));
let data = '', run = '', ckpt = '', testWavs: string[] = [];

test.before(async () => {
  data = await tinyDemoSet();
  const root = join(work, 'runs');
  const r = cli(['train', '--cfg', 'exps/demo/scratch_veri.yaml', '--text_arch', G, 'DATASET.DATA_DIR', data, ...MODEL,
    'TRAIN.END_EPOCH', '2', 'TRAIN.BATCH_SIZE', '8', 'VAL_FREQ', '1', 'OUTPUT_DIR', root]);
  if (r.status !== 0) throw new Error(r.stderr);
  run = join(root, readdirSync(root)[0]);
  ckpt = join(run, 'Model', 'checkpoint_1.ckpt');
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.wav') ? [join(d, e.name)] : []));
  testWavs = walk(join(data, 'test', 'wav')).sort();
});

const rowsOf = (dir: string) => {
  const a = readNpy(join(dir, 'embeddings.npy'));
  const ids = readFileSync(join(dir, 'utts.txt'), 'utf8').trim().split('\n');
  return { ids, shape: a.shape, rows: ids.map((_, i) => (a.data as Float32Array).slice(i * a.shape[1], (i + 1) * a.shape[1])) };
};

function cos64(x: Float32Array, y: Float32Array): number {
  let d = 0, nx = 0, ny = 0;
  for (let k = 0; k < x.length; k++) { d += x[k] * y[k]; nx += x[k] * x[k]; ny += y[k] * y[k]; }
  return d / Math.sqrt(nx * ny);
}

test.serial("embed --list: embeddings.npy (N, D) + utts.txt, bit for bit the evaluation's embeddings from the feature store; verify's score is their cosine", async (t) => {
  const list = join(work, 'list.txt'), out = join(work, 'emb');
  writeFileSync(list, testWavs.join('\n') + '\n');
  const r = cli(['embed', '--load_path', ckpt, '--list', list, '--out', out, '--json']);
  t.is(r.status, 0, r.stderr);
  const summary = JSON.parse(r.stdout);
  t.is(summary.utterances, testWavs.length);
  t.is(summary.failed, 0);
  const e = rowsOf(out);
  t.deepEqual(e.ids, testWavs);
  t.deepEqual(e.shape, [testWavs.length, summary.dim]);

  // In process, as `evaluate verification` embeds: the store's frames, its mean/std, lib/evaluate.
  const cfg = loadConfig('exps/demo/scratch_veri.yaml', ['DATASET.DATA_DIR', data, ...MODEL]);
  const { model } = buildModel(cfg, G);
  loadWeights(model, modelTensorsOf(loadCheckpoint(ckpt).tensors), ckpt);
  model.setDropPathProb(0);
  const store = new FeatureStore(join(data, 'store'));
  const byFile = new Map(store.index.utterances.map((u, i) => [join(data, u.part, 'wav', u.path), i]));
  const items = testWavs.map((f) => byFile.get(f)!);
  t.true(items.every((i) => i !== undefined));
  const ref = await embedUtterances(new (loadNative().Trainer)(model), store, items, cfg, store.meanStd());
  store.close();
  ref.embeddings.forEach((v, i) => t.deepEqual(e.rows[i], v, testWavs[i]));

  // verify on two of them: the cosine of those rows, decided with the checkpoint's threshold
  const history = loadCheckpoint<{ history: Record<string, number>[] }>(ckpt).meta.history;
  const threshold = history[history.length - 1].valid_eer_threshold;
  t.is(typeof threshold, 'number');
  for (const [a, b] of [[0, 1], [0, testWavs.length - 1]]) {
    const v = cli(['verify', '--load_path', ckpt, testWavs[a], testWavs[b], '--json']);
    t.is(v.status, 0, v.stderr);
    const j = JSON.parse(v.stdout);
    t.true(Math.abs(j.score - cos64(e.rows[a], e.rows[b])) <= 1e-12, `${j.score} vs ${cos64(e.rows[a], e.rows[b])}`);
    t.is(j.threshold, threshold);
    t.is(j.same, j.score >= threshold);
    t.regex(j.threshold_source, /checkpoint_1\.ckpt: the EER threshold of its last verification evaluation \(epoch 1, EER/);
  }
});

test.serial('score reproduces `evaluate verification` on the same checkpoint: EER, minDCF and every trial score, from embeddings and from the wavs', (t) => {
  const evalScores = join(work, 'eval_scores.txt');
  const ev = cli(['evaluate', 'verification', '--cfg', 'exps/demo/scratch_veri.yaml', '--load_path', ckpt, 'DATASET.DATA_DIR', data, ...MODEL, '--scores', evalScores, '--json']);
  t.is(ev.status, 0, ev.stderr);
  const er = JSON.parse(ev.stdout);
  t.is(er.skipped, 0);
  const fromEmb = join(work, 'scores_emb.txt'), fromWav = join(work, 'scores_wav.txt');
  const s = cli(['score', '--embeddings', join(work, 'emb'), '--trials', join(data, 'veri_test.txt'), '--out', fromEmb, '--json']);
  t.is(s.status, 0, s.stderr);
  const sr = JSON.parse(s.stdout);
  t.is(sr.trials, er.trials);
  t.is(sr.eer, er.eer);
  t.is(sr['minDCF_0.01'], er['minDCF_0.01']);
  t.is(sr['minDCF_0.05'], er['minDCF_0.05']);
  t.is(sr.eer_threshold, er.eer_threshold);
  const parse = (f: string) => readFileSync(f, 'utf8').trim().split('\n').map((l) => l.split(' '));
  const a = parse(fromEmb), b = parse(evalScores);
  t.is(a.length, b.length);
  a.forEach((x, i) => {
    t.deepEqual([x[0], x[2], x[3]], [b[i][0], b[i][2], b[i][3]]);
    t.is(Number(x[1]).toPrecision(9), b[i][1], `trial ${i}`); // evaluate writes 9 significant digits
  });
  const w = cli(['score', '--load_path', ckpt, '--data-dir', data, '--trials', 'veri_test.txt', '--out', fromWav, '--json']);
  t.is(w.status, 0, w.stderr);
  t.is(JSON.parse(w.stdout).eer, er.eer);
  t.is(JSON.parse(w.stdout).model, ckpt);
  t.is(readFileSync(fromWav, 'utf8'), readFileSync(fromEmb, 'utf8'));
});

test.serial('a run directory as --load_path is its checkpoint_best.ckpt for score and export alike, and both say so', (t) => {
  const best = join(run, 'Model', 'checkpoint_best.ckpt');
  t.true(existsSync(best));
  const s = cli(['score', '--load_path', run, '--data-dir', data, '--trials', 'veri_test.txt', '--out', join(work, 'scores_run.txt'), '--json']);
  t.is(s.status, 0, s.stderr);
  t.is(JSON.parse(s.stdout).model, best);
  const e = cli(['export', '--format', 'npy', '--load_path', run, '--out', join(work, 'sd_run'), '--json']);
  t.is(e.status, 0, e.stderr);
  t.is(JSON.parse(e.stdout).source, best);
  const w = loadCheckpoint(best).tensors.get('model/classifier.weight')!;
  t.deepEqual(readNpy(join(work, 'sd_run', 'classifier.weight.npy')).data, w.data);
});

test.serial('verify: --threshold overrides; a checkpoint without a recorded threshold gives the score, no decision, and says why', (t) => {
  const [a, b] = testWavs;
  const given = cli(['verify', '--load_path', ckpt, a, b, '--threshold', '2', '--json']);
  t.is(given.status, 0, given.stderr);
  t.like(JSON.parse(given.stdout), { same: false, threshold: 2, threshold_source: '--threshold' });
  const c = loadCheckpoint<{ history: Record<string, unknown>[] }>(ckpt);
  const old = join(work, 'old.ckpt'); // as written before thresholds were recorded
  saveCheckpoint(old, { meta: { ...c.meta, history: c.meta.history.map(({ valid_eer_threshold: _, ...rest }) => rest) }, tensors: c.tensors });
  const none = cli(['verify', '--load_path', old, a, b, '--json']);
  t.is(none.status, 0, none.stderr);
  const j = JSON.parse(none.stdout);
  t.is(j.same, null);
  t.is(j.threshold, null);
  t.regex(j.threshold_source, /^none: .*old\.ckpt records verification EERs but no threshold.*pass --threshold/);
  t.is(j.score, JSON.parse(given.stdout).score);
  t.regex(none.stderr, /no same\/different decision/);
  const bad = cli(['verify', '--load_path', ckpt, a, join(work, 'absent.wav')]);
  t.is(bad.status, 2);
  t.regex(bad.stderr, /absent\.wav: no such file/);
  t.is(cli(['verify', '--load_path', ckpt, a, b, '--threshold', 'high']).status, 2);
});

test.serial('--format kaldi: embeddings.ark parsed by the binary format (key, space, \\0B, "FV ", \\4, int32 dim, floats) equals embeddings.npy; the scp offsets point at each \\0B', (t) => {
  const scp = join(work, 'wav.scp'), out = join(work, 'emb_kaldi');
  const chosen = testWavs.slice(0, 5);
  writeFileSync(scp, chosen.map((f, i) => `utt${i}-${f.split('/').slice(-3).join('-')} ${f}`).join('\n') + '\n');
  const r = cli(['embed', '--load_path', ckpt, '--scp', scp, '--out', out, '--format', 'kaldi']);
  t.is(r.status, 0, r.stderr);
  const e = rowsOf(out);
  t.deepEqual(e.ids, chosen.map((f, i) => `utt${i}-${f.split('/').slice(-3).join('-')}`));
  const ark = readFileSync(join(out, 'embeddings.ark'));
  const parsed: { key: string; at: number; values: Float32Array }[] = [];
  let p = 0;
  while (p < ark.length) {
    const sp = ark.indexOf(0x20, p);
    const key = ark.toString('latin1', p, sp);
    const at = sp + 1;
    t.is(ark.toString('latin1', at, at + 2), '\0B');
    t.is(ark.toString('latin1', at + 2, at + 5), 'FV ');
    t.is(ark[at + 5], 4);
    const dim = ark.readInt32LE(at + 6);
    const values = new Float32Array(dim);
    for (let k = 0; k < dim; k++) values[k] = ark.readFloatLE(at + 10 + 4 * k);
    parsed.push({ key, at, values });
    p = at + 10 + 4 * dim;
  }
  t.is(p, ark.length);
  t.deepEqual(parsed.map((x) => x.key), e.ids);
  parsed.forEach((x, i) => t.deepEqual(x.values, e.rows[i]));
  const scpLines = readFileSync(join(out, 'embeddings.scp'), 'utf8').trim().split('\n');
  scpLines.forEach((l, i) => {
    const [key, loc] = l.split(' ');
    t.is(key, e.ids[i]);
    const [file, off] = [loc.slice(0, loc.lastIndexOf(':')), Number(loc.slice(loc.lastIndexOf(':') + 1))];
    t.is(file, join(out, 'embeddings.ark'));
    t.is(off, parsed[i].at);
  });
  // score reads the Kaldi scp too
  const s = cli(['score', '--embeddings', join(out, 'embeddings.scp'), '--trials', join(work, 'k_trials.txt'), '--out', join(work, 'k.txt')]);
  t.is(s.status, 2); // no such trials file: one error
  writeFileSync(join(work, 'k_trials.txt'), `${e.ids[0]} ${e.ids[1]}\n`);
  const s2 = cli(['score', '--embeddings', join(out, 'embeddings.scp'), '--trials', join(work, 'k_trials.txt'), '--out', join(work, 'k.txt')]);
  t.is(s2.status, 0, s2.stderr);
  t.is(Number(readFileSync(join(work, 'k.txt'), 'utf8').split(' ')[0]), cos64(e.rows[0], e.rows[1]));
  // a key Kaldi cannot hold is refused before any work
  writeFileSync(join(work, 'space.txt'), `${chosen[0].replace('00001', '0 1')}\n`);
  const k = cli(['embed', '--load_path', ckpt, '--list', join(work, 'space.txt'), '--out', join(work, 'never'), '--format', 'kaldi']);
  t.is(k.status, 2);
  t.regex(k.stderr, /cannot be a Kaldi key/);
  t.false(existsSync(join(work, 'never')));
});

/** A mono float32 WAV (format tag 3). */
function floatWav(x: Float32Array, rate: number): Buffer {
  const b = Buffer.alloc(44 + 4 * x.length);
  b.write('RIFF', 0, 'latin1'); b.writeUInt32LE(36 + 4 * x.length, 4); b.write('WAVEfmt ', 8, 'latin1');
  b.writeUInt32LE(16, 16); b.writeUInt16LE(3, 20); b.writeUInt16LE(1, 22); b.writeUInt32LE(rate, 24);
  b.writeUInt32LE(rate * 4, 28); b.writeUInt16LE(4, 32); b.writeUInt16LE(32, 34); b.write('data', 36, 'latin1'); b.writeUInt32LE(4 * x.length, 40);
  x.forEach((v, i) => b.writeFloatLE(v, 44 + 4 * i));
  return b;
}

test.serial('another sample rate is resampled as preprocess --resample does: its embedding equals that of its resampled samples', (t) => {
  const w = decodeWav(readFileSync(testWavs[0]), testWavs[0]);
  const pcm = Int16Array.from({ length: Math.floor(w.samples.length / 2) }, (_, i) => Math.round(w.samples[2 * i] * 32767));
  const at8k = join(work, 'eight_khz.wav'), at16k = join(work, 'resampled_16k.wav');
  writeFileSync(at8k, encodeWav16(pcm, 8000));
  writeFileSync(at16k, floatWav(loadAudio16k(readFileSync(at8k), at8k, true).samples, 16000));
  const r = cli(['embed', '--load_path', ckpt, at8k, at16k, '--out', join(work, 'emb_rate'), '--json']);
  t.is(r.status, 0, r.stderr);
  t.is(JSON.parse(r.stdout).resampled, 1);
  const e = rowsOf(join(work, 'emb_rate'));
  t.deepEqual(e.rows[0], e.rows[1]);
});

test.serial('export --format npy: one <key>.npy per state_dict tensor, equal to the checkpoint; embedding from it (with --cfg, --text_arch, --mean-std) equals the checkpoint\'s', (t) => {
  const dir = join(work, 'state_dict');
  const r = cli(['export', '--format', 'npy', '--load_path', ckpt, '--out', dir, '--json']);
  t.is(r.status, 0, r.stderr);
  const c = loadCheckpoint(ckpt);
  const keys = [...c.tensors.keys()].filter((k) => k.startsWith('model/')).map((k) => k.slice(6));
  t.is(JSON.parse(r.stdout).tensors, keys.length);
  t.deepEqual(readdirSync(dir).sort(), keys.map((k) => `${k}.npy`).sort());
  for (const k of keys) {
    const a = readNpy(join(dir, `${k}.npy`)), want = c.tensors.get(`model/${k}`)!;
    t.is(a.dtype, want.dtype, k);
    t.deepEqual(a.shape, want.shape, k);
    t.deepEqual(Buffer.from(a.data.buffer, a.data.byteOffset, a.data.byteLength), Buffer.from(want.data.buffer, want.data.byteOffset, want.data.byteLength), k);
  }
  const two = testWavs.slice(0, 2);
  const fromDir = cli(['embed', '--load_path', dir, '--cfg', join(run, 'config.yaml'), '--text_arch', G, '--mean-std', join(data, 'store'), ...two, '--out', join(work, 'emb_dir')]);
  t.is(fromDir.status, 0, fromDir.stderr);
  const fromCkpt = rowsOf(join(work, 'emb'));
  rowsOf(join(work, 'emb_dir')).rows.forEach((v, i) => t.deepEqual(v, fromCkpt.rows[i]));
  const noCfg = cli(['embed', '--load_path', dir, two[0], '--out', join(work, 'never2')]);
  t.is(noCfg.status, 2);
  t.regex(noCfg.stderr, /a state_dict directory says nothing of its network: pass --cfg/);
  // a file no loader takes: the error lists what is read; a .bwn that is not one: the .bwn loader's error
  const unknown = join(work, 'model.bin');
  writeFileSync(unknown, 'not a model');
  const u = cli(['embed', '--load_path', unknown, two[0], '--out', join(work, 'never2')]);
  t.is(u.status, 2);
  t.regex(u.stderr, /model\.bin: not a model this build reads; it reads:[\s\S]*bwn: a binary-weight ResNet \.bwn file/);
  const fake = join(work, 'model.bwn');
  writeFileSync(fake, 'not yet');
  const f = cli(['embed', '--load_path', fake, '--cfg', join(run, 'config.yaml'), two[0], '--out', join(work, 'never2')]);
  t.is(f.status, 2);
  t.regex(f.stderr, /model\.bwn/);
  t.is(f.stderr.trim().split('\n').length, 1, f.stderr);
  t.false(existsSync(join(work, 'never2')));
});

test.serial('bad files among many: one line each, the rest embedded, exit 1; all bad: nothing written, an earlier output left whole; no temp files', (t) => {
  const bad = join(work, 'bad');
  mkdirSync(bad, { recursive: true });
  const truncated = join(bad, 'truncated.wav'), silent = join(bad, 'silent.wav'), text = join(bad, 'text.wav'), absent = join(bad, 'absent.wav');
  writeFileSync(truncated, readFileSync(testWavs[0]).subarray(0, 1000));
  writeFileSync(silent, encodeWav16(new Int16Array(48000)));
  writeFileSync(text, 'hello');
  const good = testWavs.slice(0, 6);
  const list = join(work, 'mixed.txt');
  writeFileSync(list, [good[0], truncated, good[1], good[2], silent, bad, good[3], text, good[4], absent, good[5]].join('\n') + '\n');
  const out = join(work, 'emb_mixed');
  const r = cli(['embed', '--load_path', ckpt, '--list', list, '--out', out, '--json']);
  t.is(r.status, 1, r.stderr);
  const j = JSON.parse(r.stdout);
  t.is(j.utterances, 6);
  t.deepEqual(j.errors.map((e: { file: string }) => e.file), [truncated, silent, bad, text, absent]);
  for (const [file, why] of [[truncated, /truncated data chunk/], [silent, /silent: all samples zero/], [bad, /is a directory/], [text, /not a RIFF\/WAVE file/], [absent, /no such file/]] as const)
    t.regex(r.stderr, new RegExp(`autospeech: ${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}: ${why.source}`));
  t.regex(r.stderr, /autospeech: error: 5 of 11 file\(s\) could not be embedded \(listed above\); the other 6 are in/);
  const e = rowsOf(out);
  t.deepEqual(e.ids, good);
  const whole = rowsOf(join(work, 'emb'));
  e.rows.forEach((v, i) => t.deepEqual(v, whole.rows[i]));
  // every file bad: the previous output stays as it was
  const before = [readFileSync(join(out, 'embeddings.npy')), readFileSync(join(out, 'utts.txt'))];
  const allBad = join(work, 'all_bad.txt');
  writeFileSync(allBad, [truncated, absent].join('\n'));
  const r2 = cli(['embed', '--load_path', ckpt, '--list', allBad, '--out', out]);
  t.is(r2.status, 1);
  t.regex(r2.stderr, /none of the 2 file\(s\) could be embedded \(listed above\); nothing was written/);
  t.deepEqual([readFileSync(join(out, 'embeddings.npy')), readFileSync(join(out, 'utts.txt'))], before);
  t.deepEqual(readdirSync(out).sort(), ['embeddings.npy', 'utts.txt']);
  const fresh = cli(['embed', '--load_path', ckpt, '--list', allBad, '--out', join(work, 'never3')]);
  t.is(fresh.status, 1);
  t.false(existsSync(join(work, 'never3')));
  // usage errors
  t.is(cli(['embed', '--load_path', ckpt, '--out', join(work, 'never3')]).status, 2);
  writeFileSync(join(work, 'dup.txt'), `${good[0]}\n${good[0]}\n`);
  const dup = cli(['embed', '--load_path', ckpt, '--list', join(work, 'dup.txt'), '--out', join(work, 'never3')]);
  t.is(dup.status, 2);
  t.regex(dup.stderr, /is given twice \(.*dup\.txt:1 and .*dup\.txt:2\)/);
  t.false(existsSync(join(work, 'never3')));
});
