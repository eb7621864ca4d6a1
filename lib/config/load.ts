// yacs-compatible loading: a YAML file merged over the defaults (merge_from_file), then KEY VALUE
// pairs (merge_from_list) with values parsed like yacs' literal_eval. Unknown keys are errors with a
// did-you-mean; wrong types name the file, line and key.
import { existsSync, readFileSync } from 'node:fs';
import { LineCounter, isMap, isScalar, isSeq, parseDocument, stringify, type Node } from 'yaml';

import { UserError } from '../errors.ts';
import { editDistance } from '../util/edit_distance.ts';
import { CHOICES, type Config, DEFAULTS, RANGES, type Range } from './schema.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };


function allKeys(obj: Record<string, unknown> = DEFAULTS, prefix = ''): string[] {
  return Object.entries(obj).flatMap(([k, v]) =>
    v !== null && typeof v === 'object' && !Array.isArray(v) ? allKeys(v as Record<string, unknown>, `${prefix}${k}.`) : [`${prefix}${k}`]);
}

export function suggestKey(key: string): string {
  const keys = allKeys();
  const upper = key.toUpperCase();
  const best = keys.map((k) => ({ k, d: Math.min(editDistance(upper, k), editDistance(upper.split('.').pop()!, k.split('.').pop()!) + 1) })).sort((a, b) => a.d - b.d)[0];
  return best && best.d <= Math.max(3, Math.floor(key.length / 4)) ? ` (did you mean ${best.k}?)` : '';
}

export function defaultConfig(): Config {
  return structuredClone(DEFAULTS) as Config;
}

// Keys whose Python default is a float that happens to be integral (0.0): JS cannot tell them apart.
const FLOAT_KEYS = new Set(['TRAIN.WD', 'TRAIN.ARCH_WD', 'LOSS.SCALE', 'MODEL.WIDTH_MULT', 'MODEL.LATENT_CLIP']);

function typeName(v: unknown, key = ''): string {
  if (FLOAT_KEYS.has(key)) return 'float';
  return Array.isArray(v) ? 'list' : v === null ? 'null' : typeof v === 'boolean' ? 'bool' : typeof v === 'number' ? (Number.isInteger(v) ? 'int' : 'float') : typeof v;
}

/** Checks `value` against the default's type (yacs: ints may widen to floats, not the reverse). */
function coerce(key: string, def: unknown, value: unknown, where: string): unknown {
  const fail = (): never => {
    const t = typeName(def, key);
    throw new UserError(`${where}: ${key} must be ${t === 'float' ? 'a number' : t === 'int' ? 'an integer' : `a ${t}`}, got ${JSON.stringify(value)}`);
  };
  if (typeof def === 'boolean') return typeof value === 'boolean' ? value : fail();
  if (typeof def === 'number') {
    if (typeof value !== 'number' || !Number.isFinite(value)) fail();
    if (Number.isInteger(def) && !FLOAT_KEYS.has(key) && !Number.isInteger(value)) fail();
    return value;
  }
  if (typeof def === 'string') {
    if (typeof value !== 'string') fail();
    const choices = CHOICES[key.replace(/\[\d+\]$/, '')]; // a list's elements share its choices
    if (choices && !choices.includes(value as string)) throw new UserError(`${where}: ${key} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, got '${value}'`);
    return value;
  }
  if (Array.isArray(def)) {
    if (!Array.isArray(value)) fail();
    return (value as unknown[]).map((v, i) => coerce(`${key}[${i}]`, def[0], v, where));
  }
  return fail();
}

/** Where each key of a loaded config got its value ('file.yaml:12', 'override KEY'); defaults are absent. */
const ORIGINS = new WeakMap<object, Map<string, string>>();
let currentOrigins: Map<string, string> | null = null;

/** Where `key` of a config returned by loadConfig was set, or 'the default' when it was not. */
export function configOrigin(cfg: Config, key: string): string {
  return ORIGINS.get(cfg)?.get(key) ?? 'the default';
}

