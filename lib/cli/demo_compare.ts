// `autospeech demo-compare a/results.json b/results.json`: where two demo runs part.
import type { Command } from 'commander';

import { UserError } from '../errors.ts';
import { compareResults, readResults } from '../run/compare_results.ts';
import { emit, table } from './output.ts';

export function register(program: Command): void {
  program
    .command('demo-compare')
    .description('compare two demo results.json stage by stage (data, store, genotype, weights) with the environment they depend on; exit 1 if a stage differs')
    .argument('<a>', 'results.json of one run')
    .argument('<b>', 'results.json of another run')
    .option('--json', 'machine-readable comparison')
    .action((a: string, b: string, opts: { json?: boolean }) => {
      const r = compareResults(readResults(a), readResults(b));
      // The comparison is printed either way; a difference is then the exit status 1.
      emit(r, opts.json, (x) => [
        table(x.rows.map((row) => [row.stage, row.same ? 'same' : 'DIFFERS', row.a.slice(0, 48), row.same ? '' : row.b.slice(0, 48)]), ['', '', 'a', 'b']),
        '',
        x.firstDifferentStage ? `first stage that differs: ${x.firstDifferentStage}` : 'every stage is identical',
      ].join('\n'));
      if (r.firstDifferentStage) throw new UserError(`the runs part at stage ${r.firstDifferentStage}`, 1);
    });
}
