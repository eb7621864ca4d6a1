export { CHOICES, type Config, DEFAULTS, RANGES, RESUME_NEUTRAL_KEYS } from './schema.ts';
export { configOrigin, configToYaml, defaultConfig, loadConfig, parseLiteral, suggestKey } from './load.ts';
