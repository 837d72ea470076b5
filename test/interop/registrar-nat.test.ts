import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenarioWith, haveCommand } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * NAT keep-alive with real SIPp: a SIPp phone registers from one port while
 * its Contact names a private address and another port; the registrar
 * stores the source as `received`, and the server's keep-alive
 * (`registrar.keepAlive: 1`) sends an OPTIONS for that contact to the
 * source port, where a SIPp UAS answers it.
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const DOMAIN = 'example.test';

let dir: string;
let store: Store;
let port: number;
let server: RunningTrunkline | null = null;

before(async () => {
  if (skip !== false) return;
  dir = mkdtempSync(join(tmpdir(), 'registrar-nat-'));
  const dbFile = join(dir, 'trunkline.db');
  store = await openStore({ kind: 'sqlite', file: dbFile }, { env: {} });
  await store.domains.add(DOMAIN);
  await store.subscribers.add('alice', DOMAIN, 'alice-pw');
  port = await freePort();
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      `database: ${JSON.stringify(`sqlite:${dbFile}`)}`,
      'registrar: {algorithms: MD5, keepAlive: 1}',
    ].join('\n'),
  );
});

after(async () => {
  if (skip !== false) return;
  await server?.stop();
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

test(
  'a phone behind NAT: bound with received = its source, and pinged there with OPTIONS that it answers',
  { skip },
  async () => {
    const phonePort = await freePort();
    const reg = scenarioWith('registrar-register-nat.xml', { domain: DOMAIN, expect: '200' });
    const r = await sipp({
      scenario: reg,
      target: `127.0.0.1:${port}`,
      localPort: phonePort,
      extra: ['-s', 'alice', '-au', 'alice', '-ap', 'alice-pw', '-auth_uri', DOMAIN],
    });
    assert.equal(r.code, 0, `register failed:\n${r.stdout}\n${r.stderr}\n${server?.output() ?? ''}`);
    const bindings = await store.location.listForAor(`alice@${DOMAIN}`);
    assert.equal(bindings.length, 1);
    assert.equal(bindings[0]!.contact, 'sip:alice@192.0.2.55:5099');
    assert.equal(bindings[0]!.received, `sip:127.0.0.1:${phonePort};transport=udp`);

    // The phone (same port) now answers the keep-alive OPTIONS (every second).
    const uas = sippBackground(scenarioWith('uas-options.xml', { contact: 'sip:alice@192.0.2.55:5099' }), phonePort, {
      timeoutS: 8,
    });
    const u = await uas.done;
    assert.equal(
      u.code,
      0,
      `the phone got no well-formed keep-alive OPTIONS:\n${u.stdout}\n${u.stderr}\n${server?.output() ?? ''}`,
    );
    // Its 200 is consumed by the keep-alive, not relayed anywhere: the server stays up and quiet about it.
    await new Promise((res) => setTimeout(res, 200));
    assert.equal(server!.proc.exitCode, null);
  },
);
