/**
 * `trunkline blocklist add KIND VALUE [--white]` / `rm KIND VALUE [--white]`
 * / `list [--json]`: black- and whitelists (after Kamailio's secfilter).
 * Kinds: ua (User-Agent substring), ip (IP or CIDR), domain (a host and its
 * subdomains, in From/To/Request-URI), user (a user part, exact), dest (a
 * dialled prefix, e.g. +1900). A blacklist hit is refused with 403; a
 * whitelisted value of a kind overrides that kind's blacklist, and a
 * whitelisted IP skips every list. A running server applies a change within 2 s.
 */
import type { Command } from 'commander';
import { withConfigOption } from './common.js';
import { isoTime, printList, say } from './output.js';
import { commandGroup, withStore } from './store.js';
import type { ListRow } from '../store/repos/lists.js';

export function listJson(l: ListRow): Record<string, unknown> {
  return { list: l.list, kind: l.kind, value: l.value, createdAt: isoTime(l.createdAt) };
}

const KINDS_HELP = 'ua, ip, domain, user or dest';

export function registerBlocklist(program: Command): void {
  const group = commandGroup(
    program,
    'blocklist',
    'black- and whitelists of user agents, IPs, domains, users and dialled prefixes: add, rm, list',
  );
  group.addHelpText(
    'after',
    [
      '',
      'Kinds: ua (User-Agent substring, any case), ip (IP or CIDR of the source), domain (a host',
      '  and its subdomains in From/To/Request-URI), user (a user part, exact), dest (a dialled',
      '  prefix of the Request-URI user or tel: number, e.g. +1900).',
      "A blacklist hit is refused with 403. A whitelisted value overrides its kind's blacklist",
      '(dest: the longer prefix wins); a whitelisted IP skips every list. User parts and display',
      'names that look like SQL injection are refused too (security.lists.sqlInjection).',
      'Example: trunkline blocklist add dest +1900; trunkline blocklist add dest +1900555 --white',
      'A running server applies a change within 2 seconds.',
    ].join('\n'),
  );

  withConfigOption(
    group
      .command('add')
      .description('add a value to the blacklist (or with --white to the whitelist)')
      .argument('<kind>', KINDS_HELP)
      .argument('<value>', 'the value (ua: a substring; ip: IP or CIDR; dest: a prefix like +1900)')
      .option('--white', 'add to the whitelist instead'),
  ).action(async (kind: string, value: string, opts: { white?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const { ListRepo } = await import('../store/repos/lists.js');
      const r = await new ListRepo(store.ctx).add(opts.white === true ? 'white' : 'black', kind, value);
      say(`added ${r.kind} ${r.value} to the ${r.list}list`);
    });
  });

  withConfigOption(
    group
      .command('rm')
      .description('remove a value from the blacklist (or with --white from the whitelist)')
      .argument('<kind>', KINDS_HELP)
      .argument('<value>', 'the value as added')
      .option('--white', 'remove from the whitelist instead'),
  ).action(async (kind: string, value: string, opts: { white?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const { ListRepo } = await import('../store/repos/lists.js');
      const list = opts.white === true ? 'white' : 'black';
      await new ListRepo(store.ctx).rm(list, kind, value);
      say(`removed ${kind.toLowerCase()} ${value} from the ${list}list`);
    });
  });

  withConfigOption(group.command('list').description('list both lists').option('--json', 'print a JSON array')).action(
    async (opts: { json?: boolean }, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const { ListRepo } = await import('../store/repos/lists.js');
        printList(await new ListRepo(store.ctx).list(), opts.json, listJson, [
          ['list', (l) => l.list],
          ['kind', (l) => l.kind],
          ['value', (l) => l.value],
        ]);
      });
    },
  );
}
