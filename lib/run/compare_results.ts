// Two demo results.json compared stage by stage: the environment the figures depend on, then each
// stage's output hash in pipeline order, so the first stage that parts names the cause.
import { readFileSync } from 'node:fs';

import { UserError } from '../errors.ts';

export interface StageComparison { stage: string; a: string; b: string; same: boolean }

const show = (v: unknown): string => (v === undefined ? '(absent)' : typeof v === 'string' ? v : JSON.stringify(v));

export function readResults(path: string): Record<string, any> {
  let r: Record<string, any>;
  try {
    r = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new UserError(`${path}: not a readable results.json (${(e as Error).message})`);
  }
  if (!r || typeof r !== 'object' || !r.fingerprint) throw new UserError(`${path}: no "fingerprint" field (written by autospeech demo since 0.1.0 with stage hashes)`);
  return r;
}

/** Environment first (what may make a stage part), then the stages in pipeline order, then the figures. */
export function compareResults(a: Record<string, any>, b: Record<string, any>): { rows: StageComparison[]; firstDifferentStage?: string } {
  const fa = a.fingerprint, fb = b.fingerprint;
  const rows: StageComparison[] = [];
  const add = (stage: string, x: unknown, y: unknown) => rows.push({ stage, a: show(x), b: show(y), same: show(x) === show(y) });
  add('threads', fa.threads, fb.threads);
  for (const k of new Set([...Object.keys(fa.cpu ?? {}), ...Object.keys(fb.cpu ?? {})])) add(`cpu.${k}`, fa.cpu?.[k], fb.cpu?.[k]);
  for (const k of new Set([...Object.keys(fa.packages ?? {}), ...Object.keys(fb.packages ?? {})])) add(`package ${k}`, fa.packages?.[k], fb.packages?.[k]);
  const stages: [string, unknown, unknown][] = [
    ['1 demo data', fa.data_sha256, fb.data_sha256],
    ['2 feature store', fa.store_sha256, fb.store_sha256],
    ['3 searched genotype', fa.genotype_sha256, fb.genotype_sha256],
    ['4 identification weights', fa.weights_sha256?.identification, fb.weights_sha256?.identification],
    ['5 verification weights', fa.weights_sha256?.verification, fb.weights_sha256?.verification],
  ];
  for (const [s, x, y] of stages) add(s, x, y);
  for (const k of ['top1', 'top1_per_utterance', 'eer', 'minDCF_0.01', 'minDCF_0.05', 'params']) add(k, a[k], b[k]);
  const firstDifferentStage = stages.find(([, x, y]) => show(x) !== show(y))?.[0];
  return { rows, firstDifferentStage };
}
