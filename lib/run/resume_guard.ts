// What a resume may change: the resolved config of the run (its config.yaml) against the one the
// resuming command resolved. Keys that change the math refuse the resume unless overridden, and
// an override is recorded in the run directory.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

import { type Config, DEFAULTS, RESUME_NEUTRAL_KEYS, configToYaml } from '../config/index.ts';
import { UserError } from '../errors.ts';
import { writeFileAtomic } from '../io/atomic.ts';
import { lastWorldSize } from './launches.ts';

export interface ConfigChange { key: string; old: unknown; new: unknown }

function flatten(obj: unknown, prefix = '', out = new Map<string, unknown>()): Map<string, unknown> {
  if (obj !== null && typeof obj === 'object' && !Array.isArray(obj)) {
    for (const [k, v] of Object.entries(obj as Record<string, unknown>)) flatten(v, prefix ? `${prefix}.${k}` : k, out);
  } else out.set(prefix, obj);
  return out;
}

/** Every key whose value differs; a key the run's config lacks (written before it existed) had its default. */
export function configChanges(old: unknown, now: Config): ConfigChange[] {
  const before = flatten(old), after = flatten(now), defaults = flatten(DEFAULTS);
  const changes: ConfigChange[] = [];
  for (const [key, value] of after) {
    const was = before.has(key) ? before.get(key) : defaults.get(key);
    if (JSON.stringify(was) !== JSON.stringify(value)) changes.push({ key, old: was, new: value });
  }
  return changes;
}

/**
 * Refuses a resume whose config changes the math (listing the keys) unless `override`; with it,
 * appends the changes to <run>/resume_overrides.jsonl and makes config.yaml the new resolved config.
 */
export function checkResumeConfig(runDir: string, cfg: Config, override: boolean, worldSize = 1): ConfigChange[] {
  const file = join(runDir, 'config.yaml');
  if (!existsSync(file)) throw new UserError(`--resume ${runDir}: no config.yaml (not a run directory of this tool?)`);
  let old: unknown;
  try {
    old = parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new UserError(`${file}: unreadable (${(err as Error).message.split('\n')[0]})`);
  }
  const changes = configChanges(old, cfg);
  // TRAIN.BATCH_SIZE is per process: another number of processes with the same global batch
  // (BATCH_SIZE x world size) computes the same steps.
  const previousWorld = lastWorldSize(runDir);
  const sameGlobalBatch = (c: ConfigChange) => c.key === 'TRAIN.BATCH_SIZE' && typeof c.old === 'number' && (c.old as number) * previousWorld === (c.new as number) * worldSize;
  const math = changes.filter((c) => !RESUME_NEUTRAL_KEYS.has(c.key) && !sameGlobalBatch(c));
  if (!changes.some((c) => c.key === 'TRAIN.BATCH_SIZE') && previousWorld !== worldSize)
    math.push({ key: 'TRAIN.BATCH_SIZE x world size', old: cfg.TRAIN.BATCH_SIZE * previousWorld, new: cfg.TRAIN.BATCH_SIZE * worldSize });
  const show = (c: ConfigChange) => `${c.key}: ${JSON.stringify(c.old)} -> ${JSON.stringify(c.new)}`;
  if (math.length && !override)
    throw new UserError(`--resume ${runDir}: the config differs from the run's in ${math.length} key(s) that change the results: ${math.map(show).join('; ')}. ` +
      'Resume with the run\'s own config, or pass --resume-override to continue with these values (recorded in the run dir)');
  if (changes.length) {
    const line = JSON.stringify({ time: new Date().toISOString(), override: math.length > 0, changes }) + '\n';
    const log = join(runDir, 'resume_overrides.jsonl');
    writeFileAtomic(log, (existsSync(log) ? readFileSync(log, 'utf8') : '') + line);
    writeFileAtomic(file, configToYaml(cfg));
  }
  return changes;
}
