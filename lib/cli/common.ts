// Options shared by the commands that take a reference-style config.
import type { Command } from 'commander';

import { type Config, loadConfig } from '../config/index.ts';

export interface CfgOptions {
  cfg?: string;
  text_arch?: string;
  json?: boolean;
}

/** --cfg <yaml> plus trailing KEY VALUE overrides, as the reference scripts take them. */
export function withConfig(cmd: Command, requireCfg = true): Command {
  return cmd
    .option('--cfg <yaml>', `experiment config (yacs-style YAML)${requireCfg ? '' : '; defaults when omitted'}`)
    .argument('[opts...]', 'KEY VALUE config overrides, e.g. TRAIN.BATCH_SIZE 4');
}

export function resolveConfig(opts: CfgOptions, overrides: string[], requireCfg = true): Config {
  if (requireCfg && !opts.cfg) throw new Error('--cfg <yaml> is required');
  return loadConfig(opts.cfg, overrides);
}
