// `autospeech demo [--system autospeech|tdnn]`: a system's full workflow on the built-in demo data,
// then a results table (and results.json in the output dir).
import type { Command } from 'commander';
import { join } from 'node:path';

import { type DemoResults, runDemo } from '../demo.ts';
import { UserError } from '../errors.ts';
import { PROJECT_ROOT } from '../native.ts';
import { parseCount } from '../tdnn/search.ts';
import { type TdnnDemoResults, type TdnnDemoSubnet, runTdnnDemo } from '../tdnn/demo.ts';
import { emit, table } from './output.ts';

export const DEMO_SYSTEMS = ['autospeech', 'tdnn'] as const;

interface Opts { system: string; data: string; out?: string; json?: boolean; pairs?: string; budgets?: string; generations?: string; recalibrate?: string; autospeechResults?: string }

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

export function register(program: Command): void {
  program
    .command('demo')
    .description('a whole workflow on the built-in demo data on a 2-core CPU: autospeech (search, identification and verification training, evaluation) or tdnn (progressive shrinking, predictor, MACs-constrained search)')
    .option('--system <name>', `which system: ${DEMO_SYSTEMS.join(', ')}`, 'autospeech')
    .option('--data <dir>', 'demo data directory (generated when missing)', join(PROJECT_ROOT, 'data', 'demo'))
    .option('--out <dir>', 'where the runs and results.json go (default runs/demo, runs/demo_tdnn)')
    .option('--pairs <n>', 'tdnn: measured (subnet, EER) pairs the predictor learns from (default 64)')
    .option('--budgets <list>', 'tdnn: comma-separated MACs budgets at 300 frames, e.g. 20M,45M,100M (default: three between the smallest and largest subnet)')
    .option('--generations <n>', 'tdnn: GA generations per budget (default 200)')
    .option('--recalibrate <n>', 'tdnn: BN recalibration utterances per measured subnet (default 320)')
    .option('--autospeech-results <file>', "tdnn: the AutoSpeech demo's results.json to quote (default runs/demo/results.json)")
    .option('--json', 'print results.json')
    .argument('[overrides...]', 'tdnn: KEY VALUE config overrides for every stage, e.g. THREADS 2')
    .action(async (overrides: string[], opts: Opts) => {
      const log = (s: string) => process.stderr.write(s + '\n');
      if (!(DEMO_SYSTEMS as readonly string[]).includes(opts.system)) throw new UserError(`--system '${opts.system}': expected one of ${DEMO_SYSTEMS.join(', ')}`, 2);
      if (opts.system !== 'tdnn' && overrides.length) throw new UserError(`KEY VALUE overrides (${overrides[0]} ...) are for --system tdnn; the AutoSpeech demo runs its configs as they are`, 2);
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
