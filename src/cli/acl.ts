/**
 * `trunkline acl add GROUP (--allow|--deny) CIDR[,CIDR...] [--method M]
 * [--direction any|inbound|outbound]` / `rm GROUP [CIDR]` / `list [--json]`:
 * IP/CIDR access lists. For a request's method (and direction, once the
 * trunking stage knows it): a deny entry containing the source refuses it
 * (403); where allow entries apply, the source must be in one (403
 * otherwise); else it passes. A running server applies a change within 2 s.
 */
import type { Command } from 'commander';
import { fail, withConfigOption } from './common.js';
import { isoTime, plural, printList, say } from './output.js';
import { commandGroup, withStore } from './store.js';
import type { AclDirection, AclRow } from '../store/repos/acl.js';

export function aclJson(a: AclRow): Record<string, unknown> {
  return {
    group: a.group,
    action: a.action,
    cidr: a.cidr,
    method: a.method,
    direction: a.direction,
    createdAt: isoTime(a.createdAt),
  };
}

const DIRECTIONS: readonly AclDirection[] = ['any', 'inbound', 'outbound'];

export function registerAcl(program: Command): void {
  const group = commandGroup(
    program,
    'acl',
    'IP/CIDR access lists (allow and deny address groups per method and direction): add, rm, list',
  );
  group.addHelpText(
    'after',
    [
      '',
      'How a request is judged, over the entries for its method (or *) and direction:',
      '  a deny entry containing the source: 403; else, where allow entries apply, the',
      '  source must be in one of them (403 otherwise); else it passes. Entries with a',
      '  direction apply once the trunking stage knows it (inbound: carrier to customer).',
      'Example: only carrier gateways may send inbound calls:',
      '  trunkline acl add carriers --allow 198.51.100.0/24 --method INVITE --direction inbound',
      'A running server applies a change within 2 seconds.',
    ].join('\n'),
  );
  registerAclAdd(group);
  registerAclRm(group);
  registerAclList(group);
}

/** `acl add GROUP (--allow|--deny) CIDRS [--method M] [--direction D]`. */
function registerAclAdd(group: Command): void {
  withConfigOption(
    group
      .command('add')
      .description('add entries to an address group: --allow or --deny, one or more CIDR blocks')
      .argument('<group>', 'the group name (letters, digits, . _ -)')
      .option('--allow <cidrs>', 'allow these IP/CIDR blocks (comma-separated)')
      .option('--deny <cidrs>', 'deny these IP/CIDR blocks (comma-separated)')
      .option('--method <method>', 'only for this SIP method (default: every method, *)')
      .option('--direction <direction>', 'any (default), inbound (carrier to customer) or outbound (trunk to PSTN)'),
  ).action(
    async (
      name: string,
      opts: { allow?: string; deny?: string; method?: string; direction?: string },
      cmd: Command,
    ) => {
      if ((opts.allow === undefined) === (opts.deny === undefined))
        fail('acl add: give exactly one of --allow or --deny');
      const direction = (opts.direction ?? 'any').toLowerCase() as AclDirection;
      if (!DIRECTIONS.includes(direction))
        fail(`--direction: expected any, inbound or outbound, got ${JSON.stringify(opts.direction)}`);
      const action = opts.allow !== undefined ? 'allow' : 'deny';
      const cidrs = (opts.allow ?? opts.deny!)
        .split(',')
        .map((c) => c.trim())
        .filter((c) => c !== '');
      if (cidrs.length === 0) fail(`--${action}: expected an IP or CIDR block`);
      await withStore(cmd, async (store) => {
        const { AclRepo } = await import('../store/repos/acl.js');
        const repo = new AclRepo(store.ctx);
        for (const cidr of cidrs) {
          const a = await repo.add({
            group: name,
            action,
            cidr,
            ...(opts.method !== undefined ? { method: opts.method } : {}),
            direction,
          });
          say(`acl ${a.group}: ${a.action} ${a.cidr} method ${a.method} direction ${a.direction}`);
        }
      });
    },
  );
}

/** `acl rm GROUP [CIDR]`. */
function registerAclRm(group: Command): void {
  withConfigOption(
    group
      .command('rm')
      .description('remove an address group, or one CIDR block of it')
      .argument('<group>', 'the group')
      .argument('[cidr]', 'only this block'),
  ).action(async (name: string, cidr: string | undefined, _opts: unknown, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const { AclRepo } = await import('../store/repos/acl.js');
      const n = await new AclRepo(store.ctx).rm(name, cidr);
      say(`removed ${plural(n, 'entry', 'entries')} of acl ${name}`);
    });
  });
}

/** `acl list [--json]`. */
function registerAclList(group: Command): void {
  withConfigOption(
    group.command('list').description('list the access-list entries').option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const { AclRepo } = await import('../store/repos/acl.js');
      printList(await new AclRepo(store.ctx).list(), opts.json, aclJson, [
        ['group', (a) => a.group],
        ['action', (a) => a.action],
        ['cidr', (a) => a.cidr],
        ['method', (a) => a.method],
        ['direction', (a) => a.direction],
      ]);
    });
  });
}
