// A binary-weight ResNet-34 run (train-baseline, MODEL.NAME resnet34_bwn) killed with SIGKILL
// mid-epoch and resumed ends with latent weights and optimizer state bit-identical to an
// uninterrupted run, as the search and training runs of test/resume.test.ts do.
import test from 'ava';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { preprocess } from '../lib/data/store.ts';
import { killResumeMatches } from './helpers/kill_resume.ts';
import { toneVoiceSet } from './helpers/tone_voice_set.ts';

test('bwn: killed mid-epoch with SIGKILL and resumed, latent weights and optimizer state are bit-identical', async (t) => {
  const work = mkdtempSync(join(tmpdir(), 'bwn-resume-'));
  const data = toneVoiceSet(join(work, 'data'), { devSpeakers: 4, testSpeakers: 2, utterances: 16, seed: 9 }).dir;
  await preprocess(data, join(data, 'store'));
  const perEpoch = 12;
  const common = ['train-baseline', '--cfg', 'exps/demo/resnet34_bwn_veri.yaml', 'DATASET.DATA_DIR', data, 'MODEL.NUM_CLASSES', '4', 'MODEL.WIDTH_MULT', '0.0625',
    'DATASET.PARTIAL_N_FRAMES', '100', 'TRAIN.BATCH_SIZE', '4', 'VAL_FREQ', '1', 'TRAIN.END_EPOCH', '2', 'TRAIN.STEPS_PER_EPOCH', String(perEpoch),
    'TRAIN.CHECKPOINT_STEPS', '1', 'THREADS', '1'];
  const rootA = join(work, 'a'), rootB = join(work, 'b');
  const { weights } = await killResumeMatches(t, common, rootA, rootB, perEpoch);
  t.true(weights.has('model/layer1.0.conv1.weight'));
});
