// `autospeech tdnn ...`: the EfficientTDNN commands. This file owns the group and the pure-TS
// search-space tools (macs, space, sample); other files add their subcommands to the same group
// through tdnnCommand(program).
import type { Command } from 'commander';

import { UserError } from '../errors.ts';
import { subnetCost } from '../tdnn/macs.ts';
import { SAMPLER_SEED, TDNNPath } from '../tdnn/sampler.ts';
import { SPACE_NAMES, countRawCombinations, countSubnets, geneNames, parseSpace } from '../tdnn/space.ts';
import { checkSubnet, formatSubnet, parseSubnet, subnetToJson, supernetDims } from '../tdnn/subnet.ts';
import { type CfgOptions, resolveConfig, withConfig } from './common.ts';
import { emit } from './output.ts';
import { registerPredict } from './tdnn_predict.ts';
import { registerSearch } from './tdnn_search.ts';
import { registerTrain } from './tdnn_train.ts';

/** The `tdnn` command group, created on first use. */
export function tdnnCommand(program: Command): Command {
  return program.commands.find((c) => c.name() === 'tdnn') ??
    program.command('tdnn').description('EfficientTDNN: subnet MACs/params, search spaces, path sampling, accuracy predictor, subnet evaluation and MACs-constrained search (sugar semantics)');
}

/** A positive integer option value, or one clear error naming the option. */
export function positiveInt(text: string, option: string): number {
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < 1) throw new UserError(`${option} '${text}': expected a positive integer`);
  return n;
}

/** JSON with exact integers: bigints become plain JSON numbers (all digits, even beyond 2^53). */
export function jsonExact(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? `__exact_int__${v}` : v), 2).replace(/"__exact_int__(-?\d+)"/g, '$1');
}

/** thop's clever_format("%.2f"): 1.93G, 83.47M, 443.97K. */
function clever(n: bigint): string {
  const v = Number(n);
  for (const [unit, scale] of [['T', 1e12], ['G', 1e9], ['M', 1e6], ['K', 1e3]] as const) if (v > scale) return `${(v / scale).toFixed(2)}${unit}`;
  return `${v.toFixed(2)}B`;
}

const grouped = (n: bigint) => n.toLocaleString('en-US');

interface Opts extends CfgOptions {
  subnet?: string;
  frames?: string;
  space?: string;
  count?: string;
  seed?: string;
}

export function register(program: Command): void {
  const tdnn = tdnnCommand(program);
  registerPredict(tdnn);
  registerSearch(tdnn);
  registerTrain(tdnn);

  withConfig(tdnn.command('macs'), false)
    .description("MACs and parameters of a subnet at T frames, sugar's count_ops/count_params convention (= thop 0.0.31 on the clone); supernet dims from --cfg MODEL.*, tdnn8m2g by default")
    .requiredOption('--subnet <D-c0-..-cD-k0-..-kD-cat>', 'the subnet, e.g. 3-512-512-512-512-5-3-3-3-1536')
    .requiredOption('--frames <T>', 'input length in frames: the input is (1, MODEL.IN_FEATS, T); the paper uses 300')
    .option('--json', 'print {"macs": n, "params": n}')
    .action((overrides: string[], opts: Opts) => {
      const dims = supernetDims(resolveConfig(opts, overrides, false));
      const subnet = parseSubnet(opts.subnet!);
      checkSubnet(subnet, dims);
      const frames = positiveInt(opts.frames!, '--frames');
      const cost = subnetCost(subnet, dims, frames);
      if (opts.json) process.stdout.write(jsonExact({ macs: cost.macs, params: cost.params }) + '\n');
      else emit(cost, false, (c) => `${formatSubnet(subnet)} at ${frames} frames: ${grouped(c.macs)} MACs (${clever(c.macs)}), ${grouped(c.params)} params (${clever(c.params)})`);
    });

  withConfig(tdnn.command('space'), false)
    .description('the number of distinct subnets of a search space (after truncation to depth + 1 layers)')
    .requiredOption('--space <json|name>', `a JSON list of 12 lists of choices (depth, c0..c4, k0..k4, cat) or a name: ${SPACE_NAMES.join(', ')} or a train-script task string (supernet_kernel_depth)`)
    .option('--json', 'print {"subnets": n}')
    .action((overrides: string[], opts: Opts) => {
      const dims = supernetDims(resolveConfig(opts, overrides, false));
      const space = parseSpace(opts.space!, dims);
      const subnets = countSubnets(space);
      if (opts.json) process.stdout.write(jsonExact({ subnets }) + '\n');
      else {
        const names = geneNames(dims.numBlocks);
        emit(space, false, (s) => [
          `${grouped(subnets)} distinct subnets (${grouped(countRawCombinations(s))} raw gene combinations)`,
          ...s.map((choices, i) => `  ${names[i].padEnd(5)} ${choices.length > 12 ? `${choices.length} choices ${choices[0]}..${choices[choices.length - 1]}` : `[${choices.join(', ')}]`}`),
        ].join('\n'));
      }
    });

  withConfig(tdnn.command('sample'), false)
    .description("the first N paths a fresh reference sampler (sugar's TDNNPath: Python random.Random(666), 12 choice() calls per path) draws")
    .requiredOption('--space <json|name>', `a JSON list of 12 lists of choices or a name: ${SPACE_NAMES.join(', ')}`)
    .requiredOption('--count <N>', 'number of paths')
    .option('--seed <n>', `sampler seed (the reference always uses ${SAMPLER_SEED})`, String(SAMPLER_SEED))
    .option('--json', 'print [[depth, [c...], [k...], cat], ...]')
    .action((overrides: string[], opts: Opts) => {
      const dims = supernetDims(resolveConfig(opts, overrides, false));
      const space = parseSpace(opts.space!, dims);
      const count = positiveInt(opts.count!, '--count');
      if (!/^\s*-?\d+\s*$/.test(opts.seed!)) throw new UserError(`--seed '${opts.seed}': expected an integer`);
      const sampler = new TDNNPath(space, Number(opts.seed));
      const paths = Array.from({ length: count }, () => sampler.sample());
      // JSON: one path per line, [depth, [c...], [k...], cat]
      if (opts.json) process.stdout.write(`[\n${paths.map((p) => `  ${JSON.stringify(subnetToJson(p))}`).join(',\n')}\n]\n`);
      else emit(paths, false, (ps) => ps.map((p, i) => `${String(i).padStart(String(count - 1).length)}  ${formatSubnet(p)}`).join('\n'));
    });
}
