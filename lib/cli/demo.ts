// `autospeech demo [--system autospeech|tdnn|bnn]`: a system's full workflow on the built-in demo data,
// then a results table (and results.json in the output dir).
import type { Command } from 'commander';
import { join } from 'node:path';

import { type BnnDemoResults, runBnnDemo } from '../bnn/demo.ts';
import { formatRatio } from '../bnn/memory.ts';
import { type DemoResults, runDemo } from '../demo.ts';
import { UserError } from '../errors.ts';
import { PROJECT_ROOT } from '../native.ts';
import { parseCount } from '../tdnn/search.ts';
import { type TdnnDemoResults, type TdnnDemoSubnet, runTdnnDemo } from '../tdnn/demo.ts';
import { emit, table } from './output.ts';

export const DEMO_SYSTEMS = ['autospeech', 'tdnn', 'bnn'] as const;

interface Opts { system: string; data: string; out?: string; json?: boolean; pairs?: string; budgets?: string; generations?: string; recalibrate?: string; autospeechResults?: string; initBaseline?: boolean }

const pct = (x: number) => `${(100 * x).toFixed(2)} %`;
const millions = (n: number) => `${(n / 1e6).toFixed(2)}M`;

function intOption(text: string | undefined, option: string, min: number): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!/^\s*\d+\s*$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new UserError(`${option} '${text}': expected an integer >= ${min}`);
  return n;
}

function tdnnTable(x: TdnnDemoResults, out: string): string {
  const line = (name: string, s: TdnnDemoSubnet) => [name, s.subnet, millions(s.macs), millions(s.params), pct(s.predicted_eer), pct(s.eer), s['minDCF_0.01'].toFixed(4)];
  return [
    '',
    table([
      ...x.subnets.map((s) => line(`<= ${millions(s.macs_budget)}`, s)),
      line('smallest', x.bounds.smallest),
      line('largest', x.bounds.largest),
    ], ['MACs budget', 'subnet', 'MACs', 'params', 'predicted EER', 'EER', 'minDCF 0.01']),
    '',
    `${x.trials} trials; predictor: ${x.predictor.train_pairs} measured pairs, held-out Kendall tau ${x.predictor.heldout_kendall_tau.toFixed(3)} on ${x.predictor.heldout_pairs}`,
    x.autospeech ? `AutoSpeech demo on the same trials: EER ${pct(x.autospeech.eer)}, minDCF 0.01 ${x.autospeech['minDCF_0.01'].toFixed(4)} (${x.autospeech.results})` :
      'AutoSpeech demo on the same trials: not run here (npm run demo)',
    x.budget_order_ok ? 'a larger budget gave a lower or equal measured EER' : 'note: a larger budget did NOT give a lower measured EER (see README: small trial list, one supernet)',
    `wall time ${(x.seconds / 60).toFixed(1)} min (${Object.entries(x.stages).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')})`,
    `results: ${join(out, 'results.json')}`,
  ].join('\n');
}

function bnnTable(x: BnnDemoResults, out: string): string {
  return [
    '',
    table(x.rows.map((m) => [m.model === 'bwn_init_baseline' ? 'bwn (init baseline)' : m.model === 'bwn' ? 'bwn (init fp32 checkpoint)' : 'fp32', millions(m.params), m.file_bytes,
      formatRatio(m.ratio), pct(m.eer), m['minDCF_0.01'].toFixed(4), m['minDCF_0.05'].toFixed(4)]),
    ['model', 'params', 'file bytes', 'ratio', 'EER', 'minDCF 0.01', 'minDCF 0.05']),
    '',
    table(x.memory.rows.map((m) => [m.what, m.fp32Bytes, m.bwnBytes, formatRatio(m.ratio)]), ['memory (bytes; file headers and padding not included)', 'fp32', 'binary', 'ratio']),
    '',
    `${x.trials} trials; file bytes: the fp32 extractor .pth (torch state_dict) and the .bwn (export --format bwn), both parameters + BN running mean/var without the classifier; ` +
      `their tensor bytes equal the formula's (${x.rows.map((m) => `${m.model} ${m.tensor_bytes}`).join(', ')})`,
    `wall time ${(x.seconds / 60).toFixed(1)} min (${Object.entries(x.stages).map(([k, v]) => `${k} ${v.toFixed(0)} s`).join(', ')})`,
    `results: ${join(out, 'results.json')}`,
  ].join('\n');
}

