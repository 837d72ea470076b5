/**
 * `trunkline carrier add NAME --gateway URI[,URI...] [--username U
 * --password-stdin] [--register] [--prefix DIGITS] [--no-plus] [--media
 * rtp|srtp|any] [--codecs ...]` / `rm NAME` / `list [--json]` / `show NAME
 * [--json]`: upstream carriers and their gateways, in priority order. The
 * password comes from standard input only and is never printed (list and
 * show say whether there is one). A gateway inside a trunk's range is
 * allowed (the carrier keeps its address: a gateway comes before any trunk
 * range), and said on standard error.
 */
import type { Command } from 'commander';
import type { CarrierInput } from '../store/index.js';
import { checkPassword, checkUsername } from '../store/validate.js';
import { checkCodecs, checkMedia, checkName, checkSipUri, checkTechPrefix } from '../trunking/validate.js';
import { withConfigOption } from './common.js';
import { printList, say } from './output.js';
import { carrierJson } from '../store/json.js';
import { readPasswordFromStdin } from './password.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { listCell, listOption, printShow } from './trunking-common.js';
import { gatewaysInTrunkRanges } from '../trunking/ranges.js';

interface AddOptions {
  gateway?: string;
  username?: string;
  passwordStdin?: boolean;
  register?: boolean;
  prefix?: string;
  plus?: boolean;
  media?: string;
  codecs?: string;
}

/** Everything checked, then the password read from stdin: all before the store opens. */
async function carrierInput(name: string, o: AddOptions): Promise<CarrierInput> {
  const input: CarrierInput = { name: checkName(name, 'name'), gateways: [] };
  if (o.gateway === undefined) throw new CliError('gateway: carrier add needs --gateway URI[,URI...]');
  input.gateways = (listOption(o.gateway, 'gateway') ?? []).map((g) => checkSipUri(g, 'gateway'));
  if (o.username !== undefined) {
    input.username = checkUsername(o.username, 'username');
    if (o.passwordStdin !== true) {
      throw new CliError('password: --username needs --password-stdin (the password is read from standard input)');
    }
  } else if (o.passwordStdin === true) {
    throw new CliError('username: --password-stdin needs --username U');
  }
  if (o.register === true && o.username === undefined) {
    throw new CliError('register: --register needs --username U --password-stdin');
  }
  input.register = o.register === true;
  input.prefix = checkTechPrefix(o.prefix, 'prefix');
  input.plus = o.plus !== false;
  input.media = checkMedia(o.media, 'media');
  input.codecs = checkCodecs(listOption(o.codecs, 'codecs'), 'codecs');
  if (o.username !== undefined) input.password = checkPassword(await readPasswordFromStdin(), 'password');
  return input;
}

export function registerCarrier(program: Command): void {
  const group = commandGroup(program, 'carrier', 'upstream carriers and their gateways: add, rm, list, show');

  withConfigOption(
    group
      .command('add')
      .description('add a carrier; with --username, its password is the first line of standard input')
      .argument('<name>', 'the carrier name (letters, digits, . _ -)')
      .option('--gateway <uris>', 'its gateways, first = highest priority: URI[,URI...] (required)')
      .option('--username <u>', "user name for the carrier's 401/407 challenges")
      .option('--password-stdin', 'read the password from standard input (with --username)')
      .option('--register', 'keep a registration with the carrier (needs the credentials)')
      .option('--prefix <digits>', 'tech prefix put before the dialled number')
      .option('--no-plus', 'send numbers without the + of E.164')
      .option('--media <mode>', 'rtp, srtp or any (default any: as offered)')
      .option('--codecs <list>', 'allowed codecs in order, e.g. PCMA,PCMU,telephone-event (default: as offered)'),
  ).action(async (name: string, opts: AddOptions, cmd: Command) => {
    const input = await orFail(() => carrierInput(name, opts));
    await withStore(cmd, async (store) => {
      const c = await store.carriers.add(input);
      say(`added carrier ${c.name} with ${c.gateways.length === 1 ? '1 gateway' : `${c.gateways.length} gateways`}`);
      for (const o of gatewaysInTrunkRanges(c, await store.trunks.list())) {
        process.stderr.write(
          `note: gateway ${o.gateway} is inside range ${o.cidr} of trunk ${o.trunk}: requests from ${o.address} are carrier ${c.name}'s (a carrier gateway comes before any trunk range)\n`,
        );
      }
    });
  });

  withConfigOption(
    group
      .command('rm')
      .description('remove a carrier and its gateways (refused while a route uses it)')
      .argument('<name>', 'the carrier'),
  ).action(async (name: string, _opts: unknown, cmd: Command) => {
    const n = await orFail(() => checkName(name, 'name'));
    await withStore(cmd, async (store) => {
      const c = await store.carriers.rm(n);
      say(`removed carrier ${c.name} with ${c.gateways.length === 1 ? '1 gateway' : `${c.gateways.length} gateways`}`);
    });
  });

  withConfigOption(
    group
      .command('list')
      .description('list the carriers (never their passwords)')
      .option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      printList(await store.carriers.list(), opts.json, carrierJson, [
        ['name', (c) => c.name],
        ['gateways', (c) => listCell(c.gateways)],
        ['username', (c) => c.username],
        ['register', (c) => (c.register ? 'yes' : 'no')],
        ['prefix', (c) => c.prefix],
        ['plus', (c) => (c.plus ? 'yes' : 'no')],
        ['media', (c) => c.media],
        ['codecs', (c) => listCell(c.codecs)],
      ]);
    });
  });

  withConfigOption(
    group
      .command('show')
      .description('show a carrier (never its password) and the routes that use it')
      .argument('<name>', 'the carrier')
      .option('--json', 'print a JSON object'),
  ).action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
    const n = await orFail(() => checkName(name, 'name'));
    await withStore(cmd, async (store) => {
      const c = await store.carriers.show(n);
      const routes = (await store.routes.list()).filter((r) => r.carriers.includes(n)).map((r) => r.prefix);
      printShow({ ...carrierJson(c), routes }, opts.json);
    });
  });
}
