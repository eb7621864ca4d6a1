export { CHOICES, type Config, DEFAULTS } from './schema.ts';
export { configToYaml, defaultConfig, loadConfig, parseLiteral, suggestKey } from './load.ts';
