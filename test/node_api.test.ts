// The Node API (lib/index.ts, the package's `exports`) on a tiny trained verification checkpoint
// (tinyDemoSet, 2 epochs of a C=8 derived network, as test/embed.test.ts trains one): embed gives
// `autospeech embed`'s vector bit for bit (from a path and from decoded samples), score is the
// cosine of two embeddings as `autospeech verify` prints it, info describes the network, the event
// loop keeps running while the network runs, and bad inputs are errors naming them.
// Then the package is packed (with its prebuilt addon, made by `npm run prebuildify` when the
// checkout has none), the tarball installed into a temporary project (npm, from its cache) and
// examples/verify.mjs and the `autospeech` bin run there (AUTOSPEECH_PACK_TEST=0 skips that).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { decodeWav } from '../lib/data/wav.ts';
import { cosine, loadModel } from '../lib/index.ts';
import { readNpy } from '../lib/io/npy.ts';
import { loadNative } from '../lib/native.ts';
import { loadCheckpoint } from '../lib/run/checkpoint.ts';
import { cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';
import { manifest } from './helpers/fixtures.ts';

const G = manifest('derived').scalars.genotype.value as string;
const MODEL = ['MODEL.NUM_CLASSES', '6', 'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '3'];
const work = mkdtempSync(join(tmpdir(), 'node-api-'));
const ROOT = join(import.meta.dirname, '..');
let ckpt = '', wavs: string[] = [];

test.before(async () => {
  const data = await tinyDemoSet();
  const root = join(work, 'runs');
  const r = cli(['train', '--cfg', 'exps/demo/scratch_veri.yaml', '--text_arch', G, 'DATASET.DATA_DIR', data, ...MODEL,
    'TRAIN.END_EPOCH', '2', 'TRAIN.BATCH_SIZE', '8', 'VAL_FREQ', '1', 'OUTPUT_DIR', root]);
  if (r.status !== 0) throw new Error(r.stderr);
  ckpt = join(root, readdirSync(root)[0], 'Model', 'checkpoint_1.ckpt');
  const walk = (d: string): string[] => readdirSync(d, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(d, e.name)) : e.name.endsWith('.wav') ? [join(d, e.name)] : []));
  wavs = walk(join(data, 'test', 'wav')).sort().slice(0, 3);
});

test.after.always(() => rmSync(work, { recursive: true, force: true }));

/** `autospeech embed`'s vectors of the files, in order. */
function cliEmbeddings(files: string[], out: string): Float32Array[] {
  const list = join(work, `${out}.txt`);
  writeFileSync(list, files.join('\n') + '\n');
  const r = cli(['embed', '--load_path', ckpt, '--list', list, '--out', join(work, out), '--json']);
  if (r.status !== 0) throw new Error(r.stderr);
  const a = readNpy(join(work, out, 'embeddings.npy'));
  return files.map((_, i) => (a.data as Float32Array).slice(i * a.shape[1], (i + 1) * a.shape[1]));
}

test.serial("embed(path) and embed(samples) are `autospeech embed`'s vectors bit for bit; score is their cosine, as verify prints it", async (t) => {
  const m = await loadModel(ckpt);
  const ref = cliEmbeddings(wavs, 'emb');
  for (const [i, f] of wavs.entries()) {
    const v = await m.embed(f);
    t.true(v instanceof Float32Array);
    t.deepEqual(v, ref[i], f);
    t.deepEqual(await m.embed(decodeWav(readFileSync(f), f).samples), ref[i], `${f} as samples`);
  }
  const s = await m.score(wavs[0], wavs[1]);
  t.is(s, cosine(ref[0], ref[1]));
  const v = cli(['verify', '--load_path', ckpt, wavs[0], wavs[1], '--json']);
  t.is(v.status, 0, v.stderr);
  t.is(JSON.parse(v.stdout).score, s);
  // cosine by its definition, in float64
  let d = 0, na = 0, nb = 0;
  for (let k = 0; k < ref[0].length; k++) { d += ref[0][k] * ref[1][k]; na += ref[0][k] ** 2; nb += ref[1][k] ** 2; }
  t.true(Math.abs(s - d / Math.sqrt(na * nb)) < 1e-12);
});

