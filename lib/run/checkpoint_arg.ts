// A checkpoint named in a config key (TRAIN.INIT_CHECKPOINT of `tdnn train`, TRAIN.INIT_FROM of
// `train` / `train-baseline`): a .ckpt file, a run dir (its Model/last.ckpt) or `latest:<config
// name>`, the newest run of that experiment under the run root, which must have finished.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';

import { UserError } from '../errors.ts';
import { loadCheckpoint } from './checkpoint.ts';
import { findLatestRun } from './run_dir.ts';

/** `command` is the one that trains such runs, for the hint on how to finish a killed one. */
export function checkpointFile(path: string, key: string, root: string, command: string): string {
  if (path.startsWith('latest:')) {
    const exp = path.slice('latest:'.length);
    const run = findLatestRun(root, exp);
    if (!run) throw new UserError(`${key} ${path}: no run of '${exp}' with a checkpoint under ${root} (train it first, or give a .ckpt or run dir)`);
    const last = join(run, 'Model', 'last.ckpt');
    checkRunFinished(run, last, key, path, command);
    return last;
  }
  if (!existsSync(path)) throw new UserError(`${key} ${path}: no such file or directory`);
  const file = statSync(path).isDirectory() ? join(path, 'Model', 'last.ckpt') : path;
  if (!existsSync(file)) throw new UserError(`${key} ${path}: no checkpoint at ${file}`);
  return file;
}

/**
 * `latest:` picks the newest run: it must have reached its END_EPOCH, or a killed run would
 * silently seed the next one. (A .ckpt or run dir given explicitly is taken as is.)
 */
function checkRunFinished(run: string, last: string, key: string, path: string, command: string): void {
  let endEpoch: number | undefined;
  try {
    endEpoch = (parseYaml(readFileSync(join(run, 'config.yaml'), 'utf8')) as { TRAIN?: { END_EPOCH?: number } })?.TRAIN?.END_EPOCH;
  } catch { /* no readable config.yaml: cannot tell, checked below */ }
  if (typeof endEpoch !== 'number') throw new UserError(`${key} ${path}: ${run} has no readable config.yaml with TRAIN.END_EPOCH, so whether that run finished is unknown; give its checkpoint explicitly`);
  const meta = loadCheckpoint<{ epoch: number; stepInEpoch: number }>(last).meta;
  if (meta.epoch < endEpoch || meta.stepInEpoch !== 0)
    throw new UserError(`${key} ${path}: the newest run ${run} stopped at epoch ${meta.epoch}${meta.stepInEpoch ? `, step ${meta.stepInEpoch}` : ''} of ${endEpoch} (killed?): finish it with \`${command} --cfg <its config> --resume auto\`, or give ${last} explicitly to start from it anyway`);
}

/**
 * The checkpoint a model-using command (embed, verify, score, export, the Node API) takes from a
 * run directory: Model/checkpoint_best.ckpt (the best validation), else Model/last.ckpt. Training
 * commands (TRAIN.INIT_FROM, --resume) continue from last.ckpt instead (checkpointFile). Callers
 * report the file they used, so an EER can be matched to the checkpoint it came from.
 */
export const RUN_DIR_MODEL_FILES = ['checkpoint_best.ckpt', 'last.ckpt'] as const;

export function runDirModelFile(runDir: string, key: string): string {
  const model = join(runDir, 'Model');
  for (const f of RUN_DIR_MODEL_FILES) if (existsSync(join(model, f))) return join(model, f);
  throw new UserError(`${key} ${runDir}: a run directory without ${RUN_DIR_MODEL_FILES.map((f) => `Model/${f}`).join(' or ')}`, 2);
}
