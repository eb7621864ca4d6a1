// A 2-epoch search and a 2-epoch training run, each killed with SIGKILL mid-epoch and resumed, end
// with weights bit-identical to an uninterrupted run.
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { tinyDemoSet } from './helpers/demo_set.ts';
import { manifest } from './helpers/fixtures.ts';
import { killResumeMatches } from './helpers/kill_resume.ts';

const G = manifest('derived').scalars.genotype.value as string;

for (const kind of ['search', 'train'] as const) {
  test.serial(`${kind}: killed mid-epoch with SIGKILL and resumed, weights and optimizer state are bit-identical`, async (t) => {
    const data = await tinyDemoSet();
    const base = kind === 'search'
      ? ['search', '--cfg', 'exps/demo/search.yaml', 'MODEL.INIT_CHANNELS', '2', 'MODEL.LAYERS', '3', 'EVAL.MAX_UTTERANCES', '4', 'VAL_FREQ', '1', 'DATASET.PARTIAL_N_FRAMES', '100']
      : ['train', '--cfg', 'exps/demo/scratch_iden.yaml', '--text_arch', G, 'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '3', 'TRAIN.BATCH_SIZE', '4', 'VAL_FREQ', '1'];
    const perEpoch = 6;
    const common = [...base, 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'TRAIN.END_EPOCH', '2', 'TRAIN.STEPS_PER_EPOCH', String(perEpoch), 'TRAIN.CHECKPOINT_STEPS', '1', 'MODEL.DROP_PATH_PROB', '0.2'];
    const rootA = mkdtempSync(join(tmpdir(), `${kind}-a-`)), rootB = mkdtempSync(join(tmpdir(), `${kind}-b-`));
    const { dirB } = await killResumeMatches(t, common, rootA, rootB, perEpoch);
    if (kind === 'search') {
      t.regex(readFileSync(join(dirB, 'Log', 'alphas_0.svg'), 'utf8'), /^<svg .*sep_conv_3x3.*<\/svg>\n$/s);
      t.regex(readFileSync(join(dirB, 'genotype.txt'), 'utf8'), /^Genotype\(normal=\[/);
    }
  });
}
