import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { isResponse, rand, request, response, UdpPeer } from '../helpers/raw-sip.js';

/**
 * RFC 3261 16.7 step 10 and RFC 6026 7.2: once a proxied INVITE is
 * answered, the proxy's forwarding of it is over, but its client
 * transaction stays Accepted for Timer M and every further 2xx that reaches
 * it goes upstream: a retransmission of the answer (the callee did not get
 * the ACK yet) and another fork's answer (a To tag of its own). Both arrive
 * at the caller with the proxy's Via removed. Peers on raw UDP sockets, so
 * the test decides when each 2xx is sent.
 */
let server: RunningTrunkline;
let port: number;
let caller: UdpPeer;
let callee: UdpPeer;

before(async () => {
  port = await freePort();
  caller = await UdpPeer.open('127.0.0.1', await freePort());
  callee = await UdpPeer.open('127.0.0.1', await freePort());
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      'routes:',
      `  - {match: {user: "^answer$"}, forward: "sip:127.0.0.1:${callee.port}"}`,
      '',
    ].join('\n'),
  );
});

after(async () => {
  caller?.close();
  callee?.close();
  if (server !== undefined) assert.equal(await server.stop(), 0, 'trunkline exit code');
});

test('2xx after the answer (a retransmission, another fork) reach the caller without our Via', async () => {
  const callId = `${rand()}@127.0.0.1`;
  const callerBranch = `z9hG4bK${rand()}`;
  caller.send(
    request({
      method: 'INVITE',
      uri: `sip:answer@127.0.0.1:${port}`,
      via: `SIP/2.0/UDP 127.0.0.1:${caller.port};branch=${callerBranch};rport`,
      from: `<sip:caller@example.net>;tag=${rand()}`,
      to: '<sip:answer@127.0.0.1>',
      callId,
      cseq: 1,
      contact: `<sip:caller@127.0.0.1:${caller.port}>`,
    }),
    '127.0.0.1',
    port,
  );
  const invite = await callee.next((r) => r.msg.isRequest && r.msg.callId === callId, 'INVITE at the callee');
  const answer = response(invite.msg, 200, 'OK', { toTag: 'first', contact: `<sip:callee@127.0.0.1:${callee.port}>` });
  const toCaller = (what: string) => caller.next(isResponse(200, 'INVITE', callId), what, 3000);

  callee.send(answer, invite.address, invite.port);
  const first = await toCaller('the 200');
  // The proxy's forwarding has ended with that 2xx: what follows reaches only its Accepted client transaction.
  callee.send(answer, invite.address, invite.port);
  const again = await toCaller('the retransmitted 200');
  const fork = response(invite.msg, 200, 'OK', { toTag: 'second', contact: `<sip:fork@127.0.0.1:${callee.port}>` });
  callee.send(fork, invite.address, invite.port);
  const forked = await toCaller("another fork's 200");

  for (const [name, r] of [
    ['200', first],
    ['retransmitted 200', again],
    ["fork's 200", forked],
  ] as const) {
    assert.equal(r.msg.vias.length, 1, `${name}: only the caller's Via is left`);
    assert.equal(r.msg.vias[0]!.branch, callerBranch, `${name}: the caller's own Via on top`);
  }
  assert.equal(first.msg.toTag, 'first');
  assert.equal(again.msg.toTag, 'first');
  assert.equal(forked.msg.toTag, 'second');
});
