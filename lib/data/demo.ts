// VoxLike-Synth: a VoxCeleb1-layout demo set generated from Debian-packaged speech synthesis
// (flite's and festival's voices built on recordings of real people first, then espeak-ng voices
// with per-speaker accent and variant; every speaker has its own pitch and rate), resampled to
// 16 kHz by sox,
// then passed through per-session channel effects (audio_effects.ts). Whole sessions ("videos") are
// held out for val/test, the verification test speakers are kept out of dev, and a seed gives
// bit-identical files. Never call it VoxCeleb: it is synthetic.
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { Prng } from '../util/prng.ts';
import { pcm16ToFloat64, runCommand } from '../util/run_command.ts';
import { applyChannel, type Channel, randomChannel } from './audio_effects.ts';
import { REAL_SPEAKERS, type Clip, decodeClip, ensureRealVoicePackages, listClips } from './real_voices.ts';
import { encodeWav16 } from './wav.ts';

export interface DemoOptions {
  speakers: number;
  utterances: number;
  seed: number;
  minSeconds: number;
  maxSeconds: number;
  /** verification test speakers (kept out of dev); default max(2, speakers / 5) */
  testSpeakers?: number;
  /** sessions per speaker: all but the last two train, then one val and one test */
  sessions?: number;
  concurrency?: number;
  /** Add the 9 recorded human voices from Debian main (real_voices.ts), fetched into `cache`. */
  real?: { cache: string; clean?: boolean; log?: (msg: string) => void };
  onProgress?: (done: number, total: number) => void;
}

export const PRESETS = {
  default: { speakers: 40, utterances: 30, minSeconds: 3, maxSeconds: 8 },
  tiny: { speakers: 8, utterances: 12, minSeconds: 3.2, maxSeconds: 4.5 },
} as const;

const ACCENTS = ['en-us', 'en-gb', 'en-gb-scotland', 'en-gb-x-rp', 'en-029', 'en-gb-x-gbclan'];
const VARIANTS = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6', 'm7', 'm8', 'f1', 'f2', 'f3', 'f4', 'f5', 'Alex', 'Andy', 'Annie', 'belinda',
  'benjamin', 'david', 'edward', 'Gene', 'john', 'linda', 'max', 'Michael', 'norbert', 'paul', 'quincy', 'rob', 'robert', 'steph',
  'travis', 'victor', 'klatt', 'klatt2', 'klatt3'];
const WORDS = ('the of and to in is was that for on with as by at from his her they have this which one had not but what all were when ' +
  'there can an your which their said if do will each about how up out them then she many some so these would other into has more two ' +
  'time like could people first water been call who oil its now find long down day did get come made may part over new sound take only ' +
  'little work know place years live back give most very after things our just name good sentence man think say great where help through ' +
  'much before line right too means old any same tell boy follow came want show also around form three small set put end does another well ' +
  'large must big even such because turn here why ask went men read need land different home move try kind hand picture again change off ' +
  'play spell air away animal house point page letter mother answer found study still learn should world high every near add food between ' +
  'own below country plant last school father keep tree never start city earth eyes light thought head under story saw left few while along ' +
  'might close something seem next hard open example begin life always those both paper together got group often run important until children ' +
  'side feet car mile night walk white sea began grow took river four carry state once book hear stop without second later miss idea enough ' +
  'eat face watch far really almost let above girl sometimes mountains cut young talk soon list song being leave family').split(' ');

/** The Debian main voices built on a real person's recordings (DEMO_DATA.md §2), used first. */
const BASE_VOICES: { engine: 'flite' | 'festival'; voice: string; gender: 'f' | 'm'; f0: number | null; kind: string; pkg: string }[] = [
  { engine: 'flite', voice: 'slt', gender: 'f', f0: 170, kind: 'statistical-synth-of-real-speaker', pkg: 'flite' },
  { engine: 'flite', voice: 'awb', gender: 'm', f0: 115, kind: 'statistical-synth-of-real-speaker', pkg: 'flite' },
  { engine: 'flite', voice: 'rms', gender: 'm', f0: null, kind: 'statistical-synth-of-real-speaker', pkg: 'flite' }, // ignores f0 targets
  { engine: 'flite', voice: 'kal16', gender: 'm', f0: 100, kind: 'diphone-synth-of-real-speaker', pkg: 'flite' },
  { engine: 'festival', voice: 'kal_diphone', gender: 'm', f0: 105, kind: 'diphone-synth-of-real-speaker', pkg: 'festvox-kallpc16k' },
  { engine: 'festival', voice: 'ked_diphone', gender: 'm', f0: 105, kind: 'diphone-synth-of-real-speaker', pkg: 'festvox-kdlpc16k' },
];

