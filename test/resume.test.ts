// A 2-epoch search and a 2-epoch training run, each killed with SIGKILL mid-epoch and resumed, end
// with weights bit-identical to an uninterrupted run.
import test from 'ava';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { cli } from './helpers/cli.ts';
import { tinyDemoSet } from './helpers/demo_set.ts';
import { manifest } from './helpers/fixtures.ts';
import { finalWeights, metricSteps, runAndKill, runDirOf } from './helpers/kill_resume.ts';

const G = manifest('derived').scalars.genotype.value as string;

for (const kind of ['search', 'train'] as const) {
  test.serial(`${kind}: killed mid-epoch with SIGKILL and resumed, weights and optimizer state are bit-identical`, async (t) => {
    const data = await tinyDemoSet();
    const base = kind === 'search'
      ? ['search', '--cfg', 'exps/demo/search.yaml', 'MODEL.INIT_CHANNELS', '2', 'MODEL.LAYERS', '3', 'EVAL.MAX_UTTERANCES', '4', 'VAL_FREQ', '1', 'DATASET.PARTIAL_N_FRAMES', '100']
      : ['train', '--cfg', 'exps/demo/scratch_iden.yaml', '--text_arch', G, 'MODEL.INIT_CHANNELS', '8', 'MODEL.LAYERS', '3', 'TRAIN.BATCH_SIZE', '4', 'VAL_FREQ', '1'];
    const common = [...base, 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '8', 'TRAIN.END_EPOCH', '2', 'TRAIN.STEPS_PER_EPOCH', '6', 'TRAIN.CHECKPOINT_STEPS', '1', 'MODEL.DROP_PATH_PROB', '0.2'];
    const rootA = mkdtempSync(join(tmpdir(), `${kind}-a-`));
    const a = cli([...common, 'OUTPUT_DIR', rootA]);
    t.is(a.status, 0, a.stderr);
    const rootB = mkdtempSync(join(tmpdir(), `${kind}-b-`));
    const perEpoch = 6; // TRAIN.STEPS_PER_EPOCH
    await runAndKill([...common, 'OUTPUT_DIR', rootB], rootB, perEpoch + 3);
    const dirB = runDirOf(rootB);
    const killedAt = metricSteps(dirB);
    t.true(killedAt > perEpoch && killedAt < 2 * perEpoch, `killed in epoch 1 (after ${killedAt} steps)`);
    const b = cli([...common, 'OUTPUT_DIR', rootB, '--resume', dirB]);
    t.is(b.status, 0, b.stderr);
    t.regex(b.stderr, /resumed .*last.ckpt at epoch 1/);
    const wa = finalWeights(runDirOf(rootA));
    const wb = finalWeights(dirB);
    t.is(wb.size, wa.size);
    for (const [name, bytes] of wa) t.deepEqual(wb.get(name), bytes, name);
    t.is(metricSteps(dirB), 2 * perEpoch);
    if (kind === 'search') {
      t.regex(readFileSync(join(dirB, 'Log', 'alphas_0.svg'), 'utf8'), /^<svg .*sep_conv_3x3.*<\/svg>\n$/s);
      t.regex(readFileSync(join(dirB, 'genotype.txt'), 'utf8'), /^Genotype\(normal=\[/);
    }
  });
}