export function register(program: Command): void {
  program
    .command('demo')
    .description('a whole workflow on the built-in demo data on a 2-core CPU: autospeech (search, identification and verification training, evaluation), tdnn (progressive shrinking, predictor, MACs-constrained search) or bnn (fp32 ResNet-34, the binary-weight ResNet-34 from it, both evaluated, memory table)')
    .option('--system <name>', `which system: ${DEMO_SYSTEMS.join(', ')}`, 'autospeech')
    .option('--data <dir>', 'demo data directory (generated when missing)', join(PROJECT_ROOT, 'data', 'demo'))
    .option('--out <dir>', 'where the runs and results.json go (default runs/demo, runs/demo_tdnn, runs/demo_bnn)')
    .option('--pairs <n>', 'tdnn: measured (subnet, EER) pairs the predictor learns from (default 64)')
    .option('--budgets <list>', 'tdnn: comma-separated MACs budgets at 300 frames, e.g. 20M,45M,100M (default: three between the smallest and largest subnet)')
    .option('--generations <n>', 'tdnn: GA generations per budget (default 200)')
    .option('--recalibrate <n>', 'tdnn: BN recalibration utterances per measured subnet (default 320)')
    .option('--autospeech-results <file>', "tdnn: the AutoSpeech demo's results.json to quote (default runs/demo/results.json)")
    .option('--init-baseline', 'bnn: also train the BWN from its own random initialisation (the ablation row)')
    .option('--json', 'print results.json')
    .argument('[overrides...]', 'tdnn, bnn: KEY VALUE config overrides for every stage, e.g. THREADS 2')
    .action(async (overrides: string[], opts: Opts) => {
      const log = (s: string) => process.stderr.write(s + '\n');
      if (!(DEMO_SYSTEMS as readonly string[]).includes(opts.system)) throw new UserError(`--system '${opts.system}': expected one of ${DEMO_SYSTEMS.join(', ')}`, 2);
      if (opts.system === 'autospeech' && overrides.length) throw new UserError(`KEY VALUE overrides (${overrides[0]} ...) are for --system tdnn or bnn; the AutoSpeech demo runs its configs as they are`, 2);
      if (opts.initBaseline && opts.system !== 'bnn') throw new UserError('--init-baseline is for --system bnn', 2);
      if (opts.system === 'bnn') {
        const out = opts.out ?? join(PROJECT_ROOT, 'runs', 'demo_bnn');
        const r = await runBnnDemo({ dataDir: opts.data, outDir: out, log, overrides, initBaseline: !!opts.initBaseline });
        emit(r, opts.json, (x: BnnDemoResults) => bnnTable(x, out));
        return;
      }
      if (opts.system === 'tdnn') {
        const out = opts.out ?? join(PROJECT_ROOT, 'runs', 'demo_tdnn');
        const budgets = opts.budgets?.split(',').map((b) => parseCount(b, '--budgets'));
        const r = await runTdnnDemo({
          dataDir: opts.data, outDir: out, log, budgets,
          pairs: intOption(opts.pairs, '--pairs', 8), generations: intOption(opts.generations, '--generations', 0),
          recalibrate: intOption(opts.recalibrate, '--recalibrate', 0), autospeechResults: opts.autospeechResults, overrides,
        });
        emit(r, opts.json, (x: TdnnDemoResults) => tdnnTable(x, out));
        return;
      }
      const out = opts.out ?? join(PROJECT_ROOT, 'runs', 'demo');
      const r = await runDemo({ dataDir: opts.data, outDir: out, log });
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
        `results: ${join(out, 'results.json')}`,
      ].join('\n'));
    });
}
