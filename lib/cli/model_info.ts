// `autospeech model-info`: parameter counts and the state_dict table of the configured network.
import type { Command } from 'commander';

import { buildModel } from '../models/build.ts';
import { type CfgOptions, resolveConfig, withConfig } from './common.ts';
import { emit, table } from './output.ts';

export function register(program: Command): void {
  withConfig(program.command('model-info'))
    .description('parameter counts (total, trainable, alphas) and the state_dict of the configured network')
    .option('--text_arch <genotype>', 'genotype for MODEL.NAME model: Genotype(...) string, JSON, or a file')
    .option('--json', 'machine-readable output')
    .action((overrides: string[], opts: CfgOptions) => {
      const cfg = resolveConfig(opts, overrides);
      const { model } = buildModel(cfg, opts.text_arch);
      const result = { model: cfg.MODEL.NAME, kind: model.kind, params: model.paramCounts(), state_dict: model.stateDict() };
      emit(result, opts.json, (r) => [
        `${r.model} (${r.kind}): ${r.params.total.toLocaleString('en-US')} parameters` +
          `, ${r.params.trainable.toLocaleString('en-US')} trainable` +
          (r.params.alphas ? `, of which ${r.params.alphas} architecture weights (alphas)` : ''),
        '',
        table(r.state_dict.map((e) => [e.name, `[${e.shape.join(', ')}]`, e.dtype, e.kind, e.shape.reduce((a, b) => a * b, 1)]), ['name', 'shape', 'dtype', 'kind', 'numel']),
      ].join('\n'));
    });
}
