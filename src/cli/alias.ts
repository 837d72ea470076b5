/**
 * `trunkline alias add ALIAS USER@DOMAIN` / `rm ALIAS` / `list [--json]`:
 * numbers or names that reach a subscriber. ALIAS is an E.164 number
 * (`+912240001234`), a prefix ending in `*` (`+9122400012*`), or a name.
 */
import type { Command } from 'commander';
import { parseAddress, parseAlias } from '../store/validate.js';
import { withConfigOption } from './common.js';
import { isoTime, printList, say } from './output.js';
import { aliasJson } from '../store/json.js';
import { commandGroup, orFail, withStore } from './store.js';

export function registerAlias(program: Command): void {
  const group = commandGroup(program, 'alias', 'numbers or names that reach a subscriber: add, rm, list');

  withConfigOption(
    group
      .command('add')
      .description('point a number, a number prefix or a name at a subscriber')
      .argument('<alias>', 'an E.164 number (+912240001234), a prefix ending in * (+9122400012*), or a name')
      .argument('<user@domain>', 'the subscriber it reaches'),
  ).action(async (alias: string, address: string, _opts: unknown, cmd: Command) => {
    const { a, username, domain } = await orFail(() => {
      const parsed = parseAlias(alias);
      return { a: parsed.alias, ...parseAddress(address, 'subscriber') };
    });
    await withStore(cmd, async (store) => {
      const r = await store.aliases.add(a, username, domain);
      say(`added alias ${r.alias} -> ${r.username}@${r.domain}`);
    });
  });

  withConfigOption(
    group.command('rm').description('remove an alias').argument('<alias>', 'the alias, as added'),
  ).action(async (alias: string, _opts: unknown, cmd: Command) => {
    const a = await orFail(() => parseAlias(alias).alias);
    await withStore(cmd, async (store) => {
      const r = await store.aliases.rm(a);
      say(`removed alias ${r.alias} (was ${r.username}@${r.domain})`);
    });
  });

  withConfigOption(group.command('list').description('list the aliases').option('--json', 'print a JSON array')).action(
    async (opts: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        printList(await store.aliases.list(), opts.json, aliasJson, [
          ['alias', (a) => a.alias],
          ['subscriber', (a) => `${a.username}@${a.domain}`],
          ['created', (a) => isoTime(a.createdAt)],
        ]);
      });
    },
  );
}
