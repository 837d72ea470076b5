/**
 * The pipeline in a running server, from other hosts (127.0.0.x sockets of
 * their own): keep-alive, scanners, Max-Forwards, sanity, lists, ACL, SQL
 * injection, the Server header; bans and lists changed by the real CLI act
 * within 2 s, and a ban lifted by hand is logged; a flood is banned and the
 * server's own ban shows in `ban list`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { UdpPeer, cli, tcpAsk, request, sleep } from './helpers.js';
import { elapsedUntil } from '../helpers/wait.js';

/** Whether the server closes a TCP connection from `host` after one request on it, within `ms`. */
function closedByServer(host: string, port: number, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, localAddress: host });
    const timer = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, ms);
    s.on('connect', () => s.write(request(host, s.localPort ?? 0, 'TCP')));
    s.on('error', () => undefined);
    s.on('close', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

let server: RunningTrunkline;
let port = 0;
const peers: UdpPeer[] = [];

async function peer(host: string): Promise<UdpPeer> {
  const p = await new UdpPeer(host).open();
  peers.push(p);
  return p;
}

before(async () => {
  port = await freePort();
  server = await startTrunkline(`listen: [udp:127.0.0.1:${port}, tcp:127.0.0.1:${port}]\n`);
});

after(async () => {
  for (const p of peers) p.close();
  await server?.stop();
});

test('keep-alive OPTIONS to the server is answered 200, and the Server header carries no version', async () => {
  const p = await peer('127.0.0.2');
  const r = await p.ask(port);
  assert.equal(r?.status, 200);
  const server = /\r\nServer: ([^\r]*)\r\n/i.exec(r!.text)?.[1];
  assert.equal(server, 'Trunkline');
  assert.doesNotMatch(r!.text, /\r\nWarning:/i);
  // Max-Forwards 0 to the server itself is still answered (RFC 3261 16.3 step 3 lets a UAS answer).
  assert.equal((await p.ask(port, { maxForwards: 0 }))?.status, 200);
});

test('a scanner user agent gets no answer at all, over UDP and TCP', async () => {
  const p = await peer('127.0.0.4');
  assert.equal(await p.ask(port, { ua: 'friendly-scanner' }, 800), null);
  assert.equal(await p.ask(port, { ua: 'SIPVicious/0.3' }, 800), null);
  assert.equal(
    await tcpAsk('127.0.0.4', port, (lp) => request('127.0.0.4', lp, 'TCP', { ua: 'sipcli/v1.8' }), 800),
    null,
  );
  assert.equal((await p.ask(port, { ua: 'Asterisk PBX 20' }))?.status, 200);
});

test('Max-Forwards 0 on a request to elsewhere: 483; sanity faults: their status and reason', async () => {
  const p = await peer('127.0.0.5');
  assert.equal((await p.ask(port, { method: 'INVITE', ruri: 'sip:bob@example.org', maxForwards: 0 }))?.status, 483);
  const pr = await p.ask(port, { method: 'INVITE', ruri: 'sip:bob@example.org', extra: ['Proxy-Require: x-unknown'] });
  assert.equal(pr?.status, 420);
  assert.match(pr!.text, /\r\nUnsupported: x-unknown\r\n/);
  const dup = await p.ask(port, { method: 'MESSAGE', ruri: 'sip:bob@example.org', from: '<sip:a@127.0.0.5>;tag=x1' });
  assert.equal(dup?.status, 400);
  assert.match(dup!.reason, /Duplicate From tag/);
  const scheme = await p.ask(port, { method: 'MESSAGE', ruri: 'http://example.org/' });
  assert.equal(scheme?.status, 416);
  // Logged once per source and step per minute.
  const refused = server
    .output()
    .split('\n')
    .filter((l) => l.includes('"msg":"request refused"') && l.includes('127.0.0.5') && l.includes('"step":"sanity"'));
  assert.equal(refused.length, 1);
});

test('the ACK of an INVITE refused by the pipeline ends here (not relayed toward the Request-URI)', async () => {
  const callee = await peer('127.0.0.18');
  // The caller is on the server's own address (trusted: trustSelf), so that an ACK of no refused INVITE is still
  // relayed (the control below); a stranger's ACK outside a dialog of ours never is (route-relay.test.ts).
  const caller = await peer('127.0.0.1');
  const ruri = `sip:bob@127.0.0.18:${callee.port}`;
  const branch = 'z9hG4bKrefused483x';
  const lines = (method: string, mf: number): Buffer =>
    Buffer.from(
      [
        `${method} ${ruri} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${caller.port};branch=${branch};rport`,
        `Max-Forwards: ${mf}`,
        '<sip:a@127.0.0.1>;tag=c1'.replace(/^/, 'From: '),
        `To: <${ruri}>${method === 'ACK' ? ';tag=x' : ''}`,
        'Call-ID: refused-ack@127.0.0.1',
        `CSeq: 1 ${method}`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n'),
    );
  caller.send(lines('INVITE', 0), port);
  assert.equal(
    (await elapsedUntil(() => caller.drain().some((r) => r.status === 483), { timeoutMs: 2000 })) >= 0,
    true,
  );
  caller.send(lines('ACK', 70), port);
  await sleep(700);
  assert.deepEqual(callee.drain(), [], 'the ACK was relayed');
  // Control: an ACK of no refused INVITE is relayed statelessly (so the check above can fail).
  caller.send(Buffer.from(lines('ACK', 70).toString().replace(branch, 'z9hG4bKotherack1')), port);
  assert.ok((await elapsedUntil(() => callee.drain().length > 0, { timeoutMs: 2000 })) >= 0, 'a stray ACK is relayed');
});

test('SQL-injection-like user parts and display names: 403', async () => {
  const p = await peer('127.0.0.6');
  assert.equal((await p.ask(port, { method: 'INVITE', ruri: "sip:1'or'1'='1@127.0.0.1" }))?.status, 403);
  assert.equal(
    (
      await p.ask(port, {
        method: 'INVITE',
        ruri: 'sip:bob@example.org',
        from: `"x'; drop table subscribers; --" <sip:a@127.0.0.6>`,
      })
    )?.status,
    403,
  );
});

test('blocklist and acl changes by the CLI act within 2 s', async () => {
  const p = await peer('127.0.0.8');
  const relay = { method: 'MESSAGE', ruri: 'sip:+19005550100@example.org' };
  assert.equal((await p.ask(port, relay))?.status, 403); // relaying denied (no route), before any list
  assert.doesNotMatch((await p.ask(port, relay))!.reason, /Forbidden$/);
  let r = await cli(server.configFile, ['blocklist', 'add', 'dest', '+1900']);
  assert.equal(r.code, 0, r.stderr);
  let took = await elapsedUntil(async () => (await p.ask(port, relay, 300))?.reason === 'Forbidden', {
    timeoutMs: 3000,
  });
  assert.ok(took >= 0 && took <= 2000, `blocklist took ${took} ms`);
  r = await cli(server.configFile, ['blocklist', 'list', '--json']);
  assert.deepEqual(
    JSON.parse(r.stdout).map((e: { list: string; kind: string; value: string }) => [e.list, e.kind, e.value]),
    [['black', 'dest', '+1900']],
  );

  const q = await peer('127.0.0.9');
  assert.equal((await q.ask(port))?.status, 200);
  r = await cli(server.configFile, ['acl', 'add', 'blocked', '--deny', '127.0.0.9/32']);
  assert.equal(r.code, 0, r.stderr);
  took = await elapsedUntil(
    async () => (await q.ask(port, { method: 'INVITE', ruri: 'sip:bob@example.org' }, 300))?.status === 403,
    { timeoutMs: 3000 },
  );
  assert.ok(took >= 0 && took <= 2000, `acl took ${took} ms`);
  r = await cli(server.configFile, ['acl', 'list', '--json']);
  assert.equal(JSON.parse(r.stdout)[0].cidr, '127.0.0.9/32');
  r = await cli(server.configFile, ['acl', 'rm', 'blocked']);
  assert.equal(r.code, 0, r.stderr);
  r = await cli(server.configFile, ['acl', 'rm', 'blocked']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /unknown acl group blocked/);
});

test('ban add by the CLI drops a source within 2 s (unanswered); ban rm lifts it, logged', async () => {
  const p = await peer('127.0.0.10');
  assert.equal((await p.ask(port))?.status, 200);
  assert.equal(await closedByServer('127.0.0.10', port, 700), false, 'a connection of a source not banned stays open');
  let r = await cli(server.configFile, ['ban', 'add', '127.0.0.10', '--for', '600']);
  assert.equal(r.code, 0, r.stderr);
  let took = await elapsedUntil(async () => (await p.ask(port, {}, 200)) === null, { timeoutMs: 3000 });
  assert.ok(took >= 0 && took <= 2000, `ban took ${took} ms`);
  assert.equal(await tcpAsk('127.0.0.10', port, (lp) => request('127.0.0.10', lp, 'TCP'), 500), null);
  assert.equal(await closedByServer('127.0.0.10', port, 2000), true, "the banned source's TCP connection is closed");
  r = await cli(server.configFile, ['ban', 'list', '--json']);
  const listed = JSON.parse(r.stdout) as Array<{ ip: string; source: string; expires: string }>;
  assert.equal(listed.find((b) => b.ip === '127.0.0.10')?.source, 'manual');
  r = await cli(server.configFile, ['ban', 'rm', '127.0.0.10']);
  assert.equal(r.code, 0, r.stderr);
  took = await elapsedUntil(async () => (await p.ask(port, {}, 200))?.status === 200, { timeoutMs: 3000 });
  assert.ok(took >= 0 && took <= 2000, `unban took ${took} ms`);
  assert.ok(server.output().includes('"msg":"ban lifted by hand"'));
  r = await cli(server.configFile, ['ban', 'rm', '127.0.0.10']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /127\.0\.0\.10 is not banned/);
  r = await cli(server.configFile, ['ban', 'add', 'not-an-ip']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /ip: not an IP address: not-an-ip/);
});

test('a flood (over 20 requests in 2 s) bans the source, and the ban shows in ban list', async () => {
  const p = await peer('127.0.0.11');
  for (let i = 0; i < 40; i++) p.send(request('127.0.0.11', p.port, 'UDP'), port);
  await sleep(700);
  const answered = p.drain().length;
  assert.ok(answered <= 20, `${answered} of 40 answered`);
  assert.equal(await p.ask(port, {}, 500), null);
  const other = await peer('127.0.0.12');
  assert.equal((await other.ask(port))?.status, 200);
  const listed = await elapsedUntil(
    async () => {
      const r = await cli(server.configFile, ['ban', 'list', '--json']);
      return (JSON.parse(r.stdout) as Array<{ ip: string; source: string }>).some(
        (b) => b.ip === '127.0.0.11' && b.source === 'flood',
      );
    },
    { timeoutMs: 5000, intervalMs: 500 },
  );
  assert.ok(listed >= 0, 'the flood ban is in the store');
});
