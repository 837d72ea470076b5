import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand } from '../helpers/sipp.js';
import { startBaresip, type Baresip } from '../helpers/baresip.js';
import { openStore, type Store } from '../../src/store/index.js';
import { waitFor } from '../helpers/wait.js';

/**
 * Two real baresip clients (Debian baresip-core 1.0) register with passwords
 * (digest MD5: libre 1.1 answers an SHA-256 challenge with "Register:
 * Function not implemented", so the server offers MD5 alone
 * through TRUNKLINE_DIGEST_ALGORITHMS), alice calls bob through the location
 * stage, bob answers automatically, the call is established on both sides,
 * alice hangs up and bob sees the call closed.
 */
const skip = !haveCommand('baresip') && 'baresip not installed (scripts/install-deps.sh)';
const DOMAIN = 'example.test';

test(
  'two baresip clients register with digest; alice calls bob, bob answers, alice hangs up',
  { skip, timeout: 30000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'registrar-baresip-'));
    const dbFile = join(dir, 'trunkline.db');
    let store: Store | null = null;
    let server: RunningTrunkline | null = null;
    const clients: Baresip[] = [];
    const saved = process.env.TRUNKLINE_DIGEST_ALGORITHMS;
    const detail = (): string =>
      [
        ...clients.map((c) => `--- baresip ${c.name}:\n${c.output()}`),
        `--- trunkline:\n${server?.output() ?? ''}`,
      ].join('\n');
    // Everything before the cleanup shares one 20 s budget (the cleanup takes at most
    // 2 s for the clients and the server's 5 s drain), so the test ends within 30 s.
    const deadline = Date.now() + 20000;
    const left = (ms: number): number => Math.max(100, Math.min(ms, deadline - Date.now()));
    try {
      store = await openStore({ kind: 'sqlite', file: dbFile }, { env: {} });
      await store.domains.add(DOMAIN);
      await store.subscribers.add('alice', DOMAIN, 'alice-secret');
      await store.subscribers.add('bob', DOMAIN, 'bob-secret');
      const port = await freePort();
      process.env.TRUNKLINE_DIGEST_ALGORITHMS = 'MD5';
      server = await startTrunkline(
        [`listen: [udp:127.0.0.1:${port}]`, `database: ${JSON.stringify(`sqlite:${dbFile}`)}`].join('\n'),
        left(10000),
      );

      // Started one after the other, each kept as soon as it runs, so that finally stops whichever started.
      const alice = await startBaresip({
        name: 'alice',
        user: 'alice',
        domain: DOMAIN,
        password: 'alice-secret',
        proxyPort: port,
        startTimeoutMs: left(5000),
      });
      clients.push(alice);
      const bob = await startBaresip({
        name: 'bob',
        user: 'bob',
        domain: DOMAIN,
        password: 'bob-secret',
        proxyPort: port,
        answermode: 'auto',
        startTimeoutMs: left(5000),
      });
      clients.push(bob);

      // Both registered: a binding each in the store, at the client's SIP port.
      const st = store;
      for (const c of clients) {
        await waitFor(
          async () =>
            (await st.location.listForAor(`${c.name}@${DOMAIN}`)).some((b) =>
              b.contact.includes(`127.0.0.1:${c.sipPort}`),
            ),
          {
            timeoutMs: left(8000),
            what: `${c.name} registered`,
            intervalMs: 100,
            detail,
          },
        );
      }

      const r = await alice.command('dial', `sip:bob@${DOMAIN}`, left(5000));
      assert.equal(r.ok, true, `dial refused: ${JSON.stringify(r)}\n${detail()}`);
      await bob.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'CALL_ESTABLISHED at bob', left(8000));
      const est = await alice.waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'CALL_ESTABLISHED at alice', left(3000));
      assert.match(String(est.peeruri ?? ''), /bob@example\.test/, JSON.stringify(est));

      const h = await alice.command('hangup', '', left(5000));
      assert.equal(h.ok, true, `hangup refused: ${JSON.stringify(h)}\n${detail()}`);
      // Bob's call ends because of alice's BYE (baresip reports ECONNRESET, "reset by peer").
      const closed = await bob.waitEvent((e) => e.type === 'CALL_CLOSED', 'CALL_CLOSED at bob', left(5000));
      assert.match(String(closed.param ?? ''), /peer/, JSON.stringify(closed));
      await alice.waitEvent((e) => e.type === 'CALL_CLOSED', 'CALL_CLOSED at alice', left(3000));
    } finally {
      await Promise.all(clients.map((c) => c.stop()));
      await server?.stop();
      await store?.close();
      if (saved === undefined) delete process.env.TRUNKLINE_DIGEST_ALGORITHMS;
      else process.env.TRUNKLINE_DIGEST_ALGORITHMS = saved;
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
