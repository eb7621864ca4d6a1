// `autospeech model-info`: parameter counts and the state_dict table of the configured network;
// for a ResNet also the parameters by group, and for a binary-weight ResNet the binarised layers and
// the memory table (bnn.md §3.5: bits only, bits + alpha, extractor, file, with classifier).
import type { Command } from 'commander';

import { type MemoryReport, type ParamGroups, binarisedCounts, formatRatio, memoryReport, paramGroups } from '../bnn/memory.ts';
import { buildModel } from '../models/build.ts';
import { isResnetModel } from '../models/spec.ts';
import { type CfgOptions, resolveConfig, withConfig } from './common.ts';
import { emit, table } from './output.ts';

const n = (v: number) => v.toLocaleString('en-US');

export function register(program: Command): void {
  withConfig(program.command('model-info'))
    .description('parameter counts (total, trainable, alphas) and the state_dict of the configured network; binarised layers and memory for a binary-weight ResNet')
    .option('--text_arch <genotype>', 'genotype for MODEL.NAME model: Genotype(...) string, JSON, or a file')
    .option('--json', 'machine-readable output')
    .action((overrides: string[], opts: CfgOptions) => {
      const cfg = resolveConfig(opts, overrides);
      const { model } = buildModel(cfg, opts.text_arch);
      const stateDict = model.stateDict();
      const layers = model.binaryLayers();
      const result: {
        model: string; kind: string; params: ReturnType<typeof model.paramCounts>; groups?: ParamGroups;
        binarised: ReturnType<typeof binarisedCounts>; memory?: MemoryReport; state_dict: typeof stateDict;
      } = {
        model: cfg.MODEL.NAME, kind: model.kind, params: model.paramCounts(),
        ...(isResnetModel(cfg) ? { groups: paramGroups(stateDict) } : {}),
        binarised: binarisedCounts(layers),
        ...(layers.length ? { memory: memoryReport(stateDict, layers) } : {}),
        state_dict: stateDict,
      };
      emit(result, opts.json, (r) => [
        `${r.model} (${r.kind}): ${n(r.params.total)} parameters` +
          `, ${n(r.params.trainable)} trainable` +
          (r.params.alphas ? `, of which ${r.params.alphas} architecture weights (alphas)` : ''),
        ...(r.groups ? ['', 'parameters by group: ' + Object.entries(r.groups).filter(([, v]) => v > 0).map(([k, v]) => `${k} ${n(v)}`).join(', ')] : []),
        ...(r.memory ? [
          '',
          `binarised: ${r.binarised.layers} convs, ${n(r.binarised.filters)} filters (alphas), ${n(r.binarised.weights)} weights; ` +
            `${n(r.memory.bitsBytes)} bytes of bits, ${n(r.memory.alphaBytes)} bytes of alphas`,
          table(r.memory.rows.map((m) => [m.what, m.fp32Bytes, m.bwnBytes, formatRatio(m.ratio)]), ['memory (bytes; file headers and padding not included)', 'fp32', 'binary', 'ratio']),
        ] : []),
        '',
        table(r.state_dict.map((e) => [e.name, `[${e.shape.join(', ')}]`, e.dtype, e.kind, e.shape.reduce((a, b) => a * b, 1)]), ['name', 'shape', 'dtype', 'kind', 'numel']),
      ].join('\n'));
    });
}
