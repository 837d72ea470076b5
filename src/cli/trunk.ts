/**
 * `trunkline trunk add NAME --account ACC (--ip CIDR[,CIDR...] | --register
 * USER@DOMAIN) [--transport udp|tcp|tls] [--tls-fingerprint SHA256] [--dest
 * URI] [--cpm N] [--max-calls N] [--media rtp|srtp|any] [--codecs
 * PCMA,PCMU,telephone-event] [--dial-plan NAME] [--force]` / `set NAME [the
 * same options] [--json]` / `rm NAME [--cascade]` / `list [--account ACC]
 * [--json]` / `show NAME [--json]`: a customer's trunks. `set` changes the
 * options given (`none` clears --register, --transport, --tls-fingerprint,
 * --dest, --max-calls, --codecs, --dial-plan). A range holding a carrier gateway's address or
 * every address is refused without --force (src/trunking/ranges.ts).
 */
import type { Command } from 'commander';
import { TrunkRangeError, type Store, type TrunkInput } from '../store/index.js';
import type { Trunk } from '../trunking/model.js';
import {
  checkCidrs,
  checkCodecs,
  checkFingerprint,
  checkMedia,
  checkName,
  checkSipUri,
  checkTransport,
} from '../trunking/validate.js';
import { parseAddress } from '../store/validate.js';
import { withConfigOption } from './common.js';
import { plural, printList, say } from './output.js';
import { trunkJson } from '../store/json.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import {
  intOption,
  listCell,
  listOption,
  orNone,
  printShow,
  registerSet,
  withOptions,
  type OptionSpecs,
} from './trunking-common.js';
import { patchTrunk, type TrunkPatch } from '../api/patch.js';

interface AddOptions {
  json?: boolean;
  account?: string;
  ip?: string;
  register?: string;
  transport?: string;
  tlsFingerprint?: string;
  dest?: string;
  cpm?: string;
  maxCalls?: string;
  media?: string;
  codecs?: string;
  dialPlan?: string;
  force?: boolean;
}

/** The options of add and set. */
const OPTIONS: OptionSpecs = [
  ['--account <acc>', 'the account it belongs to (add: required)'],
  ['--ip <cidrs>', 'the addresses of a static peer: CIDR[,CIDR...] (a bare address is a /32 or /128)'],
  ['--register <user@domain>', 'the subscriber a registering PBX registers as'],
  ['--transport <proto>', 'the only transport it may use: udp, tcp or tls (default: any)'],
  ['--tls-fingerprint <sha256>', 'SHA-256 fingerprint of the client certificate it must present'],
  ['--dest <uri>', 'where inbound calls go (default: the registered contact)'],
  ['--cpm <n>', 'calls per minute (default 200)'],
  ['--max-calls <n>', 'concurrent calls (default: unlimited)'],
  ['--media <mode>', 'rtp, srtp or any (default any: as offered)'],
  ['--codecs <list>', 'allowed codecs in order, e.g. PCMA,PCMU,telephone-event (default: as offered)'],
  ['--dial-plan <name>', 'the dial plan its numbers are read and written by (default: E.164 only)'],
  ['--force', "accept a range holding a carrier gateway's address or every address (the carrier keeps its address)"],
];

const registerOption = (v: string): string => {
  const { username, domain } = parseAddress(v, 'register');
  return `${username}@${domain}`;
};

/** A write that a TrunkRangeError stopped, said with this command's option. */
async function forced<T>(write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (err) {
    if (err instanceof TrunkRangeError) throw new CliError(`ip: ${err.problem}; --force adds it anyway`);
    throw err;
  }
}

/** What show (and set) print: the trunk and its DIDs. */
async function shown(store: Store, t: Trunk): Promise<Record<string, unknown>> {
  const dids = (await store.dids.list({ trunk: t.name })).map((d) => d.number);
  return { ...trunkJson(t), dids };
}

/** The options checked, each error naming its option; the store checks the account exists. */
function trunkInput(name: string, o: AddOptions): TrunkInput {
  const input: TrunkInput = { name: checkName(name, 'name'), account: '' };
  if (o.account === undefined) throw new CliError('account: trunk add needs --account ACC');
  input.account = checkName(o.account, 'account');
  if ((o.ip === undefined) === (o.register === undefined)) {
    throw new CliError(
      'ip: give exactly one of --ip CIDR[,CIDR...] (a static peer) or --register USER@DOMAIN (a registering PBX)',
    );
  }
  if (o.ip !== undefined) input.ip = checkCidrs(listOption(o.ip, 'ip'), 'ip');
  if (o.register !== undefined) input.register = registerOption(o.register);
  input.transport = checkTransport(o.transport, 'transport');
  input.tlsFingerprint = checkFingerprint(o.tlsFingerprint, 'tls-fingerprint');
  if (o.dest !== undefined) input.dest = checkSipUri(o.dest, 'dest');
  const cpm = intOption(o.cpm, 'cpm');
  if (cpm !== undefined) input.cpm = cpm;
  input.maxCalls = intOption(o.maxCalls, 'max-calls') ?? null;
  input.media = checkMedia(o.media, 'media');
  input.codecs = checkCodecs(listOption(o.codecs, 'codecs'), 'codecs');
  if (o.dialPlan !== undefined) input.dialPlan = checkName(o.dialPlan, 'dial-plan');
  return input;
}

