// `autospeech tdnn predict`: the EfficientTDNN accuracy predictor from the command line.
//   --predictor <dir> --subnet S [--subnet S ...]  -> predicted EER ({"eer": x} for one subnet)
//   --train <pairs.jsonl|json> --out <dir>         -> fit a predictor (fresh, or from --predictor)
import type { Command } from 'commander';

import { loadConfig } from '../config/index.ts';
import { UserError } from '../errors.ts';
import type { ArchCoder } from '../tdnn/encoding.ts';
import { AccuracyPredictor, readEerPairs } from '../tdnn/predictor.ts';
import { supernetCoder } from '../tdnn/search.ts';
import { formatSubnet, parseSubnet, supernetDims } from '../tdnn/subnet.ts';
import { emit, table } from './output.ts';

interface PredictOptions {
  cfg?: string;
  predictor?: string;
  subnet: string[];
  train?: string;
  out?: string;
  inFeats: string;
  epochs: string;
  lr: string;
  weightDecay: string;
  batchSize: string;
  loss: string;
  seed?: string;
  overwrite?: boolean;
  json?: boolean;
}

function intOption(value: string, flag: string, min: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) throw new UserError(`${flag} must be an integer >= ${min}, got '${value}'`);
  return n;
}

function numberOption(value: string, flag: string, positive: boolean): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || (positive ? n <= 0 : n < 0)) throw new UserError(`${flag} must be a ${positive ? 'positive' : 'non-negative'} number, got '${value}'`);
  return n;
}

const collect = (v: string, prev: string[]) => [...prev, v];

/** With --cfg, the one-hot code of that supernet's space (its widths); without, tdnn8m2g's. */
function coderOf(opts: PredictOptions, inFeats: number): ArchCoder | undefined {
  return opts.cfg === undefined ? undefined : supernetCoder(supernetDims(loadConfig(opts.cfg, [])), inFeats);
}

async function train(opts: PredictOptions): Promise<void> {
  if (!opts.out) throw new UserError('--train needs --out <dir> for the trained predictor');
  const loss = opts.loss;
  if (loss !== 'mse' && loss !== 'l1' && loss !== 'smoothl1') throw new UserError(`--loss must be mse, l1 or smoothl1, got '${loss}'`);
  const options = {
    epochs: intOption(opts.epochs, '--epochs', 1),
    lr: numberOption(opts.lr, '--lr', true),
    weightDecay: numberOption(opts.weightDecay, '--weight-decay', false),
    batchSize: intOption(opts.batchSize, '--batch-size', 2),
    loss: loss as 'mse' | 'l1' | 'smoothl1',
    seed: opts.seed === undefined ? undefined : intOption(opts.seed, '--seed', 0),
  };
  const pairs = readEerPairs(opts.train!);
  if (pairs.length < options.batchSize)
    throw new UserError(`--train ${opts.train}: ${pairs.length} pairs give no full batch of ${options.batchSize} (the reference drops incomplete batches); lower --batch-size`);
  const predictor = opts.predictor ? AccuracyPredictor.load(opts.predictor) : AccuracyPredictor.create(intOption(opts.inFeats, '--in-feats', 1), { seed: options.seed });
  const r = await predictor.fit(pairs, options, coderOf(opts, predictor.inFeats));
  predictor.save(opts.out, { overwrite: opts.overwrite });
  const summary = { out: opts.out, pairs: pairs.length, epochs: options.epochs, batches_per_epoch: r.batchesPerEpoch, first_loss: r.epochLoss[0], final_loss: r.epochLoss[r.epochLoss.length - 1], l1_error: r.l1Error };
  emit(summary, opts.json, (s) => `trained on ${s.pairs} pairs, ${s.epochs} epochs of ${s.batches_per_epoch} batches: loss ${s.first_loss.toFixed(4)} -> ${s.final_loss.toFixed(4)}, train L1 error ${s.l1_error.toFixed(4)}; saved ${s.out}`);
}

/** Adds `predict` to the `tdnn` command group. */
export function registerPredict(tdnn: Command): void {
  tdnn
    .command('predict')
    .description("predicted EER of subnets from the MLP accuracy predictor (sugar's AccuracyPredictor; 48-dim coarse one-hot codes), or train one on measured pairs")
    .option('--cfg <yaml>', "the supernet (MODEL.*) whose space the subnets are coded in: its own widths' one-hot code (default tdnn8m2g's, the shipped predictor's)")
    .option('--predictor <dir>', 'predictor state_dict directory (model.*.npy, ynorm.*.npy), e.g. the reference\'s EER.48.Coarse; with --train, the starting weights')
    .option('--subnet <S>', 'subnet D-c0-..-cD-k0-..-kD-cat (repeat for several)', collect, [])
    .option('--train <pairs>', 'train on measured pairs: .jsonl with one {"subnet": S, "eer": x} per line, or a .json array (eer in the unit to predict: percent, as the shipped predictor)')
    .option('--out <dir>', 'with --train: where to save the trained predictor (state_dict directory)')
    .option('--in-feats <n>', 'with --train and no --predictor: input width, 48 (coarse) or 408 (fine)', '48')
    .option('--epochs <n>', 'with --train: epochs (reference 50)', '50')
    .option('--lr <x>', 'with --train: Adam learning rate (reference 1e-3)', '1e-3')
    .option('--weight-decay <x>', 'with --train: Adam L2 weight decay (reference 1e-3)', '1e-3')
    .option('--batch-size <n>', 'with --train: shuffled batches, incomplete one dropped (reference 256)', '256')
    .option('--loss <name>', 'with --train: mse (reference), l1 or smoothl1', 'mse')
    .option('--seed <n>', 'with --train: seed of the initial weights (fresh predictor) and of the shuffling')
    .option('--overwrite', 'with --train: replace an existing --out directory')
    .option('--json', 'machine-readable output: {"eer": x} for one subnet, {"subnets": [{"subnet", "eer"}]} for several')
    .action(async (opts: PredictOptions) => {
      if (opts.train) {
        await train(opts);
        if (opts.subnet.length === 0) return;
        opts.predictor = opts.out;
      }
      if (!opts.predictor) throw new UserError('tdnn predict needs --predictor <state_dict dir> (or --train <pairs> --out <dir>)');
      if (opts.subnet.length === 0) throw new UserError('tdnn predict needs --subnet D-c0-..-cD-k0-..-kD-cat');
      const subnets = opts.subnet.map((s) => parseSubnet(s));
      const predictor = AccuracyPredictor.load(opts.predictor);
      const eer = Array.from(predictor.predict(subnets, coderOf(opts, predictor.inFeats)).eer);
      if (subnets.length === 1) emit({ eer: eer[0] }, opts.json, (r) => `predicted EER ${r.eer.toFixed(4)}`);
      else
        emit({ subnets: subnets.map((s, i) => ({ subnet: formatSubnet(s), eer: eer[i] })) }, opts.json, (r) =>
          table(r.subnets.map((x) => [x.subnet, Number(x.eer.toFixed(4))]), ['subnet', 'predicted EER']));
    });
}
