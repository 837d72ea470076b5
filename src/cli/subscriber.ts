/**
 * `trunkline subscriber add USER@DOMAIN --password-stdin` / `passwd
 * USER@DOMAIN --password-stdin` / `set USER@DOMAIN [--password-stdin]
 * [--json]` (the API's PATCH; prints the subscriber) / `rm USER@DOMAIN` /
 * `list [--domain D] [--json]`: digest users. The store keeps their HA1s,
 * never the password, and the password never comes from the command line.
 */
import type { Command } from 'commander';
import { parseAddress } from '../store/validate.js';
import { withConfigOption } from './common.js';
import { isoTime, plural, printList, say } from './output.js';
import { subscriberJson } from '../store/json.js';
import { readPasswordFromStdin } from './password.js';
import { CliError, commandGroup, orFail, withStore } from './store.js';
import { registerSet } from './trunking-common.js';
import { patchSubscriber, type SubscriberPatch } from '../api/patch.js';
import { checkPassword } from '../store/validate.js';

const PASSWORD_STDIN = '--password-stdin';

/** USER@DOMAIN checked, then the password from stdin: both before the store opens. */
async function addressAndPassword(
  address: string,
  opts: { passwordStdin?: boolean },
  verb: string,
): Promise<{ username: string; domain: string; password: string }> {
  return orFail(async () => {
    const { username, domain } = parseAddress(address, 'subscriber');
    if (opts.passwordStdin !== true) {
      throw new CliError(
        `password: subscriber ${verb} needs ${PASSWORD_STDIN} (the password is read from standard input)`,
      );
    }
    return { username, domain, password: await readPasswordFromStdin() };
  });
}

export function registerSubscriber(program: Command): void {
  const group = commandGroup(program, 'subscriber', 'digest users USER@DOMAIN: add, passwd, set, rm, list');

  withConfigOption(
    group
      .command('add')
      .description('add a subscriber; the password is the first line of standard input')
      .argument('<user@domain>', 'the subscriber (its domain must exist)')
      .option(PASSWORD_STDIN, 'read the password from standard input (required)'),
  ).action(async (address: string, opts: { passwordStdin?: boolean }, cmd: Command) => {
    const { username, domain, password } = await addressAndPassword(address, opts, 'add');
    await withStore(cmd, async (store) => {
      const s = await store.subscribers.add(username, domain, password);
      say(`added subscriber ${s.username}@${s.domain}`);
    });
  });

  withConfigOption(
    group
      .command('passwd')
      .description("set a subscriber's password from the first line of standard input")
      .argument('<user@domain>', 'the subscriber')
      .option(PASSWORD_STDIN, 'read the password from standard input (required)'),
  ).action(async (address: string, opts: { passwordStdin?: boolean }, cmd: Command) => {
    const { username, domain, password } = await addressAndPassword(address, opts, 'passwd');
    await withStore(cmd, async (store) => {
      const s = await store.subscribers.passwd(username, domain, password);
      say(`changed the password of ${s.username}@${s.domain}`);
    });
  });

  registerSet(group, {
    noun: 'subscriber',
    key: ['<user@domain>', 'the subscriber'],
    options: [[PASSWORD_STDIN, 'a new password: the first line of standard input']],
    body: async (o: { passwordStdin?: boolean; json?: boolean }): Promise<SubscriberPatch> =>
      o.passwordStdin === true ? { password: checkPassword(await readPasswordFromStdin(), 'password') } : {},
    apply: async (store, address, b) => subscriberJson(await patchSubscriber(store, address, b)),
  });

  withConfigOption(
    group
      .command('rm')
      .description('remove a subscriber with its aliases and registrations')
      .argument('<user@domain>', 'the subscriber'),
  ).action(async (address: string, _opts: unknown, cmd: Command) => {
    const { username, domain } = await orFail(() => parseAddress(address, 'subscriber'));
    await withStore(cmd, async (store) => {
      const r = await store.subscribers.rm(username, domain);
      say(
        `removed subscriber ${r.username}@${r.domain} with ${plural(r.aliases, 'alias', 'aliases')}, ${plural(r.bindings, 'binding')}`,
      );
    });
  });

  withConfigOption(
    group
      .command('list')
      .description('list the subscribers (never their credentials)')
      .option('--domain <domain>', "only this domain's")
      .option('--json', 'print a JSON array'),
  ).action(async (opts: { domain?: string; json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const list = await store.subscribers.list(opts.domain !== undefined ? { domain: opts.domain } : {});
      printList(list, opts.json, subscriberJson, [
        ['subscriber', (s) => `${s.username}@${s.domain}`],
        ['created', (s) => isoTime(s.createdAt)],
        ['updated', (s) => isoTime(s.updatedAt)],
      ]);
    });
  });
}
