// `autospeech data check <root>`: what a data set holds and how hard it is without training.
import type { Command } from 'commander';
import { join } from 'node:path';

import { checkData } from '../data/check.ts';
import { FeatureStore } from '../data/store.ts';
import { UserError } from '../errors.ts';
import { emit, table } from './output.ts';

export function register(program: Command): void {
  program
    .command('data')
    .description('inspect a data set')
    .command('check')
    .description('counts, durations and a training-free MFCC baseline (cosine EER, nearest-centroid top-1)')
    .argument('<root>', 'data root (preprocessed: <root>/store)')
    .option('--store <dir>', 'feature store (default <root>/store)')
    .option('--trials <file>', 'trial list under <root>', 'veri_test.txt')
    .option('--json', 'machine-readable output')
    .action((root: string, opts: { store?: string; trials: string; json?: boolean }) => {
      const store = new FeatureStore(opts.store ?? join(root, 'store'));
      // Checksums first: the baseline below reads every shard and would only fail on a truncated one.
      const damaged = store.verifyShards();
      if (damaged.length) {
        store.close();
        for (const d of damaged) process.stderr.write(`damaged shard ${d.shard}: ${d.problem}\n`);
        throw new UserError(`${damaged.length} of ${store.index.shards!.length} shard(s) are damaged (listed above): re-run \`autospeech preprocess ${root}\` to rebuild them`, 1);
      }
      const r = { ...checkData(store, root, opts.trials), shardsVerified: store.index.shards?.length ?? 0 };
      store.close();
      emit(r, opts.json, (x) => table([
        ['utterances / speakers', `${x.utterances} / ${x.speakers}`],
        ['audio', `${x.hours.toFixed(2)} h, ${x.minSeconds.toFixed(1)}-${x.maxSeconds.toFixed(1)} s (mean ${x.meanSeconds.toFixed(1)} s)`],
        ...Object.entries(x.parts).map(([p, v]) => [`part ${p}`, `${v.utterances} utterances, ${v.speakers} speakers`]),
        ['iden split train/val/test/none', `${x.iden.train}/${x.iden.val}/${x.iden.test}/${x.iden.none}`],
        ['skipped (< 300 frames) / errors', `${x.skipped} / ${x.errors}`],
        ['shards', `${x.shardsVerified} verified (size and CRC-32)`],
        ['MFCC baseline EER (cosine)', x.baseline.eer === null ? 'no trials' : `${(100 * x.baseline.eer).toFixed(2)} % on ${x.baseline.trials} trials`],
        ['MFCC baseline top-1 (nearest centroid)', x.baseline.top1 === null ? 'no iden split' : `${(100 * x.baseline.top1).toFixed(2)} % on ${x.baseline.testUtterances} test utterances`],
      ], ['data check', '']));
    });
}
