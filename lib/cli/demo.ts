// `autospeech demo`: the full workflow on the built-in demo data, then a results table.
import type { Command } from 'commander';
import { join } from 'node:path';

import { type DemoResults, runDemo } from '../demo.ts';
import { PROJECT_ROOT } from '../native.ts';
import { emit, table } from './output.ts';

export function register(program: Command): void {
  program
    .command('demo')
    .description('demo data, search, identification and verification training, evaluation: the whole workflow on a 2-core CPU')
    .option('--data <dir>', 'demo data directory (generated when missing)', join(PROJECT_ROOT, 'data', 'demo'))
    .option('--out <dir>', 'where the runs and results.json go', join(PROJECT_ROOT, 'runs', 'demo'))
    .option('--json', 'print results.json')
    .action(async (opts: { data: string; out: string; json?: boolean }) => {
      const r = await runDemo({ dataDir: opts.data, outDir: opts.out, log: (s) => process.stderr.write(s + '\n') });
      emit(r, opts.json, (x: DemoResults) => [
        '',
        table([
          ['identification top-1 (window-weighted, reference)', `${(100 * x.top1).toFixed(2)} %`],
          ['identification top-1 (per utterance)', `${(100 * x.top1_per_utterance).toFixed(2)} %`],
          ['verification EER', `${(100 * x.eer).toFixed(2)} %`],
          ['minDCF (p=0.01 / 0.05)', `${x['minDCF_0.01'].toFixed(4)} / ${x['minDCF_0.05'].toFixed(4)}`],
          ['parameters (identification net)', x.params.toLocaleString('en-US')],
          ['wall time', `${(x.seconds / 60).toFixed(1)} min (${Object.entries(x.stages).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')})`],
        ], ['demo result', 'value']),
        '',
        `genotype = ${x.genotype}`,
        `results: ${join(opts.out, 'results.json')}`,
      ].join('\n'));
    });
}
