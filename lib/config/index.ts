export { CHOICES, type Config, DEFAULTS, RANGES, RESUME_NEUTRAL_KEYS } from './schema.ts';
export { configOrigin, configToYaml, defaultConfig, loadConfig, loadConfigText, parseLiteral, suggestKey } from './load.ts';
