import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ConnectionTable, type TableEntry } from '../../src/transport/connection-table.js';
import { freePort } from '../helpers/ports.js';
import { SocketReader, sipRequest, startLayer } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

function entry(
  table: ConnectionTable<TableEntry>,
  remoteHost: string,
  remotePort: number,
  direction: 'inbound' | 'outbound' = 'inbound',
): TableEntry {
  const now = Date.now();
  const e: TableEntry = {
    id: table.allocateId(),
    proto: 'tcp',
    direction,
    state: 'open',
    localHost: '127.0.0.1',
    localPort: 5060,
    remoteHost,
    remotePort,
    createdAt: now,
    lastActivity: now,
    closingSince: 0,
    keys: [],
  };
  table.add(e);
  return e;
}

test('connection table: lookup by remote and alias, caps, removal', () => {
  const table = new ConnectionTable<TableEntry>({ maxConnections: 3, maxConnectionsPerIp: 2 });
  const a = entry(table, '10.0.0.1', 40000);
  assert.equal(table.lookup('tcp', '10.0.0.1', 40000), a);
  assert.equal(table.lookup('tls', '10.0.0.1', 40000), undefined);
  assert.equal(table.addAlias(a.id, '10.0.0.1', 5060), true);
  assert.equal(table.lookup('tcp', '10.0.0.1', 5060), a);
  const b = entry(table, '10.0.0.1', 40001);
  assert.match(table.refusal('10.0.0.1') ?? '', /per-IP/);
  assert.equal(table.refusal('10.0.0.2'), null);
  entry(table, '::ffff:10.0.0.9', 1, 'outbound');
  assert.match(table.refusal('10.0.0.2') ?? '', /connection limit 3/);
  assert.equal(table.lookup('tcp', '10.0.0.9', 1)?.direction, 'outbound', 'IPv4-mapped addresses are normalized');
  table.remove(a.id);
  table.remove(a.id);
  assert.equal(table.lookup('tcp', '10.0.0.1', 5060), undefined, 'aliases go with the connection');
  assert.equal(table.refusal('10.0.0.1'), null);
  b.state = 'closing';
  assert.equal(table.lookup('tcp', '10.0.0.1', 40001), undefined, 'closing connections are not reused');
  assert.equal(table.size, 2);
  assert.equal(table.lookup('tcp', '0:0:0:0:0:0:0:1', 9), undefined);
  const v6 = entry(table, '::1', 9, 'outbound');
  void v6;
  assert.ok(table.lookup('tcp', '0:0:0:0:0:0:0:1', 9));
  assert.ok(table.lookup('tcp', '[::1]', 9));
});

test('connection table: sweep verdicts', () => {
  const table = new ConnectionTable<TableEntry>({ maxConnections: 10, maxConnectionsPerIp: 10 });
  const idle = entry(table, '10.0.0.1', 1);
  const hs = entry(table, '10.0.0.1', 2);
  hs.state = 'handshaking';
  const closing = entry(table, '10.0.0.1', 3);
  closing.state = 'closing';
  closing.closingSince = Date.now();
  const now = Date.now();
  assert.deepEqual(table.sweep(now, { idleTimeoutMs: 1000, handshakeTimeoutMs: 1000, closeGraceMs: 1000 }), []);
  const due = table.sweep(now + 1000, { idleTimeoutMs: 1000, handshakeTimeoutMs: 1000, closeGraceMs: 1000 });
  assert.deepEqual(
    due.map(([e, v]) => [e.id, v]),
    [
      [idle.id, 'idle'],
      [hs.id, 'handshake-timeout'],
      [closing.id, 'close-timeout'],
    ],
  );
});

test('transport: stalled TLS handshake is dropped; total cap; stop() closes connections', async (t) => {
  const { makeCert } = await import('./helpers.js');
  const cert = await makeCert();
  const port = await freePort();
  const tcpPort = await freePort();
  const { tl, inbox } = await startLayer(t, {
    listen: [
      { proto: 'tls', host: '127.0.0.1', port },
      { proto: 'tcp', host: '127.0.0.1', port: tcpPort },
    ],
    tls: cert,
    limits: { handshakeTimeoutMs: 150, maxConnections: 2 },
  });
  const open = (p: number): Promise<SocketReader> =>
    new Promise((resolve) => {
      const s = connect(p, '127.0.0.1', () => resolve(new SocketReader(s)));
      t.after(() => s.destroy());
    });
  const stalled = await open(port); // plain TCP to the TLS port: never completes a handshake
  const c1 = await open(tcpPort);
  await waitFor(() => tl.connectionCount() === 2, { timeoutMs: 3000, what: 'tl.connectionCount() === 2' });
  const refused = await open(tcpPort);
  await refused.waitClosed();
  await stalled.waitClosed(2000);
  await waitFor(() => tl.connectionCount() === 1, { timeoutMs: 3000, what: 'tl.connectionCount() === 1' });
  c1.sock.write(sipRequest('still-here'));
  await inbox.next();
  assert.equal(tl.listeners('message').length, 1, 'EventEmitter.listeners(name) still works');
  await tl.stop();
  await c1.waitClosed();
  assert.equal(tl.connectionCount(), 0);
  assert.equal(tl.send(inbox.messages[0]!.flow, sipRequest('x')), false);
});
