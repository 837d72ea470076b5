import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Interfaces, recordRouteUri, viaSentBy, type InterfaceListener } from '../../src/dialog/interfaces.js';
import type { Flow } from '../../src/transport/types.js';

/**
 * Our address in Via, Record-Route and Contact on a server with listeners on
 * two networks (127.0.0.0/24 and 127.0.1.0/24, both on port 5060, as an SBC
 * on 5060 on each side would be).
 */
const TWO: InterfaceListener[] = [
  { proto: 'udp', host: '127.0.0.10', port: 5060, boundPort: 5060 },
  { proto: 'tcp', host: '127.0.0.10', port: 5060, boundPort: 5060 },
  { proto: 'udp', host: '127.0.1.10', port: 5060, boundPort: 5060 },
  { proto: 'tcp', host: '127.0.1.10', port: 5060, boundPort: 5060 },
];

function flow(proto: Flow['proto'], localHost: string, remoteHost: string, localPort = 5060): Flow {
  return { proto, localHost, localPort, remoteHost, remotePort: 40000, connectionId: proto === 'udp' ? null : 1 };
}

test('toward a destination: the listener of its network', () => {
  const i = new Interfaces(TWO, null);
  assert.equal(viaSentBy(i.forProto('udp', '127.0.1.20')!), 'SIP/2.0/UDP 127.0.1.10:5060');
  assert.equal(viaSentBy(i.forProto('udp', '127.0.0.20')!), 'SIP/2.0/UDP 127.0.0.10:5060');
  assert.equal(recordRouteUri(i.forProto('tcp', '127.0.1.20')!), 'sip:127.0.1.10:5060;transport=tcp;lr');
  assert.equal(i.forProto('tls', '127.0.1.20'), null);
  assert.equal(i.forProto('udp', '127.0.1.20'), i.forProto('udp', '127.0.1.30'), 'one object per listener');
});

test('the interface a request came in on: the listener of its local address, though both share the port', () => {
  const i = new Interfaces(TWO, null);
  assert.equal(i.forFlow(flow('udp', '127.0.1.10', '127.0.1.20')).host, '127.0.1.10');
  assert.equal(
    i.forFlow(flow('udp', '127.0.0.10', '127.0.1.20')).host,
    '127.0.0.10',
    'the address it came to, whoever sent it',
  );
  assert.equal(i.forFlow(flow('tcp', '127.0.1.10', '127.0.0.20')).host, '127.0.1.10');
  // A connection we opened (an ephemeral local port): the listener chosen for its far end.
  assert.equal(i.forFlow(flow('tcp', '127.0.1.10', '127.0.1.20', 41234)).host, '127.0.1.10');
});

test('a wildcard listener takes flows of any local address', () => {
  const i = new Interfaces([{ proto: 'udp', host: '0.0.0.0', port: 5060, boundPort: 5060 }], null);
  assert.equal(viaSentBy(i.forFlow(flow('udp', '127.0.1.10', '127.0.1.20'))), 'SIP/2.0/UDP 127.0.0.1:5060');
});

test('advertise per listener, else the server-wide one', () => {
  const listeners: InterfaceListener[] = [
    { proto: 'udp', host: '10.0.0.5', port: 5060, boundPort: 5060 },
    { proto: 'udp', host: '172.16.0.5', port: 5060, boundPort: 5060, advertise: '203.0.113.10' },
    { proto: 'udp', host: '192.168.0.5', port: 5060, boundPort: 5060, advertise: 'sbc.example.com' },
  ];
  const i = new Interfaces(listeners, '198.51.100.1');
  assert.equal(viaSentBy(i.forProto('udp', '10.0.0.9')!), 'SIP/2.0/UDP 198.51.100.1:5060');
  assert.equal(viaSentBy(i.forProto('udp', '172.16.0.9')!), 'SIP/2.0/UDP 203.0.113.10:5060');
  assert.equal(recordRouteUri(i.forProto('udp', '192.168.0.9')!), 'sip:sbc.example.com:5060;lr');
  assert.equal(i.forFlow(flow('udp', '172.16.0.5', '8.8.8.8')).host, '203.0.113.10');
});

test("media address per side: each listener's own (or its media), written as its advertised IP", () => {
  const listeners: InterfaceListener[] = [
    { proto: 'udp', host: '10.0.0.5', port: 5060, boundPort: 5060 },
    { proto: 'udp', host: '172.16.0.5', port: 5060, boundPort: 5060, advertise: '203.0.113.10' },
    {
      proto: 'udp',
      host: '192.168.0.5',
      port: 5060,
      boundPort: 5060,
      media: '192.168.0.6',
      advertise: 'sbc.example.com',
    },
  ];
  const per = new Interfaces(listeners, null, { mediaPerListener: true });
  assert.deepEqual(per.forProto('udp', '10.0.0.9')!.media, { bind: '10.0.0.5', sdp: '10.0.0.5' });
  assert.deepEqual(per.forProto('udp', '172.16.0.9')!.media, { bind: '172.16.0.5', sdp: '203.0.113.10' });
  assert.deepEqual(
    per.forProto('udp', '192.168.0.9')!.media,
    { bind: '192.168.0.6', sdp: '192.168.0.6' },
    'a host name is no SDP address',
  );
  // media.address configured: the engine's address, except where a listener names its own.
  const engine = new Interfaces(listeners, null, { mediaPerListener: false });
  assert.equal(engine.forProto('udp', '10.0.0.9')!.media, undefined);
  assert.deepEqual(engine.forProto('udp', '192.168.0.9')!.media, { bind: '192.168.0.6', sdp: '192.168.0.6' });
  // One address for every listener: the engine's, as before.
  const one = new Interfaces([TWO[0]!, TWO[1]!], null, { mediaPerListener: true });
  assert.equal(one.forProto('udp', '127.0.0.20')!.media, undefined);
});
