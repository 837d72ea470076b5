#!/usr/bin/env node
/**
 * The `trunkline` command. Each command group lives in its own module and
 * registers itself here; they share --config handling from common.ts.
 */
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { CONFIG_OPTION_FLAGS, CONFIG_OPTION_HELP, EXIT_FAILURE, errorMessage } from './common.js';
import { registerServe } from './serve.js';
import { registerDomain } from './domain.js';
import { registerSubscriber } from './subscriber.js';
import { registerAlias } from './alias.js';
import { registerLocation } from './location.js';
import { registerCalls } from './calls.js';
import { registerQuality } from './quality.js';
import { registerDrain } from './drain.js';
import { registerCluster } from './cluster.js';
import { registerTrace } from './trace.js';
import { registerAccount } from './account.js';
import { registerTrunk } from './trunk.js';
import { registerDid } from './did.js';
import { registerCarrier } from './carrier.js';
import { registerDialPlan } from './dialplan.js';
import { registerRoute } from './route.js';
import { registerRate } from './rate.js';
import { registerPrice } from './price.js';
import { registerCdr } from './cdr.js';
import { registerToken } from './token.js';
import { registerReload } from './reload.js';
import { registerBan } from './ban.js';
import { registerAcl } from './acl.js';
import { registerBlocklist } from './blocklist.js';
import { packageVersion } from '../api/version.js';

export function buildProgram(): Command {
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
  registerServe(program, version);
  registerDomain(program);
  registerSubscriber(program);
  registerAlias(program);
  registerLocation(program);
  registerCalls(program);
  registerQuality(program);
  registerDrain(program);
  registerCluster(program);
  registerTrace(program);
  registerAccount(program);
  registerTrunk(program);
  registerDid(program);
  registerCarrier(program);
  registerDialPlan(program);
  registerRoute(program);
  registerRate(program);
  registerPrice(program);
  registerCdr(program);
  registerToken(program);
  registerReload(program);
  registerBan(program);
  registerAcl(program);
  registerBlocklist(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<void> {
  const program = buildProgram();
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
