/**
 * `trunkline domain add DOMAIN` / `rm DOMAIN [--cascade]` / `list [--json]`:
 * the local SIP domains (the registrar's realms).
 */
import type { Command } from 'commander';
import { withConfigOption } from './common.js';
import { isoTime, plural, printList, say } from './output.js';
import { domainJson } from '../store/json.js';
import { commandGroup, withStore } from './store.js';

export function registerDomain(program: Command): void {
  const group = commandGroup(program, 'domain', "local SIP domains (the registrar's realms): add, rm, list");

  withConfigOption(
    group.command('add').description('add a local domain').argument('<domain>', 'host name or IP address'),
  ).action(async (domain: string, _opts: unknown, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const d = await store.domains.add(domain);
      say(`added domain ${d.domain}`);
    });
  });

  withConfigOption(
    group
      .command('rm')
      .description('remove a local domain (refused while it has subscribers, unless --cascade)')
      .argument('<domain>', 'the domain')
      .option('--cascade', 'also remove its subscribers, their aliases and registrations'),
  ).action(async (domain: string, opts: { cascade?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const r = await store.domains.rm(domain, { cascade: opts.cascade === true });
      const extra =
        r.subscribers > 0
          ? ` with ${plural(r.subscribers, 'subscriber')}, ${plural(r.aliases, 'alias', 'aliases')}, ${plural(r.bindings, 'binding')}`
          : '';
      say(`removed domain ${r.domain}${extra}`);
    });
  });

  withConfigOption(
    group.command('list').description('list the local domains').option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      printList(await store.domains.list(), opts.json, domainJson, [
        ['domain', (d) => d.domain],
        ['created', (d) => isoTime(d.createdAt)],
      ]);
    });
  });
}
