/**
 * `trunkline account add NAME [--cpm N] [--max-calls N] [--sell-below-cost
 * yes|no]` / `set NAME [--cpm N|none] [--max-calls N|none]
 * [--sell-below-cost yes|no] [--json]` / `rm NAME [--cascade]` / `list
 * [--json]` / `show NAME [--json]`: customers, with limits over all their
 * trunks (none given: unlimited).
 */
import type { Command } from 'commander';
import { checkName } from '../trunking/validate.js';
import { withConfigOption } from './common.js';
import { isoTime, plural, printList, say } from './output.js';
import { accountJson } from '../store/json.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { intOption, orNone, printShow, registerSet, withOptions, type OptionSpecs } from './trunking-common.js';
import { patchAccount, type AccountPatch } from '../api/patch.js';
import type { Store } from '../store/index.js';
import type { Account } from '../trunking/model.js';

/** The options of add and set. */
const OPTIONS: OptionSpecs = [
  ['--cpm <n>', 'calls per minute over all its trunks (default: unlimited)'],
  ['--max-calls <n>', 'concurrent calls over all its trunks (default: unlimited)'],
  ['--sell-below-cost <yes|no>', 'let calls through that cost more than its price (default no: refused 403)'],
];

/** `--sell-below-cost yes|no`. */
function yesNo(v: string | undefined): boolean | undefined {
  if (v === undefined) return undefined;
  if (v === 'yes' || v === 'true') return true;
  if (v === 'no' || v === 'false') return false;
  throw new CliError(`sell-below-cost: expected yes or no, got ${JSON.stringify(v)}`);
}

/** What show (and set) print: the account, its trunks and DIDs. */
async function shown(store: Store, a: Account): Promise<Record<string, unknown>> {
  const trunks = (await store.trunks.list({ account: a.name })).map((t) => t.name);
  const dids = (await store.dids.list({ account: a.name })).map((d) => d.number);
  return { ...accountJson(a), trunks, dids };
}

/** The options given as a PATCH body; `none` clears a limit. */
function accountPatch(o: { cpm?: string; maxCalls?: string; sellBelowCost?: string; json?: boolean }): AccountPatch {
  const b: AccountPatch = {};
  if (o.cpm !== undefined) b.cpm = orNone(o.cpm, (v) => intOption(v, 'cpm')!);
  if (o.maxCalls !== undefined) b.maxCalls = orNone(o.maxCalls, (v) => intOption(v, 'max-calls')!);
  const sell = yesNo(o.sellBelowCost);
  if (sell !== undefined) b.sellBelowCost = sell;
  return b;
}

export function registerAccount(program: Command): void {
  const group = commandGroup(
    program,
    'account',
    'customers, with limits over all their trunks: add, set, rm, list, show',
  );

  withConfigOption(
    withOptions(
      group
        .command('add')
        .description('add an account')
        .argument('<name>', 'the account name (letters, digits, . _ -)'),
      OPTIONS,
    ),
  ).action(async (name: string, opts: { cpm?: string; maxCalls?: string; sellBelowCost?: string }, cmd: Command) => {
    const input = await orFail(() => ({
      name: checkName(name, 'name'),
      cpm: intOption(opts.cpm, 'cpm') ?? null,
      maxCalls: intOption(opts.maxCalls, 'max-calls') ?? null,
      sellBelowCost: yesNo(opts.sellBelowCost) ?? false,
    }));
    await withStore(cmd, async (store) => {
      const a = await store.accounts.add(input);
      say(`added account ${a.name}`);
    });
  });

  registerSet(group, {
    noun: 'account',
    key: ['<name>', 'the account'],
    options: OPTIONS,
    body: accountPatch,
    apply: async (store, name, b) => shown(store, await patchAccount(store, name, b)),
  });

  withConfigOption(
    group
      .command('rm')
      .description('remove an account (refused while it has trunks, unless --cascade)')
      .argument('<name>', 'the account')
      .option('--cascade', 'also remove its trunks and their DIDs'),
  ).action(async (name: string, opts: { cascade?: boolean }, cmd: Command) => {
    const n = await orFail(() => checkName(name, 'name'));
    await withStore(cmd, async (store) => {
      const r = await store.accounts.rm(n, { cascade: opts.cascade === true });
      const extra = r.trunks > 0 ? ` with ${plural(r.trunks, 'trunk')}, ${plural(r.dids, 'DID')}` : '';
      say(`removed account ${r.name}${extra}`);
    });
  });

  withConfigOption(
    group.command('list').description('list the accounts').option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      printList(await store.accounts.list(), opts.json, accountJson, [
        ['name', (a) => a.name],
        ['cpm', (a) => a.cpm],
        ['max calls', (a) => a.maxCalls],
        ['created', (a) => isoTime(a.createdAt)],
      ]);
    });
  });

  withConfigOption(
    group
      .command('show')
      .description('show an account and its trunks')
      .argument('<name>', 'the account')
      .option('--json', 'print a JSON object'),
  ).action(async (name: string, opts: { json?: boolean }, cmd: Command) => {
    const n = await orFail(() => checkName(name, 'name'));
    await withStore(cmd, async (store) => {
      printShow(await shown(store, await store.accounts.show(n)), opts.json);
    });
  });
}