test.serial('info: kind, name, dims, parameter counts, genotype and the recorded threshold, as the checkpoint and model-info give them', async (t) => {
  const m = await loadModel(ckpt);
  const info = m.info;
  t.is(info.family, 'autospeech');
  t.is(info.kind, 'network');
  t.is(info.name, 'model');
  t.is(info.format, 'autospeech checkpoint');
  t.is(info.file, ckpt);
  t.false(info.binary);
  t.is(info.genotype, G);
  t.is(info.subnet, null);
  t.is(info.dims.features, 257);
  t.is(info.dims.window, 300);
  t.is(info.dims.embedding, (await m.embed(wavs[0])).length);
  const classifier = loadCheckpoint(ckpt).tensors.get('model/classifier.weight')!;
  t.deepEqual(classifier.shape, [6, info.dims.embedding]);
  const mi = cli(['model-info', '--cfg', 'exps/demo/scratch_veri.yaml', '--text_arch', G, ...MODEL, '--json']);
  t.is(mi.status, 0, mi.stderr);
  t.is(info.params.total, JSON.parse(mi.stdout).params.total);
  t.true(info.params.trainable > 0 && info.params.trainable <= info.params.total);
  const history = loadCheckpoint(ckpt).meta.history as { valid_eer_threshold?: number }[];
  t.is(info.threshold, history.filter((h) => typeof h.valid_eer_threshold === 'number').at(-1)!.valid_eer_threshold!);
  t.true(Object.isFrozen(info));
});

