/**
 * `trunkline ban add IP [--for SECONDS] [--reason TEXT]` / `rm IP` /
 * `list [--json]`: addresses the server drops before parsing. The server's
 * own bans (flood, brute force) are listed too; a running server applies a
 * change within 2 seconds and logs a ban lifted by hand.
 */
import type { Command } from 'commander';
import { fail, withConfigOption } from './common.js';
import { isoTime, printList, say } from './output.js';
import { commandGroup, withStore } from './store.js';
import type { BanRow } from '../store/repos/bans.js';
import { banJson } from '../store/json.js';

/** The shared view, but `ban list --json` has always called `expiresAt` `expires`, and keeps its name. */
function banListJson(b: BanRow): Record<string, unknown> {
  const { ip, reason, source, expiresAt, createdAt } = banJson(b);
  return { ip, reason, source, expires: expiresAt, createdAt };
}

function parseSeconds(v: string): number {
  if (!/^\d{1,9}$/.test(v) || Number(v) === 0)
    fail(`--for: expected a positive number of seconds, got ${JSON.stringify(v)}`);
  return Number(v);
}

export function registerBan(program: Command): void {
  const group = commandGroup(
    program,
    'ban',
    'banned source addresses (dropped unanswered before parsing): add, rm, list',
  );
  group.addHelpText(
    'after',
    [
      '',
      'The server bans by itself too (a flood: over security.flood.density requests in',
      'security.flood.unit seconds; brute force: security.bruteForce.threshold failed',
      'authentications); those bans are listed here with their source and end. Trusted',
      "addresses (security.trusted, the server's own) are listed but never enforced.",
      'A running server applies a change within 2 seconds and logs a ban lifted by hand.',
    ].join('\n'),
  );

  withConfigOption(
    group
      .command('add')
      .description(
        'ban an IP address (until lifted, or for --for SECONDS); a trusted address is listed but never enforced',
      )
      .argument('<ip>', 'IPv4 or IPv6 address')
      .option('--for <seconds>', 'ban for this many seconds (default: until `ban rm`)')
      .option('--reason <text>', 'why (shown by list)'),
  ).action(async (ip: string, opts: { for?: string; reason?: string }, cmd: Command) => {
    const seconds = opts.for === undefined ? null : parseSeconds(opts.for);
    await withStore(cmd, async (store) => {
      const { BanRepo } = await import('../store/repos/bans.js');
      const b = await new BanRepo(store.ctx).add(ip, {
        seconds,
        reason: opts.reason ?? 'banned by hand',
        source: 'manual',
      });
      say(`banned ${b.ip}${b.expiresAt === null ? '' : ` until ${isoTime(b.expiresAt)}`}`);
    });
  });

  withConfigOption(group.command('rm').description('lift a ban').argument('<ip>', 'the banned address')).action(
    async (ip: string, _opts: unknown, cmd: Command) => {
      await withStore(cmd, async (store) => {
        const { BanRepo } = await import('../store/repos/bans.js');
        const b = await new BanRepo(store.ctx).rm(ip);
        say(`lifted the ban of ${b.ip}`);
      });
    },
  );

  withConfigOption(
    group.command('list').description('list the active bans').option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const { BanRepo } = await import('../store/repos/bans.js');
      printList(await new BanRepo(store.ctx).list(), opts.json, banListJson, [
        ['ip', (b) => b.ip],
        ['source', (b) => b.source],
        ['expires', (b) => (b.expiresAt === null ? 'never' : isoTime(b.expiresAt))],
        ['reason', (b) => b.reason],
      ]);
    });
  });
}
