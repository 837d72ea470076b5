/**
 * `trunkline account add NAME [--cpm N] [--max-calls N]` / `rm NAME
 * [--cascade]` / `list [--json]` / `show NAME [--json]`: customers, with
 * limits over all their trunks (none given: unlimited).
 */
import type { Command } from 'commander';
import { checkName } from '../trunking/validate.js';
import { withConfigOption } from './common.js';
import { isoTime, plural, printList, say } from './output.js';
import { accountJson } from '../store/json.js';
import { commandGroup, orFail, withStore } from './store.js';
import { intOption, printShow } from './trunking-common.js';

export function registerAccount(program: Command): void {
  const group = commandGroup(program, 'account', 'customers, with limits over all their trunks: add, rm, list, show');

  withConfigOption(
    group
      .command('add')
      .description('add an account')
      .argument('<name>', 'the account name (letters, digits, . _ -)')
      .option('--cpm <n>', 'calls per minute over all its trunks (default: unlimited)')
      .option('--max-calls <n>', 'concurrent calls over all its trunks (default: unlimited)'),
  ).action(async (name: string, opts: { cpm?: string; maxCalls?: string }, cmd: Command) => {
    const input = await orFail(() => ({
      name: checkName(name, 'name'),
      cpm: intOption(opts.cpm, 'cpm') ?? null,
      maxCalls: intOption(opts.maxCalls, 'max-calls') ?? null,
    }));
    await withStore(cmd, async (store) => {
      const a = await store.accounts.add(input);
      say(`added account ${a.name}`);
    });
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
      const a = await store.accounts.show(n);
      const trunks = (await store.trunks.list({ account: n })).map((t) => t.name);
      const dids = (await store.dids.list({ account: n })).map((d) => d.number);
      printShow({ ...accountJson(a), trunks, dids }, opts.json);
    });
  });
}
