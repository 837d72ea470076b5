/**
 * `trunkline token add NAME --role admin|read` / `rm NAME` / `list [--json]`:
 * the HTTP API's bearer tokens. `add` prints the token once, on its own line
 * on stdout (the store keeps only its SHA-256); a note goes to stderr so
 * that `TOKEN=$(trunkline token add ci --role read)` captures the token alone.
 */
import type { Command } from 'commander';
import { TokenRepo, checkTokenName, checkTokenRole } from '../store/repos/tokens.js';
import { withConfigOption } from './common.js';
import { isoTime, printList, say } from './output.js';
import { tokenJson } from '../store/json.js';
import { commandGroup, orFail, withStore } from './store.js';

export function registerToken(program: Command): void {
  const group = commandGroup(
    program,
    'token',
    'HTTP API tokens (admin reads and writes, read only reads): add, rm, list',
  );

  withConfigOption(
    group
      .command('add')
      .description('make a token and print it once (the store keeps only its hash)')
      .argument('<name>', 'a name for the token (who or what uses it)')
      .requiredOption('--role <role>', 'admin|read'),
  ).action(async (name: string, opts: { role: string }, cmd: Command) => {
    const checked = await orFail(() => ({ name: checkTokenName(name), role: checkTokenRole(opts.role) }));
    await withStore(cmd, async (store) => {
      const t = await new TokenRepo(store.ctx).add(checked.name, checked.role);
      process.stderr.write(`added ${t.role} token ${t.name}; it is shown this once:\n`);
      say(t.token);
    });
  });

  withConfigOption(
    group
      .command('rm')
      .description('remove a token (requests with it are refused at once)')
      .argument('<name>', 'the token name'),
  ).action(async (name: string, _opts: unknown, cmd: Command) => {
    const n = await orFail(() => checkTokenName(name));
    await withStore(cmd, async (store) => {
      const t = await new TokenRepo(store.ctx).rm(n);
      say(`removed ${t.role} token ${t.name}`);
    });
  });

  withConfigOption(
    group
      .command('list')
      .description('list the tokens (names and roles, never the tokens)')
      .option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      printList(await new TokenRepo(store.ctx).list(), opts.json, tokenJson, [
        ['name', (t) => t.name],
        ['role', (t) => t.role],
        ['created', (t) => isoTime(t.createdAt)],
        ['last used', (t) => (t.lastUsedAt === null ? null : isoTime(t.lastUsedAt))],
      ]);
    });
  });
}
