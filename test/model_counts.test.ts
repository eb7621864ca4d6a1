// Parameter counts of the full-size reference configurations (fixtures counts.json).
import test from 'ava';
import { readFileSync } from 'node:fs';

import { loadNative } from '../lib/native.ts';
import { FIXTURES, README_GENOTYPE } from './helpers/fixtures.ts';

const counts: { model: string; num_classes: number; params?: number; params_including_alphas?: number; params_excluding_alphas?: number; state_dict_keys: number }[] =
  JSON.parse(readFileSync(`${FIXTURES}/counts.json`, 'utf8')).counts;

for (const c of counts) {
  test(`${c.model}, ${c.num_classes} classes`, (t) => {
    const { Model } = loadNative();
    const model = c.model.startsWith('derived')
      ? new Model({ kind: 'network', C: 128, layers: 8, numClasses: c.num_classes, genotype: README_GENOTYPE })
      : c.model.startsWith('search')
        ? new Model({ kind: 'search', C: 16, layers: 8, numClasses: c.num_classes })
        : new Model({ kind: 'resnet', depth: c.model === 'resnet18' ? 18 : 34, numClasses: c.num_classes });
    const p = model.paramCounts();
    if (c.params_including_alphas !== undefined) {
      t.is(p.total, c.params_including_alphas);
      t.is(p.total - p.alphas, c.params_excluding_alphas!);
      t.is(p.alphas, 224);
    } else {
      t.is(p.total, c.params!);
    }
    t.is(model.stateDict().length, c.state_dict_keys);
  });
}
