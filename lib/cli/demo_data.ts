// `autospeech demo-data <dir>`: the built-in VoxLike-Synth set (synthetic, VoxCeleb1 layout).
import type { Command } from 'commander';
import { homedir } from 'node:os';
import { join } from 'node:path';

import { PRESETS, generateDemoData } from '../data/demo.ts';
import { UserError } from '../errors.ts';
import { Progress } from '../run/progress.ts';
import { emit } from './output.ts';

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new UserError(`--${name} must be a non-negative integer, got '${v}'`);
  return n;
};

function defaultVoiceCache(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'autospeech', 'debian-voices');
}

export function register(program: Command): void {
  program
    .command('demo-data')
    .description('generate VoxLike-Synth: synthetic speakers (espeak-ng voices, per-session channel effects) in the VoxCeleb1 layout; --real adds recorded voices')
    .argument('<dir>', 'output directory')
    .option('--speakers <n>', 'speakers', int('speakers'))
    .option('--utterances <n>', 'utterances per speaker', int('utterances'))
    .option('--seed <s>', 'seed (the same seed gives bit-identical files)', int('seed'), 1)
    .option('--preset <name>', Object.entries(PRESETS).map(([name, p]) => `${name} (${p.speakers} speakers x ${p.utterances} utterances of ${p.minSeconds}-${p.maxSeconds} s)`).join(' or '), 'default')
    .option('--real', 'add the 9 recorded human voices found in Debian main (fetched with apt-get download, decoded with ffmpeg); with --speakers 0, a real-only set')
    .option('--clean', 'with --real: no channel effects on the recorded clips')
    .option('--voice-cache <dir>', 'where --real keeps the fetched packages', defaultVoiceCache())
    .option('--json', 'machine-readable summary')
    .action(async (dir: string, opts: { speakers?: number; utterances?: number; seed: number; preset: string; real?: boolean; clean?: boolean; voiceCache: string; json?: boolean }) => {
      if (opts.clean && !opts.real) throw new UserError('--clean only applies to --real');
      const preset = PRESETS[opts.preset as keyof typeof PRESETS];
      if (!preset) throw new UserError(`--preset must be one of ${Object.keys(PRESETS).join(', ')}`);
      let progress: Progress | undefined;
      const t0 = Date.now();
      const s = await generateDemoData(dir, {
        ...preset, speakers: opts.speakers ?? preset.speakers, utterances: opts.utterances ?? preset.utterances, seed: opts.seed,
        real: opts.real ? { cache: opts.voiceCache, clean: opts.clean, log: (m) => process.stderr.write(`${m}\n`) } : undefined,
        onProgress: (done, total) => { progress ??= new Progress('demo-data', total); progress.update(done); },
      });
      emit({ ...s, dir, wallSeconds: (Date.now() - t0) / 1000 }, opts.json, (r) =>
        `${r.name}: ${r.speakers} speakers, ${r.utterances} utterances (${(r.seconds / 60).toFixed(1)} min of audio), ${r.trials} trials in ${r.dir} (${r.wallSeconds.toFixed(1)} s)`);
    });
}
