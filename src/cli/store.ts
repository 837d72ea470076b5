/**
 * What the management commands share: open the store the server uses (the
 * same --config / $TRUNKLINE_CONFIG / ./trunkline.yaml / defaults, and
 * DATABASE_URL as openStore reads it), run one command against it, always
 * close it, and turn any error into one line on stderr and exit 1.
 */
import type { Command } from 'commander';
import type { Store } from '../store/index.js';
import {
  CONFIG_OPTION_FLAGS,
  CONFIG_OPTION_HELP,
  EXIT_CONFIG,
  EXIT_FAILURE,
  errorMessage,
  fail,
  loadConfigOrExit,
} from './common.js';

/** A command's own error: printed as is (one line), exit 1. */
export class CliError extends Error {
  override readonly name = 'CliError';
}

/**
 * Loads the config of `cmd`, opens its store, runs `fn`, and closes the
 * store whatever happens. An error (a store error such as `unknown domain
 * example.org`, a CliError, a database that does not answer) is printed as
 * its one line and the process exits 1, after the store is closed.
 */
export async function withStore(cmd: Command, fn: (store: Store) => Promise<void>): Promise<void> {
  const config = await loadConfigOrExit(cmd);
  let store: Store | undefined;
  let failure: unknown;
  try {
    // Loaded here, not at start: --help and argument errors need no database driver.
    const { openStore } = await import('../store/index.js');
    store = await openStore(config.database);
    await fn(store);
  } catch (err) {
    failure = err;
  }
  if (store !== undefined) {
    try {
      await store.close();
    } catch (err) {
      failure ??= err;
    }
  }
  if (failure !== undefined) fail(errorMessage(failure), EXIT_FAILURE);
}

/** Runs `fn`, turning an error into one line on stderr and exit 1 (for checks before the store opens). */
export async function orFail<T>(fn: () => T | Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    fail(errorMessage(err), EXIT_FAILURE);
  }
}

/**
 * A command group (`domain`, `subscriber`, ...): takes --config too.
 * Without a subcommand, or with an unknown one, it is a usage error: one
 * line naming the subcommands, exit 2 (`--help` or `help` prints the help).
 */
export function commandGroup(program: Command, name: string, description: string): Command {
  return program
    .command(name)
    .description(description)
    .option(CONFIG_OPTION_FLAGS, CONFIG_OPTION_HELP)
    .helpCommand(false)
    .argument('[command...]')
    .usage('[options] [command]')
    .action((args: string[], _opts: unknown, cmd: Command) => {
      const subs = cmd.commands.map((c) => c.name());
      if (args[0] === 'help') cmd.help();
      const what = args[0] === undefined ? 'missing command' : `unknown command ${JSON.stringify(args[0])}`;
      fail(`${name}: ${what} (${subs.join(', ')}); see trunkline ${name} --help`, EXIT_CONFIG);
    });
}
