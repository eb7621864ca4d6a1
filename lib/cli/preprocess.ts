// `autospeech preprocess <root>`: VoxCeleb1-layout wavs -> feature store (+ mean/std).
import type { Command } from 'commander';

import { AUTO_WORKERS_MIN_FILES, FILES_PER_SHARD, STORE_FRONTENDS, type StoreFrontend, defaultStoreDir, preprocess } from '../data/store.ts';
import { UserError } from '../errors.ts';
import { Progress } from '../run/progress.ts';
import { emit } from './output.ts';

export function register(program: Command): void {
  program
    .command('preprocess')
    .description('extract the reference features of every wav into a sharded feature store with the global mean/std (resumable)')
    .argument('<root>', 'data root in the VoxCeleb1 layout (dev/wav, test/wav, iden_split.txt, veri_test.txt)')
    .option('--frontend <name>', "stft: the AutoSpeech spectrogram store (<root>/store); logmel: EfficientTDNN's waveform store (<root>/store_logmel: int16-range samples, cropped and turned into LogMelFbanks(80) per training batch, no global mean/std)", 'stft')
    .option('--out <dir>', 'store directory (default <root>/store, or <root>/store_logmel for --frontend logmel)')
    .option('--shard-files <n>', 'wav files per shard (the unit of resumption)', String(FILES_PER_SHARD))
    .option('--workers <n>', `worker processes extracting shards in parallel (default: in-process below ${AUTO_WORKERS_MIN_FILES} files, else one per core)`)
    .option('--resample', 'convert wavs at other sample rates to 16 kHz as librosa.load does (resampy kaiser_best) instead of rejecting them')
    .option('--json', 'machine-readable summary')
    .action(async (root: string, opts: { out?: string; frontend: string; shardFiles: string; workers?: string; resample?: boolean; json?: boolean }) => {
      if (!STORE_FRONTENDS.includes(opts.frontend as StoreFrontend)) throw new UserError(`--frontend '${opts.frontend}': expected ${STORE_FRONTENDS.join(' or ')} (a store holds spectrogram frames or waveforms)`);
      const frontend = opts.frontend as StoreFrontend;
      const perShard = Number(opts.shardFiles);
      if (!Number.isInteger(perShard) || perShard < 1) throw new UserError(`--shard-files must be a positive integer, got '${opts.shardFiles}'`);
      const workers = opts.workers === undefined ? undefined : Number(opts.workers);
      if (workers !== undefined && (!Number.isInteger(workers) || workers < 1)) throw new UserError(`--workers must be a positive integer, got '${opts.workers}'`);
      const out = opts.out ?? defaultStoreDir(root, frontend);
      let progress: Progress | undefined;
      const t0 = Date.now();
      const r = await preprocess(root, out, {
        filesPerShard: perShard, workers, resample: !!opts.resample, frontend,
        onProgress: (done, total) => {
          progress ??= new Progress('preprocess', total);
          progress.update(Math.min(done, total));
        },
      });
      const seconds = (Date.now() - t0) / 1000;
      const audio = r.index.utterances.reduce((a, u) => a + u.frames, 0) / (frontend === 'logmel' ? 16000 : 100);
      const summary = {
        store: out, frontend, utterances: r.index.utterances.length, speakers: new Set(r.index.utterances.map((u) => u.speaker)).size,
        resampled: r.index.utterances.filter((u) => u.resampledFrom).length,
        skippedShort: r.index.skipped.length, errors: r.index.errors, shards: r.shards, reusedShards: r.reusedShards, rebuiltShards: r.rebuilt, workers: r.workers,
        audioSeconds: Math.round(audio), seconds: Number(seconds.toFixed(2)),
      };
      emit(summary, opts.json, (s) => [
        `${s.utterances} utterances of ${s.speakers} speakers (${(s.audioSeconds / 3600).toFixed(2)} h) in ${s.shards} shard(s) at ${s.store} (${s.reusedShards} reused) in ${s.seconds} s with ${s.workers} worker(s)`,
        ...s.rebuiltShards.map((b) => `rebuilt shard ${b.shard}: ${b.reason}`),
        s.resampled ? `${s.resampled} file(s) resampled to 16 kHz (--resample; their rates are in index.json)` : '',
        s.skippedShort ? `${s.skippedShort} utterance(s) shorter than 300 frames skipped, as the reference does` : '',
        ...s.errors.map((e) => `error: ${e.file}: ${e.reason}`),
      ].filter(Boolean).join('\n'));
      if (r.index.errors.length) throw new UserError(`${r.index.errors.length} file(s) could not be read (listed above); the store holds every other file`, 1);
    });
}