interface Speaker {
  id: string; accent: string; variant: string; pitch: number; speed: number; gap: number; gender: string; set: 'dev' | 'test';
  /** espeak-ng (accent + variant, pitch 0-99, speed in wpm) or a flite/festival voice (f0 target in Hz, duration stretch) */
  engine: 'espeak-ng' | 'flite' | 'festival';
  voice?: { name: string; f0: number | null; stretch: number; kind: string; pkg: string };
  /** a recorded speaker (real_voices.ts) instead of a synthetic voice */
  real?: { key: string; person: string; language: string; packages: string[] };
}

function videoId(rng: Prng): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  return Array.from({ length: 11 }, () => chars[rng.int(0, chars.length)]).join('');
}

function seedOf(...parts: (number | string)[]): number {
  return createHash('sha256').update(parts.join('/')).digest().readUInt32LE(0);
}

/** The speaker's engine -> sox (16 kHz, 16-bit, no dither) -> float64 samples in [-1, 1]. */
async function synthesize(sp: Speaker, text: string, tmp: string): Promise<Float64Array> {
  let wav: Buffer;
  if (sp.engine === 'espeak-ng') {
    wav = await runCommand('espeak-ng', ['-v', `${sp.accent}+${sp.variant}`, '-p', String(sp.pitch), '-s', String(sp.speed), '-g', String(sp.gap), '--stdout'], text);
  } else {
    const v = sp.voice!;
    const file = join(tmp, `${sp.id}-${createHash('sha256').update(text).digest('hex').slice(0, 16)}.wav`);
    if (sp.engine === 'flite') {
      const f0 = v.f0 === null ? [] : ['--setf', `int_f0_target_mean=${v.f0}`];
      await runCommand('flite', ['-voice', v.name, ...f0, '--setf', `duration_stretch=${v.stretch}`, '-t', text, '-o', file]);
    } else {
      const params = `(set! int_lr_params '((target_f0_mean ${v.f0}) (target_f0_std 14) (model_f0_mean 170) (model_f0_std 34)))`;
      await runCommand('text2wave', ['-eval', `(begin (voice_${v.name}) ${params} (Parameter.set 'Duration_Stretch ${v.stretch}))`, '-o', file], text);
    }
    wav = readFileSync(file);
    rmSync(file, { force: true });
  }
  return pcm16ToFloat64(await runCommand('sox', ['-D', '-R', '-t', 'wav', '-', '-t', 'raw', '-r', '16000', '-e', 'signed-integer', '-b', '16', '-c', '1', '-'], wav));
}

export interface DemoSummary { name: string; speakers: number; utterances: number; trials: number; seconds: number }

