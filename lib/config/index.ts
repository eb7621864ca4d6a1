export { CHOICES, type Config, DEFAULTS, RESUME_NEUTRAL_KEYS } from './schema.ts';
export { configToYaml, defaultConfig, loadConfig, parseLiteral, suggestKey } from './load.ts';
