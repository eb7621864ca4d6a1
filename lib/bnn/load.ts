// A .bwn file as a network of the configured kind: the header must describe the config's network
// (depth, widths, activation, classes), which is then built as its fp32 twin holding W_b.
import type { Config } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { buildModelFromSpec } from '../models/build.ts';
import { isResnetModel, modelSpecFromConfig } from '../models/spec.ts';
import type { NativeModel } from '../native.ts';
import { loadBwnInto, readBwn, twinSpec } from './format.ts';

export function isBwnFile(path: string): boolean {
  return path.endsWith('.bwn');
}

export function modelFromBwn(cfg: Config, path: string): { model: NativeModel; withClassifier: boolean } {
  if (!isResnetModel(cfg)) throw new UserError(`${path}: a .bwn holds a binary-weight ResNet; MODEL.NAME is '${cfg.MODEL.NAME}'`);
  const bwn = readBwn(path);
  const mine = twinSpec(modelSpecFromConfig(cfg)), theirs = twinSpec(bwn.header.spec);
  for (const [key, field] of [['MODEL.NAME (depth)', 'depth'], ['MODEL.WIDTH_MULT', 'widthMult'], ['MODEL.ACTIVATION', 'activation'], ['MODEL.NUM_CLASSES', 'numClasses']] as const) {
    const a = mine[field] ?? (field === 'widthMult' ? 1 : field === 'activation' ? 'relu' : undefined), b = theirs[field] ?? (field === 'widthMult' ? 1 : field === 'activation' ? 'relu' : undefined);
    if (a !== b) throw new UserError(`${path}: the file's network has ${field} ${JSON.stringify(b)}, the config's ${key} gives ${JSON.stringify(a)}`);
  }
  const model = buildModelFromSpec(cfg, theirs);
  loadBwnInto(model, bwn, path);
  return { model, withClassifier: bwn.header.withClassifier };
}
