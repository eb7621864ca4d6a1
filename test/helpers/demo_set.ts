// A tiny VoxLike-Synth set + feature store, generated once per test process.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { PRESETS, generateDemoData } from '../../lib/data/demo.ts';
import { preprocess } from '../../lib/data/store.ts';

let cached: Promise<string> | undefined;

export function tinyDemoSet(): Promise<string> {
  cached ??= (async () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'voxlike-')), 'data');
    await generateDemoData(dir, { ...PRESETS.tiny, seed: 3 });
    if (!existsSync(join(dir, 'store', 'index.json'))) await preprocess(dir, join(dir, 'store'));
    return dir;
  })();
  return cached;
}
