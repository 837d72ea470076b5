/**
 * `trunkline location list [--json]` / `rm AOR`: live registrations (aor,
 * contact, received, expires). `rm` removes every binding of the AOR.
 */
import type { Command } from 'commander';
import { NotFoundError } from '../store/errors.js';
import { normalizeAor } from '../store/validate.js';
import { withConfigOption } from './common.js';
import { plural, printList, say } from './output.js';
import { bindingJson, expiresIn } from '../store/json.js';
import { commandGroup, orFail, withStore } from './store.js';

export function registerLocation(program: Command): void {
  const group = commandGroup(program, 'location', 'live registrations (aor, contact, received, expires): list, rm');

  withConfigOption(
    group
      .command('list')
      .description('list the live registrations; EXPIRES is in seconds')
      .option('--json', 'print a JSON array'),
  ).action(async (opts: { json?: boolean }, cmd: Command) => {
    await withStore(cmd, async (store) => {
      const now = Date.now();
      printList(await store.location.listLive(now), opts.json, (b) => bindingJson(b, now), [
        ['aor', (b) => b.aor],
        ['contact', (b) => b.contact],
        ['received', (b) => b.received],
        ['expires', (b) => expiresIn(b, now)],
      ]);
    });
  });

  withConfigOption(
    group
      .command('rm')
      .description('remove every registration of an address of record')
      .argument('<aor>', 'USER@DOMAIN (or sip:USER@DOMAIN)'),
  ).action(async (aor: string, _opts: unknown, cmd: Command) => {
    const a = await orFail(() => normalizeAor(aor));
    await withStore(cmd, async (store) => {
      const n = await store.location.removeAll(a);
      if (n === 0) throw new NotFoundError(`no registrations for ${a}`);
      say(`removed ${plural(n, 'registration')} of ${a}`);
    });
  });
}