function setKey(cfg: Record<string, any>, key: string, value: unknown, where: string): void {
  currentOrigins?.set(key, where);
  const parts = key.split('.');
  let node: Record<string, any> = cfg;
  let def: Record<string, any> = DEFAULTS;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i];
    if (!(p in def)) throw new UserError(`${where}: unknown config key ${parts.slice(0, i + 1).join('.')}${suggestKey(key)}`);
    if (i === parts.length - 1) {
      if (def[p] !== null && typeof def[p] === 'object' && !Array.isArray(def[p]))
        throw new UserError(`${where}: ${key} is a section, not a value (its keys: ${Object.keys(def[p]).join(', ')})`);
      node[p] = coerce(key, def[p], value, where);
    } else {
      if (typeof def[p] !== 'object' || Array.isArray(def[p])) throw new UserError(`${where}: ${parts.slice(0, i + 1).join('.')} is a value, not a section`);
      node = node[p];
      def = def[p];
    }
  }
}

/** yacs literal_eval of one command-line value: numbers, True/False, None, quoted strings, lists. */
export function parseLiteral(text: string): Json {
  const t = text.trim();
  if (t === 'True' || t === 'true') return true;
  if (t === 'False' || t === 'false') return false;
  if (t === 'None') return null;
  if (/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return Number(t);
  if ((t.startsWith("'") && t.endsWith("'")) || (t.startsWith('"') && t.endsWith('"'))) return t.slice(1, -1);
  if ((t.startsWith('[') && t.endsWith(']')) || (t.startsWith('(') && t.endsWith(')'))) {
    const inner = t.slice(1, -1).trim();
    if (inner === '') return [];
    return inner.split(',').map((s) => s.trim()).filter((s) => s !== '').map(parseLiteral);
  }
  return t; // yacs keeps unparsable literals as strings
}

function walkYaml(node: Node | null, prefix: string, file: string, lines: LineCounter, cfg: Record<string, any>): void {
  if (!isMap(node)) {
    const pos = node?.range ? lines.linePos(node.range[0]) : { line: 1 };
    throw new UserError(`${file}:${pos.line}: ${prefix ? `${prefix.slice(0, -1)} must be a mapping` : 'the config must be a YAML mapping of KEY: value'}`);
  }
  for (const item of node.items) {
    const keyNode = item.key as Node;
    const key = isScalar(keyNode) ? String(keyNode.value) : '?';
    const line = keyNode?.range ? lines.linePos(keyNode.range[0]).line : 0;
    const full = `${prefix}${key}`;
    const value = item.value as Node | null;
    if (isMap(value)) {
      let def: any = DEFAULTS;
      for (const p of full.split('.')) {
        if (def === undefined || typeof def !== 'object' || !(p in def)) throw new UserError(`${file}:${line}: unknown config key ${full}${suggestKey(full)}`);
        def = def[p];
      }
      walkYaml(value, `${full}.`, file, lines, cfg);
    } else {
      const js = value === null ? null : isSeq(value) || isScalar(value) ? value.toJSON() : null;
      setKey(cfg, full, js, `${file}:${line}`);
    }
  }
}

function deepFreeze<T>(obj: T): T {
  for (const v of Object.values(obj as object)) if (v && typeof v === 'object') deepFreeze(v);
  return Object.freeze(obj);
}

function violates(v: number, r: Range, isInt: boolean): string | null {
  if (isInt && !Number.isInteger(v)) return 'an integer';
  const lo = r.min === undefined ? '' : `${r.minExclusive ? '>' : '>='} ${r.min}`;
  const hi = r.max === undefined ? '' : `${r.maxExclusive ? '<' : '<='} ${r.max}`;
  const bad = (r.min !== undefined && (r.minExclusive ? v <= r.min : v < r.min)) || (r.max !== undefined && (r.maxExclusive ? v >= r.max : v > r.max));
  if (bad) return r.min !== undefined && r.max !== undefined ? `in ${r.minExclusive ? '(' : '['}${r.min}, ${r.max}${r.maxExclusive ? ')' : ']'}` : lo || hi;
  if (r.multipleOf && v % r.multipleOf !== 0) return `a multiple of ${r.multipleOf}`;
  if (r.odd && v % 2 !== 1) return 'odd';
  return null;
}

/** Every numeric key within its range (RANGES), naming the key and where its value came from. */
function checkRanges(cfg: Config, origins: Map<string, string>): void {
  for (const [key, range] of Object.entries(RANGES)) {
    let value: unknown = cfg, def: unknown = DEFAULTS;
    for (const p of key.split('.')) { value = (value as any)[p]; def = (def as any)[p]; }
    const values = Array.isArray(value) ? value : [value];
    const isInt = typeof (Array.isArray(def) ? def[0] : def) === 'number' && Number.isInteger(Array.isArray(def) ? def[0] : def) && !FLOAT_KEYS.has(key);
    for (const v of values) {
      const need = violates(v as number, range, isInt);
      if (need) throw new UserError(`${origins.get(key) ?? 'default'}: ${key} must be ${need}, got ${JSON.stringify(value)}`);
    }
  }
  if (cfg.TRAIN.BEGIN_EPOCH > cfg.TRAIN.END_EPOCH)
    throw new UserError(`${origins.get('TRAIN.BEGIN_EPOCH') ?? origins.get('TRAIN.END_EPOCH') ?? 'default'}: TRAIN.BEGIN_EPOCH (${cfg.TRAIN.BEGIN_EPOCH}) is after TRAIN.END_EPOCH (${cfg.TRAIN.END_EPOCH})`);
}

export function loadConfig(yamlPath: string | undefined, overrides: string[] = []): Config {
  const origins = new Map<string, string>();
  currentOrigins = origins;
  try {
    return loadConfigInto(yamlPath, overrides, origins);
  } finally {
    currentOrigins = null;
  }
}

/** A config from YAML text (e.g. the one a checkpoint records); `where` names it in errors. */
export function loadConfigText(text: string, where: string, overrides: string[] = []): Config {
  const origins = new Map<string, string>();
  currentOrigins = origins;
  try {
    return loadConfigInto(where, overrides, origins, text);
  } finally {
    currentOrigins = null;
  }
}

function loadConfigInto(yamlPath: string | undefined, overrides: string[], origins: Map<string, string>, given?: string): Config {
  const cfg = defaultConfig() as unknown as Record<string, any>;
  if (yamlPath !== undefined) {
    if (given === undefined && !existsSync(yamlPath)) throw new UserError(`config file ${yamlPath} not found`);
    const text = given ?? readFileSync(yamlPath, 'utf8');
    const lines = new LineCounter();
    const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
    if (doc.errors.length) {
      const e = doc.errors[0];
      throw new UserError(`${yamlPath}:${e.linePos?.[0]?.line ?? '?'}: invalid YAML: ${e.message.split('\n')[0]}`);
    }
    if (doc.contents !== null) walkYaml(doc.contents as Node, '', yamlPath, lines, cfg);
  }
  if (overrides.length % 2 !== 0)
    throw new UserError(`overrides must be KEY VALUE pairs; '${overrides[overrides.length - 1]}' has no value`);
  for (let i = 0; i < overrides.length; i += 2) setKey(cfg, overrides[i], parseLiteral(overrides[i + 1]), `override ${overrides[i]}`);
  checkRanges(cfg as unknown as Config, origins);
  const frozen = deepFreeze(cfg) as unknown as Config;
  ORIGINS.set(frozen, origins);
  return frozen;
}

export function configToYaml(cfg: Config): string {
  return stringify(cfg);
}
