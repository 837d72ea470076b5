/**
 * `trunkline location list [--json]` / `rm AOR`: live registrations (aor,
 * contact, received, expires). `rm` removes every binding of the AOR.
 */
import type { Command } from 'commander';
import type { LocationBinding } from '../store/index.js';
import { NotFoundError } from '../store/errors.js';
import { normalizeAor } from '../store/validate.js';
import { withConfigOption } from './common.js';
import { isoTime, plural, printList, say } from './output.js';
import { commandGroup, orFail, withStore } from './store.js';

/** Seconds until the binding expires (at least 0). */
function expiresIn(b: LocationBinding, now: number): number {
  return Math.max(0, Math.round((b.expiresAt - now) / 1000));
}

export function bindingJson(b: LocationBinding, now: number): Record<string, unknown> {
  return {
    aor: b.aor,
    contact: b.contact,
    received: b.received,
    expires: expiresIn(b, now),
    expiresAt: isoTime(b.expiresAt),
    q: b.q,
    path: b.path,
    instance: b.instance,
    regId: b.regId,
    callId: b.callId,
    cseq: b.cseq,
    proto: b.proto,
    local: `${b.localHost}:${b.localPort}`,
    remote: `${b.remoteHost}:${b.remotePort}`,
    userAgent: b.userAgent,
    updatedAt: isoTime(b.updatedAt),
  };
}

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