export async function generateDemoData(dir: string, o: DemoOptions): Promise<DemoSummary> {
  const sessions = o.sessions ?? 6;
  const nTest = o.speakers === 0 ? 0 : o.testSpeakers ?? Math.max(2, Math.floor(o.speakers / 5));
  if (o.speakers < 4 && !(o.real && o.speakers === 0)) throw new UserError('demo-data: need at least 4 synthetic speakers (or 0 with --real)');
  if (o.utterances < sessions) throw new UserError(`demo-data: need at least ${sessions} utterances per speaker (one per session)`);
  if (o.speakers > 0 && nTest >= o.speakers) throw new UserError('demo-data: more test speakers than speakers');
  if (!(o.minSeconds > 0 && o.maxSeconds >= o.minSeconds)) throw new UserError('demo-data: need 0 < minSeconds <= maxSeconds');
  const rng = new Prng(o.seed);
  const used = new Set<string>();
  // Voices built on real people first (up to all of them), then espeak-ng voices; shuffled so that
  // dev and test mix engines.
  const voices: Omit<Speaker, 'id' | 'set'>[] = [];
  for (const b of BASE_VOICES.slice(0, o.speakers)) {
    const stretch = Number(rng.uniform(0.9, 1.15).toFixed(3));
    const f0 = b.f0 === null ? null : Math.round(b.f0 * rng.uniform(0.85, 1.15));
    voices.push({ engine: b.engine, accent: '', variant: b.voice, pitch: 0, speed: Math.round(170 / stretch), gap: 0, gender: b.gender,
      voice: { name: b.voice, f0, stretch, kind: b.kind, pkg: b.pkg } });
  }
  while (voices.length < o.speakers) {
    let accent: string, variant: string;
    do { accent = rng.pick(ACCENTS); variant = rng.pick(VARIANTS); } while (used.has(`${accent}+${variant}`) && used.size < ACCENTS.length * VARIANTS.length);
    used.add(`${accent}+${variant}`);
    voices.push({ engine: 'espeak-ng', accent, variant, pitch: rng.int(20, 81), speed: rng.int(130, 191), gap: rng.int(0, 4),
      gender: /^f\d|Annie|belinda|linda|steph/.test(variant) ? 'f' : 'm' });
  }
  const speakers: Speaker[] = rng.permutation(voices.length).map((k, i) => ({
    ...voices[k], id: `id${10001 + i}`, set: i >= o.speakers - nTest ? 'test' : 'dev',
  }));
  interface Job { sp: Speaker; session: number; video: string; index: number; path: string; channel: Channel | null; text: string; clip?: Clip; uttSeed: number }
  const jobs: Job[] = [];
  for (const sp of speakers) {
    const videos = Array.from({ length: sessions }, () => videoId(rng));
    const channels = videos.map(() => randomChannel(rng));
    const counters = new Array(sessions).fill(0);
    for (let u = 0; u < o.utterances; u++) {
      const session = u % sessions;
      const index = ++counters[session];
      const seconds = rng.uniform(o.minSeconds, o.maxSeconds);
      const words = Math.max(3, Math.round((seconds * sp.speed) / 60 * 0.95));
      const text = Array.from({ length: words }, () => rng.pick(WORDS)).join(' ');
      const rel = `${sp.id}/${videos[session]}/${String(index).padStart(5, '0')}.wav`;
      jobs.push({ sp, session, video: videos[session], index, path: rel, channel: channels[session], text, uttSeed: seedOf(o.seed, rel) });
    }
  }
  if (o.real) {
    ensureRealVoicePackages(o.real.cache, REAL_SPEAKERS, o.real.log);
    const minSeconds = Math.max(o.minSeconds, 3.05); // the reference drops utterances under 300 frames
    REAL_SPEAKERS.forEach((r, k) => {
      const sp: Speaker = {
        id: `id${10001 + o.speakers + k}`, engine: 'espeak-ng', accent: '', variant: '', pitch: 0, speed: 0, gap: 0, gender: r.gender, set: r.test ? 'test' : 'dev',
        real: { key: r.key, person: r.person, language: r.language, packages: r.packages },
      };
      speakers.push(sp);
      const clips = listClips(o.real!.cache, r).filter((c) => c.seconds >= minSeconds);
      if (clips.length < o.utterances) throw new UserError(`demo-data --real: ${r.key} has ${clips.length} clips of at least ${minSeconds} s, fewer than --utterances ${o.utterances}`);
      // Fold the recording sessions (levels, prompt groups, database blocks) into `sessions` videos.
      const names = [...new Set(clips.map((c) => c.session))].sort();
      const order = rng.permutation(names.length);
      const bucketOf = new Map(order.map((n, i) => [names[n], i % sessions]));
      const buckets: Clip[][] = Array.from({ length: sessions }, () => []);
      for (const c of clips) buckets[bucketOf.get(c.session)!].push(c);
      const videos = Array.from({ length: sessions }, () => videoId(rng));
      const channels = videos.map(() => (o.real!.clean ? null : randomChannel(rng)));
      const counters = new Array(sessions).fill(0);
      for (let u = 0; u < o.utterances; u++) {
        let session = u % sessions;
        while (buckets[session].length === 0) session = (session + 1) % sessions;
        const clip = buckets[session].splice(rng.int(0, buckets[session].length), 1)[0];
        const index = ++counters[session];
        const rel = `${sp.id}/${videos[session]}/${String(index).padStart(5, '0')}.wav`;
        jobs.push({ sp, session, video: videos[session], index, path: rel, channel: channels[session], text: '', clip, uttSeed: seedOf(o.seed, rel) });
      }
    });
  }
  let done = 0;
  let audioSeconds = 0;
  const worker = async (queue: Job[]) => {
    for (let job = queue.shift(); job; job = queue.shift()) {
      const uttRng = new Prng(job.uttSeed);
      let speech: Float64Array;
      if (job.clip) {
        // A recorded clip, cut to the longest allowed length.
        speech = await decodeClip(job.clip.file);
        speech = speech.subarray(0, Math.min(speech.length, Math.round(o.maxSeconds * 16000)));
      } else {
        // Word counts only estimate durations: extend the text until the minimum length is reached.
        let text = job.text;
        speech = await synthesize(job.sp, text, tmp);
        for (let tries = 0; speech.length < o.minSeconds * 16000 && tries < 5; tries++) {
          const missing = Math.ceil(((o.minSeconds * 16000 - speech.length) / 16000) * (job.sp.speed / 60)) + 1;
          text += ' ' + Array.from({ length: missing }, () => uttRng.pick(WORDS)).join(' ');
          speech = await synthesize(job.sp, text, tmp);
        }
      }
      const pcm = job.channel ? applyChannel(speech, job.channel, uttRng) : Int16Array.from(speech, (v) => Math.max(-32768, Math.min(32767, Math.round(v * 32768))));
      const file = join(dir, job.sp.set, 'wav', job.path);
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileAtomic(file, encodeWav16(pcm));
      audioSeconds += pcm.length / 16000;
      o.onProgress?.(++done, jobs.length);
    }
  };
  const queue = [...jobs];
  const tmp = mkdtempSync(join(tmpdir(), 'voxlike-'));
  try {
    await Promise.all(Array.from({ length: o.concurrency ?? 2 }, () => worker(queue)));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }

  const sorted = [...jobs].sort((a, b) => (a.path < b.path ? -1 : 1));
  const iden = sorted.map((j) => `${j.session < sessions - 2 ? 1 : j.session === sessions - 2 ? 2 : 3} ${j.path}`);
  writeFileAtomic(join(dir, 'iden_split.txt'), iden.join('\n') + '\n');
  const trialRng = new Prng(seedOf(o.seed, 'trials'));
  const testJobs = sorted.filter((j) => j.sp.set === 'test');
  const trials: string[] = [];
  for (const j of testJobs) {
    const same = testJobs.filter((k) => k.sp === j.sp && k.session !== j.session);
    const other = testJobs.filter((k) => k.sp !== j.sp);
    trials.push(`1 ${j.path} ${trialRng.pick(same).path}`);
    trials.push(`0 ${j.path} ${trialRng.pick(other).path}`);
  }
  writeFileAtomic(join(dir, 'veri_test.txt'), trials.join('\n') + '\n');
  const meta = ['VoxCeleb1 ID\tVGGFace1 ID\tGender\tNationality\tSet',
    ...speakers.map((s) => s.real
      ? `${s.id}\treal_${s.real.key}\t${s.gender}\t${s.real.language}\t${s.set}`
      : s.voice ? `${s.id}\t${s.engine}_${s.voice.name}_f${s.voice.f0 ?? 'default'}_d${s.voice.stretch}\t${s.gender}\tSynthetic\t${s.set}`
      : `${s.id}\tespeak_${s.accent}_${s.variant}_p${s.pitch}_s${s.speed}\t${s.gender}\tSynthetic\t${s.set}`)];
  writeFileAtomic(join(dir, 'vox1_meta.csv'), meta.join('\n') + '\n');
  // Provenance of every speaker (DEMO_DATA.md: record the voice pool used).
  writeFileAtomic(join(dir, 'speakers.tsv'), ['id\tset\tsource_kind\tsource\tvoice\tpackages',
    ...speakers.map((s) => s.real
      ? `${s.id}\t${s.set}\treal-recording\t${s.real.key}\t${s.real.person}\t${s.real.packages.join(',')}`
      : s.voice ? `${s.id}\t${s.set}\t${s.voice.kind}\t${s.engine}\t${s.voice.name} f0 ${s.voice.f0 ?? 'default'} stretch ${s.voice.stretch}\t${s.voice.pkg}`
      : `${s.id}\t${s.set}\tformant-synth-no-real-speaker\tespeak-ng\t${s.accent}+${s.variant} pitch ${s.pitch} rate ${s.speed}\tespeak-ng`)].join('\n') + '\n');
  const nReal = o.real ? REAL_SPEAKERS.length : 0;
  const name = o.speakers === 0 ? `VoxLike-Real-${nReal}` : nReal ? `VoxLike-Synth-${o.speakers}+Real-${nReal}` : `VoxLike-Synth-${o.speakers}`;
  writeFileAtomic(join(dir, 'README.txt'), [
    `${name}: a synthetic speaker-recognition set in the VoxCeleb1 layout (NOT VoxCeleb).`,
    `Generated by autospeech demo-data with seed ${o.seed}: ${o.speakers} speakers (${nTest} verification test speakers, kept out of dev),`,
    `${o.utterances} utterances each of ${o.minSeconds}-${o.maxSeconds} s, ${sessions} sessions per speaker with their own channel`,
    '(band limits, reverb, noise at 3-20 dB SNR, level), synthesized with flite, festival and espeak-ng (speakers.tsv)',
    'and resampled with sox.',
    ...(nReal ? [`Plus ${nReal} recorded human speakers from Debian main packages (speakers.tsv: Fish Fillets NG dubs, Asterisk prompts,`,
      `festvox-ru), decoded with ffmpeg${o.real!.clean ? ', without channel effects' : ' and given the same per-session channel effects'}; each is tied to one production and language,`,
      'so they check behaviour on real voices but cannot rank architectures on their own.'] : []),
    'iden_split.txt holds out whole sessions: the second-to-last session of each speaker is val (2), the last is test (3).',
  ].join('\n') + '\n');
  return { name, speakers: speakers.length, utterances: jobs.length, trials: trials.length, seconds: audioSeconds };
}
