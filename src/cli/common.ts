/**
 * What every command group shares: the `--config FILE` option (also
 * $TRUNKLINE_CONFIG), loading the config the same way the server does, and
 * the exit convention (one line on stderr, non-zero code).
 */
import type { Command } from 'commander';
import { ConfigError, loadConfig, type LoadConfigOptions, type TrunklineConfig } from '../config/load.js';

/** Exit codes: 1 for a failed command, 2 for a bad config or usage. */
export const EXIT_FAILURE = 1;
export const EXIT_CONFIG = 2;

export const CONFIG_OPTION_FLAGS = '-c, --config <file>';
export const CONFIG_OPTION_HELP =
  'config file (default: $TRUNKLINE_CONFIG, else ./trunkline.yaml if present, else built-in defaults)';

/** Adds `--config FILE` to a command (the program has it too; either place works). */
export function withConfigOption(cmd: Command): Command {
  return cmd.option(CONFIG_OPTION_FLAGS, CONFIG_OPTION_HELP);
}

/** The --config given to this command or to the program before it. */
export function configFileOf(cmd: Command): string | undefined {
  const own = cmd.opts<{ config?: string }>().config;
  if (own !== undefined) return own;
  return cmd.optsWithGlobals<{ config?: string }>().config;
}

/** The load options a command's config comes from: the same for the server and every management command. */
export function configOptionsOf(cmd: Command): LoadConfigOptions {
  const file = configFileOf(cmd);
  return file !== undefined ? { file } : {};
}

/** Loads the config for a command; on ConfigError prints its line and exits 2. */
export async function loadConfigOrExit(cmd: Command): Promise<TrunklineConfig> {
  try {
    return await loadConfig(configOptionsOf(cmd));
  } catch (err) {
    if (err instanceof ConfigError) fail(err.message, EXIT_CONFIG);
    throw err;
  }
}

/** One line on stderr, then exit. */
export function fail(message: string, code: number = EXIT_FAILURE): never {
  process.stderr.write(`${oneLine(message)}\n`);
  process.exit(code);
}

/** An error as one line: its message, line breaks folded. */
export function oneLine(message: string): string {
  return message.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}

export function errorMessage(err: unknown): string {
  return oneLine(err instanceof Error ? err.message : String(err));
}
