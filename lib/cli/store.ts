// `autospeech store export|import`: interop with the reference's per-utterance feature layout.
import type { Command } from 'commander';

import { exportReferenceLayout, importReferenceLayout } from '../data/reference_layout.ts';
import { FeatureStore } from '../data/store.ts';
import { emit } from './output.ts';

export function register(program: Command): void {
  const store = program.command('store').description("convert between the feature store and the reference's per-utterance .npy layout");
  store
    .command('export')
    .argument('<store>', 'feature store directory')
    .argument('<root>', 'output root: feature/<split>/<spk>/<video>_<nnnnn>.npy, _sources*.txt, mean.npy, std.npy')
    .option('--json', 'machine-readable summary')
    .action((dir: string, root: string, opts: { json?: boolean }) => {
      const s = new FeatureStore(dir);
      const n = exportReferenceLayout(s, root);
      s.close();
      emit({ utterances: n, root }, opts.json, (r) => `exported ${r.utterances} utterances to ${r.root}/feature`);
    });
  store
    .command('import')
    .argument('<root>', 'a reference feature root (feature/dev, feature/test, mean.npy, std.npy)')
    .argument('<store>', 'feature store directory to write')
    .option('--json', 'machine-readable summary')
    .action((root: string, dir: string, opts: { json?: boolean }) => {
      const index = importReferenceLayout(root, dir);
      emit({ utterances: index.utterances.length, store: dir }, opts.json, (r) => `imported ${r.utterances} utterances into ${r.store}`);
    });
}
