/**
 * `trunkline carrier add NAME --gateway URI[,URI...] [--username U
 * --password-stdin] [--register] [--prefix DIGITS] [--no-plus] [--media
 * rtp|srtp|any] [--codecs ...] [--dial-plan NAME]` / `set NAME [--gateway
 * ...] [--username U|none] [--password-stdin] [--register|--no-register]
 * [--prefix DIGITS|none] [--plus|--no-plus] [--media ...] [--codecs
 * ...|none] [--dial-plan NAME|none] [--json]` / `rm NAME` / `list [--json]` / `show NAME [--json]`: upstream
 * carriers and their gateways, in priority order. The password comes from
 * standard input only and is never printed (list and show say whether
 * there is one; `set` keeps it while the username stays). A gateway inside
 * a trunk's range is allowed (the carrier keeps its address: a gateway
 * comes before any trunk range), and said on standard error.
 */
import type { Command } from 'commander';
import type { CarrierInfo, CarrierInput, Store } from '../store/index.js';
import { checkPassword, checkUsername } from '../store/validate.js';
import { checkCodecs, checkMedia, checkName, checkSipUri, checkTechPrefix } from '../trunking/validate.js';
import { withConfigOption } from './common.js';
import { printList, say } from './output.js';
import { carrierJson } from '../store/json.js';
import { readPasswordFromStdin } from './password.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import {
  listCell,
  listOption,
  orNone,
  printShow,
  registerSet,
  withOptions,
  type OptionSpecs,
} from './trunking-common.js';
import { patchCarrier, type CarrierPatch } from '../api/patch.js';
import { gatewaysInTrunkRanges } from '../trunking/ranges.js';

interface AddOptions {
  json?: boolean;
  gateway?: string;
  username?: string;
  passwordStdin?: boolean;
  register?: boolean;
  prefix?: string;
  plus?: boolean;
  media?: string;
  codecs?: string;
  dialPlan?: string;
}

/** The options of add and set (add has --register and --no-plus; set both forms of each). */
const OPTIONS: OptionSpecs = [
  ['--gateway <uris>', 'its gateways, first = highest priority: URI[,URI...] (add: required)'],
  ['--username <u>', "user name for the carrier's 401/407 challenges"],
  ['--password-stdin', 'read the password from standard input (with --username)'],
  ['--prefix <digits>', 'tech prefix put before the dialled number'],
  ['--media <mode>', 'rtp, srtp or any (default any: as offered)'],
  ['--codecs <list>', 'allowed codecs in order, e.g. PCMA,PCMU,telephone-event (default: as offered)'],
  ['--dial-plan <name>', 'the dial plan its numbers are read and written by (default: E.164, --no-plus without +)'],
];
const REGISTER: OptionSpecs[number] = ['--register', 'keep a registration with the carrier (needs the credentials)'];
const NO_PLUS: OptionSpecs[number] = ['--no-plus', 'send numbers without the + of E.164'];

const gatewaysOption = (v: string): string[] => (listOption(v, 'gateway') ?? []).map((g) => checkSipUri(g, 'gateway'));
const codecsOption = (v: string): string[] => checkCodecs(listOption(v, 'codecs'), 'codecs');

/** What show (and set) print: the carrier (never its password) and the routes that use it. */
async function shown(store: Store, c: CarrierInfo): Promise<Record<string, unknown>> {
  const routes = (await store.routes.list()).filter((r) => r.carriers.includes(c.name)).map((r) => r.prefix);
  return { ...carrierJson(c), routes };
}

/** A gateway inside a trunk range: allowed, said on standard error. */
async function noteGatewaysInRanges(store: Store, c: CarrierInfo): Promise<void> {
  for (const o of gatewaysInTrunkRanges(c, await store.trunks.list())) {
    process.stderr.write(
      `note: gateway ${o.gateway} is inside range ${o.cidr} of trunk ${o.trunk}: requests from ${o.address} are carrier ${c.name}'s (a carrier gateway comes before any trunk range)\n`,
    );
  }
}

/** The options given as a PATCH body, the password read last; `none` clears the username (and so the password) or the prefix. */
async function carrierPatch(o: AddOptions): Promise<CarrierPatch> {
  const b: CarrierPatch = {};
  if (o.gateway !== undefined) b.gateways = gatewaysOption(o.gateway);
  if (o.username !== undefined) {
    b.username = orNone(o.username, (v) => checkUsername(v, 'username'));
    if (b.username !== null && o.passwordStdin !== true)
      throw new CliError('password: --username needs --password-stdin (the password is read from standard input)');
    if (b.username === null && o.passwordStdin === true)
      throw new CliError('password: --username none drops the credentials; --password-stdin goes with a user name');
  }
  if (o.register !== undefined) b.register = o.register;
  if (o.prefix !== undefined) b.prefix = orNone(o.prefix, (v) => checkTechPrefix(v, 'prefix'));
  if (o.plus !== undefined) b.plus = o.plus;
  if (o.media !== undefined) b.media = checkMedia(o.media, 'media');
  if (o.codecs !== undefined) b.codecs = orNone(o.codecs, codecsOption) ?? [];
  if (o.dialPlan !== undefined) b.dialPlan = orNone(o.dialPlan, (v) => checkName(v, 'dial-plan'));
  if (o.passwordStdin === true) b.password = checkPassword(await readPasswordFromStdin(), 'password');
  return b;
}

/** Everything checked, then the password read from stdin: all before the store opens. */
async function carrierInput(name: string, o: AddOptions): Promise<CarrierInput> {
  const input: CarrierInput = { name: checkName(name, 'name'), gateways: [] };
  if (o.gateway === undefined) throw new CliError('gateway: carrier add needs --gateway URI[,URI...]');
  input.gateways = gatewaysOption(o.gateway);
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
  input.codecs = o.codecs === undefined ? [] : codecsOption(o.codecs);
  if (o.dialPlan !== undefined) input.dialPlan = checkName(o.dialPlan, 'dial-plan');
  if (o.username !== undefined) input.password = checkPassword(await readPasswordFromStdin(), 'password');
  return input;
}

export function registerCarrier(program: Command): void {
  const group = commandGroup(program, 'carrier', 'upstream carriers and their gateways: add, set, rm, list, show');

  withConfigOption(
    withOptions(
      group
        .command('add')
        .description('add a carrier; with --username, its password is the first line of standard input')
        .argument('<name>', 'the carrier name (letters, digits, . _ -)'),
      [...OPTIONS, REGISTER, NO_PLUS],
    ),
  ).action(async (name: string, opts: AddOptions, cmd: Command) => {
    const input = await orFail(() => carrierInput(name, opts));
    await withStore(cmd, async (store) => {
      const c = await store.carriers.add(input);
      say(`added carrier ${c.name} with ${c.gateways.length === 1 ? '1 gateway' : `${c.gateways.length} gateways`}`);
      await noteGatewaysInRanges(store, c);
    });
  });

  registerSet(group, {
    noun: 'carrier',
    key: ['<name>', 'the carrier'],
    options: [
      ...OPTIONS,
      REGISTER,
      ['--no-register', 'stop registering with the carrier'],
      ['--plus', 'send numbers E.164 with +'],
      NO_PLUS,
    ],
    body: carrierPatch,
    apply: async (store, name, b) => {
      const c = await patchCarrier(store, name, b);
      if (b.gateways !== undefined) await noteGatewaysInRanges(store, c);
      return shown(store, c);
    },
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
      printShow(await shown(store, await store.carriers.show(n)), opts.json);
    });
  });
}
