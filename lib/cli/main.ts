// CLI entry: one file per command under lib/cli/, each exporting register(program).
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';

import { UserError, errorMessage } from '../errors.ts';
import { PROJECT_ROOT } from '../native.ts';

type Register = (program: Command) => void;

// Each command module is listed once here; order is the order of `autospeech --help`.
const COMMANDS: Array<() => Promise<{ register: Register }>> = [
  () => import('./demo.ts'),
  () => import('./demo_compare.ts'),
  () => import('./demo_data.ts'),
  () => import('./preprocess.ts'),
  () => import('./store.ts'),
  () => import('./data_check.ts'),
  () => import('./train_commands.ts'),
  () => import('./evaluate.ts'),
  () => import('./embed.ts'),
  () => import('./verify.ts'),
  () => import('./score.ts'),
  () => import('./features.ts'),
  () => import('./export.ts'),
  () => import('./import.ts'),
  () => import('./model_info.ts'),
  () => import('./forward.ts'),
  () => import('./genotype.ts'),
  () => import('./eer.ts'),
  () => import('./tdnn.ts'),
  () => import('./doctor.ts'),
];

export async function main(argv: string[]): Promise<number> {
  // `autospeech ... | head` closes the pipe early: that is not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    throw err;
  });
  const program = new Command('autospeech')
    .description('Neural architecture search for speaker recognition on a native libtorch core')
    .version((JSON.parse(readFileSync(`${PROJECT_ROOT}/package.json`, 'utf8')) as { version: string }).version, '-V, --version')
    .addHelpText('after', `
Exit status: 0 success; 2 a usage, config or input error (bad flag, config key or value, missing or
unreadable file), reported before anything is written; 1 a failure during the run (a diverged
training, a worker that died, files that could not be read while the rest were processed).`)
    .showHelpAfterError()
    .exitOverride();
  for (const load of COMMANDS) (await load()).register(program);
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version exit "successfully"; usage errors were already printed by commander
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' ? 0 : 2;
    }
    if (process.env.AUTOSPEECH_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
    process.stderr.write(`autospeech: error: ${errorMessage(err).split('\n').join('\n  ')}\n`);
    return err instanceof UserError ? err.exitCode : 1;
  }
}
