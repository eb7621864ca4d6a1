// The options embed, verify and score share to name a trained model (lib/infer/load_model.ts).
import type { Command } from 'commander';

import type { LoadOptions } from '../infer/load_model.ts';

export interface ModelOptions {
  load_path?: string;
  cfg?: string;
  text_arch?: string;
  subnet?: string;
  meanStd?: string;
}

export function addModelOptions(cmd: Command, required: boolean): Command {
  const loadPath = '--load_path <model>';
  const what = 'a checkpoint (.ckpt) of train / train-baseline / tdnn train, its run directory, or a .npy state_dict directory (a TDNN clone from tdnn search --export / forward --export-subnet, or export --format npy with --cfg)';
  return (required ? cmd.requiredOption(loadPath, what) : cmd.option(loadPath, what))
    .option('--cfg <yaml>', "config to use instead of the one the checkpoint records (a state_dict directory needs one: MODEL dims, DATASET.PARTIAL_N_FRAMES, EVAL.MAX_BATCH)")
    .option('--text_arch <genotype>', "derived network's genotype (default: the checkpoint's)")
    .option('--subnet <D-c0-..-cD-k0-..-kD-cat>', 'TDNN supernet: the subnet to clone (default the largest)')
    .option('--mean-std <dir>', "AutoSpeech: the training set's mean.npy/std.npy (default: recorded in the checkpoint, else the training store's)");
}

export function loadOptionsOf(o: ModelOptions): LoadOptions {
  return { cfg: o.cfg, textArch: o.text_arch, subnet: o.subnet, meanStd: o.meanStd };
}