test.serial('the event loop keeps running while the network embeds (a setInterval ticks throughout)', async (t) => {
  const m = await loadModel(ckpt);
  // a long utterance: the test files one after another, 4x
  const parts = wavs.map((f) => decodeWav(readFileSync(f), f).samples);
  const long = new Float32Array(4 * parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (let r = 0; r < 4; r++) for (const p of parts) { long.set(p, at); at += p.length; }
  let ticks = 0, last = performance.now(), maxGap = 0;
  const timer = setInterval(() => { const now = performance.now(); maxGap = Math.max(maxGap, now - last); last = now; ticks++; }, 2);
  const start = performance.now();
  last = start;
  const pending = m.embed(long);
  const v = await pending;
  const ms = performance.now() - start;
  clearInterval(timer);
  t.log(`embed of ${(long.length / 16000).toFixed(1)} s: ${ms.toFixed(0)} ms, ${ticks} ticks of a 2 ms interval, longest gap ${maxGap.toFixed(1)} ms`);
  t.true(v.every(Number.isFinite));
  t.true(ms > 20, `the embed took ${ms.toFixed(1)} ms: too short to tell`);
  // blocked, the timer would not fire at all until the embed ended
  t.true(ticks >= ms / 2 / 4, `${ticks} ticks in ${ms.toFixed(0)} ms`);
  t.true(maxGap < 0.6 * ms, `longest gap ${maxGap.toFixed(1)} ms of ${ms.toFixed(0)} ms`);
});

test.serial('the compute-thread front ends (spectrogramAsync, logmelAsync) give the synchronous ones\' values', async (t) => {
  const n = loadNative();
  const x = decodeWav(readFileSync(wavs[0]), wavs[0]).samples;
  t.deepEqual(await n.spectrogramAsync(x), n.spectrogram(x));
  t.deepEqual(await n.logmelAsync(x, { melBins: 80, scale: 32768 }), n.logmel(x, { melBins: 80, scale: 32768 }));
  await t.throwsAsync(async () => n.logmelAsync(new Float32Array(100)), { message: /at least 257/ });
  t.throws(() => n.spectrogramAsync(Float32Array.from([0, NaN, ...new Float32Array(400)])), { message: /NaN or infinite/ });
});

test.serial('bad inputs: errors naming the file or argument', async (t) => {
  const m = await loadModel(ckpt);
  await t.throwsAsync(() => m.embed(join(work, 'missing.wav')), { message: /missing\.wav: no such file/ });
  const junk = join(work, 'junk.wav');
  writeFileSync(junk, 'not a wav');
  await t.throwsAsync(() => m.embed(junk), { message: new RegExp(`^${junk}: `) });
  await t.throwsAsync(() => m.embed(new Float32Array(16000)), { message: /silent/ });
  await t.throwsAsync(() => m.embed(42 as unknown as string), { message: /expected a wav file path or a Float32Array/ });
  await t.throwsAsync(() => m.score(wavs[0], new Float32Array(10)), { message: /score\(b\).*at least/ });
  await t.throwsAsync(() => loadModel(join(work, 'nope.ckpt')), { message: /nope\.ckpt: no such file or directory/ });
  t.throws(() => cosine(new Float32Array(3), new Float32Array(4)), { message: /differ in size \(3 vs 4\)/ });
});

const packTest = process.env.AUTOSPEECH_PACK_TEST === '0' ? test.serial.skip : test.serial;

packTest('npm pack -> npm install <tarball> in a fresh project: examples/verify.mjs and the autospeech bin work there on plain Node', async (t) => {
  const pack = join(work, 'pack');
  mkdirSync(pack);
  // The package ships a prebuilt addon: make it when the checkout has none (scripts/prebuild_gyp.sh
  // keeps build/Release's addon, loaded by this process, intact).
  const prebuilds = join(ROOT, 'prebuilds', `${process.platform}-${process.arch}`);
  if (!existsSync(prebuilds) || !readdirSync(prebuilds).some((f) => f.endsWith('.node')))
    execFileSync('npm', ['run', 'prebuildify'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', pack], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const [info] = JSON.parse(out) as { filename: string; size: number; unpackedSize: number; files: { path: string }[] }[];
  const tarball = join(pack, info.filename);
  t.log(`${info.filename}: ${(info.size / 1e6).toFixed(2)} MB packed, ${(info.unpackedSize / 1e6).toFixed(2)} MB unpacked, ${info.files.length} files`);
  const paths = info.files.map((f) => f.path);
  t.true(paths.includes('dist/index.js') && paths.includes('dist/index.d.ts') && paths.includes('bin/autospeech'));
  t.true(paths.some((p) => /^prebuilds\/linux-x64\/.*\.node$/.test(p)), 'a prebuilt addon');
  t.true(paths.includes('prebuilds/linux-x64/libtorch.json'));
  t.false(paths.some((p) => /^(test|lib|runs|data|bench)\//.test(p)), 'no tests, sources, runs or data');

  const app = join(work, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', version: '1.0.0', type: 'module', private: true }));
  execFileSync('npm', ['install', tarball, '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: app, stdio: ['ignore', 'pipe', 'pipe'] });
  copyFileSync(join(ROOT, 'examples', 'verify.mjs'), join(app, 'verify.mjs'));
  // plain Node: no tsx loader anywhere on the command line or in NODE_OPTIONS
  const env = { ...process.env, NODE_OPTIONS: '' };
  const r = JSON.parse(execFileSync(process.execPath, ['verify.mjs', ckpt, wavs[0], wavs[1]], { cwd: app, env, encoding: 'utf8' }).trim().split('\n').at(-1)!);
  const m = await loadModel(ckpt);
  t.is(r.score, await m.score(wavs[0], wavs[1]));
  const bin = join(app, 'node_modules', '.bin', 'autospeech');
  const v = JSON.parse(execFileSync(bin, ['verify', '--load_path', ckpt, wavs[0], wavs[1], '--json'], { cwd: app, env, encoding: 'utf8' }));
  t.is(v.score, r.score);
  const doctor = execFileSync(bin, ['doctor', '--json'], { cwd: app, env, encoding: 'utf8' });
  t.regex(doctor, /prebuilds\/linux-x64/);

  // a consumer's TypeScript reads the shipped declarations (skipLibCheck off), and they are real types
  writeFileSync(join(app, 'check.ts'), [
    "import { cosine, loadModel, type ModelInfo, type SpeakerModel } from 'autospeech';",
    "const m: SpeakerModel = await loadModel('x.ckpt', { cfg: 'c.yaml', subnet: '3-32-16-32-24-5-3-1-3-96' });",
    "const v: Float32Array = await m.embed('a.wav');",
    "const info: ModelInfo = m.info;",
    "console.log(info.dims.embedding + cosine(v, v) + (await m.score(v, 'b.wav')), info.subnet ?? info.genotype);",
  ].join('\n'));
  writeFileSync(join(app, 'bad.ts'), "import { loadModel } from 'autospeech';\nconst s: string = await (await loadModel('x')).embed('a.wav');\nconsole.log(s);\n");
  const tsc = (file: string) => {
    writeFileSync(join(app, 'tsconfig.json'), JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true,
      skipLibCheck: false, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] }, files: [file] }));
    try {
      execFileSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', app], { cwd: app, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      return '';
    } catch (e) {
      return (e as { stdout: string }).stdout;
    }
  };
  t.is(tsc('check.ts'), '');
  t.regex(tsc('bad.ts'), /bad\.ts\(2,7\): error TS2322: Type 'Float32Array.*' is not assignable to type 'string'/);

  // a libtorch that differs (here broken copies of the libraries it links, first on the library
  // path): the error names the libtorch the prebuild was built against and says to rebuild
  const record = JSON.parse(readFileSync(join(app, 'node_modules', 'autospeech', 'prebuilds', 'linux-x64', 'libtorch.json'), 'utf8')) as { torchVersion: string; needed: string[] };
  t.is(record.torchVersion, loadNative().info().torchVersion);
  t.true(record.needed.length > 0);
  const fake = join(work, 'badtorch');
  mkdirSync(fake);
  for (const lib of record.needed) writeFileSync(join(fake, lib), 'not a library');
  let err = '';
  try {
    execFileSync(process.execPath, ['verify.mjs', ckpt, wavs[0], wavs[1]], { cwd: app, env: { ...env, LD_LIBRARY_PATH: fake }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    err = (e as { stderr: string }).stderr;
  }
  t.regex(err, new RegExp(`prebuilt addon \\S*prebuilds/linux-x64/autospeech\\.node was built against libtorch ${record.torchVersion.replaceAll('.', '\\.')}`));
  t.regex(err, /npm run setup/);
});
