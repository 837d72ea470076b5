#!/usr/bin/env node
/**
 * The `trunkline` command. Each command group lives in its own module and
 * registers itself here; they share --config handling from common.ts.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { CONFIG_OPTION_FLAGS, CONFIG_OPTION_HELP, EXIT_FAILURE, errorMessage } from './common.js';
import { packageVersion } from '../api/version.js';

type Register = (program: Command, version: string) => void;

/**
 * The command groups by their name on the command line, each loaded when
 * it is used: a command loads its own group's modules (and the store or
 * server code it needs), not those of the 23 others, which took most of
 * a CLI command's start-up.
 */
const GROUPS: Record<string, () => Promise<Register>> = {
  serve: async () => (await import('./serve.js')).registerServe,
  domain: async () => (await import('./domain.js')).registerDomain,
  subscriber: async () => (await import('./subscriber.js')).registerSubscriber,
  alias: async () => (await import('./alias.js')).registerAlias,
  location: async () => (await import('./location.js')).registerLocation,
  calls: async () => (await import('./calls.js')).registerCalls,
  quality: async () => (await import('./quality.js')).registerQuality,
  drain: async () => (await import('./drain.js')).registerDrain,
  cluster: async () => (await import('./cluster.js')).registerCluster,
  trace: async () => (await import('./trace.js')).registerTrace,
  account: async () => (await import('./account.js')).registerAccount,
  trunk: async () => (await import('./trunk.js')).registerTrunk,
  did: async () => (await import('./did.js')).registerDid,
  carrier: async () => (await import('./carrier.js')).registerCarrier,
  dialplan: async () => (await import('./dialplan.js')).registerDialPlan,
  route: async () => (await import('./route.js')).registerRoute,
  rate: async () => (await import('./rate.js')).registerRate,
  price: async () => (await import('./price.js')).registerPrice,
  cdr: async () => (await import('./cdr.js')).registerCdr,
  token: async () => (await import('./token.js')).registerToken,
  reload: async () => (await import('./reload.js')).registerReload,
  ban: async () => (await import('./ban.js')).registerBan,
  acl: async () => (await import('./acl.js')).registerAcl,
  blocklist: async () => (await import('./blocklist.js')).registerBlocklist,
};

/** The program with every command group, or with `only` that one (a name of GROUPS). */
export async function buildProgram(only?: string): Promise<Command> {
  const version = packageVersion();
  const program = new Command('trunkline')
    .description('Trunkline: SIP trunking edge server (proxy, registrar, B2BUA, media relay, security gateway)')
    .version(version, '-V, --version', 'print the version')
    .option(CONFIG_OPTION_FLAGS, CONFIG_OPTION_HELP)
    // Before the subcommands are added, so that they inherit it: main() decides the exit code.
    .exitOverride()
    .configureOutput({
      // Commander's error lines already start "error:"; keep them to one line.
      outputError: (str, write) => write(str.replace(/\n(?=.)/g, ' ')),
    });
  const names = only !== undefined && only in GROUPS ? [only] : Object.keys(GROUPS);
  const registers = await Promise.all(names.map((n) => GROUPS[n]!()));
  for (const register of registers) register(program, version);
  return program;
}

/** The command group an argument list names: its first word that is not an option (or --config's value). */
export function commandWord(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (a === '-c' || a === '--config') {
      i++;
      continue;
    }
    if (!a.startsWith('-')) return a;
  }
  return undefined;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = await buildProgram(commandWord(argv.slice(2)));
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here with code 0; usage errors are already printed.
      process.exit(err.exitCode === 0 ? 0 : 2);
    }
    process.stderr.write(`trunkline: ${errorMessage(err)}\n`);
    process.exit(EXIT_FAILURE);
  }
}

/** Run when executed (also through the npm bin symlink), not when imported by a test. */
function isEntryPoint(): boolean {
  const entry = process.argv[1];
  if (entry === undefined) return false;
  try {
    return realpathSync(entry) === realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false; // argv[1] is no file (node -e, a REPL): not this entry point
  }
}

if (isEntryPoint()) await main();
