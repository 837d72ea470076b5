/**
 * `trunkline did add NUMBER --trunk NAME` / `set NUMBER --trunk NAME
 * [--json]` (moves it) / `rm NUMBER` / `list [--trunk NAME] [--account ACC]
 * [--json]`: E.164 numbers (`+912240001234`) or prefixes (`+9122400012*`)
 * pointed at a trunk, owned by its account.
 */
import type { Command } from 'commander';
import { checkName, parseDid } from '../trunking/validate.js';
import { withConfigOption } from './common.js';
import { isoTime, printList, say } from './output.js';
import { didJson } from '../store/json.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { registerSet } from './trunking-common.js';
import { patchDid, type DidPatch } from '../api/patch.js';

export function registerDid(program: Command): void {
  const group = commandGroup(
    program,
    'did',
    'numbers (E.164, or a prefix ending in *) pointed at a trunk: add, set, rm, list',
  );

  withConfigOption(
    group
      .command('add')
      .description("point a number or a number prefix at a trunk (the trunk's account owns it)")
      .argument('<number>', 'an E.164 number (+912240001234) or a prefix ending in * (+9122400012*)')
      .option('--trunk <name>', 'the trunk (required)'),
  ).action(async (number: string, opts: { trunk?: string }, cmd: Command) => {
    const { n, trunk } = await orFail(() => {
      const parsed = parseDid(number, 'number');
      if (opts.trunk === undefined) throw new CliError('trunk: did add needs --trunk NAME');
      return { n: parsed.number, trunk: checkName(opts.trunk, 'trunk') };
    });
    await withStore(cmd, async (store) => {
      const d = await store.dids.add(n, trunk);
      say(`added DID ${d.number} -> trunk ${d.trunk} (account ${d.account})`);
    });
  });

  registerSet(group, {
    noun: 'DID',
    key: ['<number>', 'the number or prefix, as added'],
    options: [['--trunk <name>', "the trunk it moves to (and so that trunk's account)"]],
    body: (o: { trunk?: string; json?: boolean }): DidPatch =>
      o.trunk === undefined ? {} : { trunk: checkName(o.trunk, 'trunk') },
    apply: async (store, number, b) => didJson(await patchDid(store, number, b)),
  });

  withConfigOption(
    group.command('rm').description('remove a DID').argument('<number>', 'the number or prefix, as added'),
  ).action(async (number: string, _opts: unknown, cmd: Command) => {
    const n = await orFail(() => parseDid(number, 'number').number);
    await withStore(cmd, async (store) => {
      const d = await store.dids.rm(n);
      say(`removed DID ${d.number} (was trunk ${d.trunk})`);
    });
  });

  withConfigOption(
    group
      .command('list')
      .description('list the DIDs')
      .option('--trunk <name>', "only this trunk's")
      .option('--account <acc>', "only this account's")
      .option('--json', 'print a JSON array'),
  ).action(async (opts: { trunk?: string; account?: string; json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const filter: { trunk?: string; account?: string } = {};
      if (opts.trunk !== undefined) filter.trunk = opts.trunk;
      if (opts.account !== undefined) filter.account = opts.account;
      printList(await store.dids.list(filter), opts.json, didJson, [
        ['number', (d) => d.number],
        ['trunk', (d) => d.trunk],
        ['account', (d) => d.account],
        ['created', (d) => isoTime(d.createdAt)],
      ]);
    });
  });
}