/** The options given as a PATCH body; `none` clears a nullable field. */
function trunkPatch(o: AddOptions): TrunkPatch {
  const b: TrunkPatch = {};
  if (o.account !== undefined) b.account = checkName(o.account, 'account');
  if (o.ip !== undefined) b.ip = checkCidrs(listOption(o.ip, 'ip'), 'ip');
  if (o.register !== undefined) b.register = orNone(o.register, registerOption);
  if (o.transport !== undefined) b.transport = orNone(o.transport, (v) => checkTransport(v, 'transport'));
  if (o.tlsFingerprint !== undefined)
    b.tlsFingerprint = orNone(o.tlsFingerprint, (v) => checkFingerprint(v, 'tls-fingerprint'));
  if (o.dest !== undefined) b.dest = orNone(o.dest, (v) => checkSipUri(v, 'dest'));
  if (o.cpm !== undefined) b.cpm = intOption(o.cpm, 'cpm')!;
  if (o.maxCalls !== undefined) b.maxCalls = orNone(o.maxCalls, (v) => intOption(v, 'max-calls')!);
  if (o.media !== undefined) b.media = checkMedia(o.media, 'media');
  if (o.codecs !== undefined) b.codecs = orNone(o.codecs, (v) => checkCodecs(listOption(v, 'codecs'), 'codecs')) ?? [];
  if (o.dialPlan !== undefined) b.dialPlan = orNone(o.dialPlan, (v) => checkName(v, 'dial-plan'));
  if (o.force === true) b.force = true;
  return b;
}

export function registerTrunk(program: Command): void {
  const group = commandGroup(
    program,
    'trunk',
    "a customer's trunks (static IP or registering PBX): add, set, rm, list, show",
  );
  registerAdd(group);
  registerSet(group, {
    noun: 'trunk',
    key: ['<name>', 'the trunk'],
    options: OPTIONS,
    body: trunkPatch,
    apply: async (store, name, b) => shown(store, await forced(() => patchTrunk(store, name, b))),
  });
  registerRm(group);
  registerList(group);
  registerShow(group);
}

function registerAdd(group: Command): void {
  withConfigOption(
    withOptions(
      group
        .command('add')
        .description('add a trunk to an account')
        .argument('<name>', 'the trunk name (letters, digits, . _ -)'),
      OPTIONS,
    ),
  ).action(async (name: string, opts: AddOptions, cmd: Command) => {
    const input = await orFail(() => trunkInput(name, opts));
    await withStore(cmd, async (store) => {
      const t = await forced(() => store.trunks.add(input, { force: opts.force === true }));
      say(`added trunk ${t.name} (account ${t.account})`);
    });
  });
}

function registerRm(group: Command): void {
  withConfigOption(
    group
      .command('rm')
      .description('remove a trunk (refused while it has DIDs, unless --cascade)')
      .argument('<name>', 'the trunk')
      .option('--cascade', 'also remove its DIDs'),
  ).action(async (name: string, opts: { cascade?: boolean }, cmd: Command) => {
    const n = await orFail(() => checkName(name, 'name'));
    await withStore(cmd, async (store) => {
      const r = await store.trunks.rm(n, { cascade: opts.cascade === true });
      say(`removed trunk ${r.name} (account ${r.account})${r.dids > 0 ? ` with ${plural(r.dids, 'DID')}` : ''}`);
    });
  });
}

function registerList(group: Command): void {
  withConfigOption(
    group
      .command('list')
      .description('list the trunks')
      .option('--account <acc>', "only this account's")
      .option('--json', 'print a JSON array'),
  ).action(async (opts: { account?: string; json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const list = await store.trunks.list(opts.account !== undefined ? { account: opts.account } : {});
      printList(list, opts.json, trunkJson, [
        ['name', (t) => t.name],
        ['account', (t) => t.account],
        ['source', (t) => (t.register !== null ? `register ${t.register}` : listCell(t.ip))],
        ['transport', (t) => t.transport ?? 'any'],
        ['dest', (t) => t.dest],
        ['cpm', (t) => t.cpm],
        ['max calls', (t) => t.maxCalls],
        ['media', (t) => t.media],
        ['codecs', (t) => listCell(t.codecs)],
      ]);
    });
  });
}

function registerShow(group: Command): void {
  withConfigOption(
    group
      .command('show')
      .description('show a trunk and its DIDs')
      .argument('<name>', 'the trunk')
      .option('--json', 'print a JSON object'),
  ).action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
    const n = await orFail(() => checkName(name, 'name'));
    await withStore(cmd, async (store) => {
      printShow(await shown(store, await store.trunks.show(n)), opts.json);
    });
  });
}
