/**
 * RFC 4475's invalid messages (3.1.2, and the 3.3 messages that are a 400
 * all the same) sent to a running server over UDP and over TCP, each from
 * a 127.0.0.x of its own (so the default flood density is never the
 * reason): every request gets its answer (400, 505 for badvers), every
 * response is dropped, and the server keeps serving. The status expected is
 * the parser's own verdict, which test/sip/rfc4475.test.ts pins per file.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { parseMessage } from '../../src/sip/parser.js';
import { validateMessage } from '../../src/sip/validate.js';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { UdpPeer, tcpAsk, request, type Reply } from './helpers.js';
import { elapsedUntil } from '../helpers/wait.js';
import { RFC4475_INVALID as INVALID, loadRfc4475 as load } from '../helpers/rfc4475.js';

const SEMANTIC_400 = ['insuf', 'multi01', 'mcl01'];

/** What the server must do: answer with this status, or (responses) stay silent. */
function verdict(name: string): { isRequest: boolean; status: number } {
  const data = load(name);
  const r = parseMessage(data);
  const isRequest = !data.subarray(0, 4).equals(Buffer.from('SIP/'));
  if (!r.ok) return { isRequest, status: r.error.status };
  const fault = validateMessage(r.message);
  assert.ok(fault !== null, `${name} must be invalid`);
  return { isRequest, status: fault.status };
}

let server: RunningTrunkline;
let port = 0;

before(async () => {
  port = await freePort();
  server = await startTrunkline(`listen: [udp:127.0.0.1:${port}, tcp:127.0.0.1:${port}]\n`);
});

after(async () => {
  await server?.stop();
});

async function udpAsk(host: string, data: Buffer, ms: number): Promise<Reply | null> {
  const sock = createSocket('udp4');
  await new Promise<void>((resolve) => sock.bind(0, host, () => resolve()));
  const got: Reply[] = [];
  sock.on('message', (d) => {
    const text = d.toString('latin1');
    got.push({ status: Number(text.slice(8, 11)), reason: text.slice(12, text.indexOf('\r\n')), text });
  });
  sock.send(data, port, '127.0.0.1');
  await elapsedUntil(() => got.length > 0, { timeoutMs: ms, intervalMs: 20 });
  sock.close();
  return got[0] ?? null;
}

const ALL = [...INVALID, ...SEMANTIC_400];

for (const [t, transport] of (['UDP', 'TCP'] as const).entries()) {
  test(
    `every invalid RFC 4475 message over ${transport} gets its refusal (responses dropped)`,
    { timeout: 60_000 },
    async () => {
      const failures: string[] = [];
      for (const [i, name] of ALL.entries()) {
        const host = `127.0.${60 + t}.${10 + i}`;
        const v = verdict(name);
        const raw = load(name);
        // baddn's file ends without the empty line: a datagram is complete as it is, a stream
        // message is not (RFC 3261 18.3) until its header section ends; the line is added for TCP.
        const data = transport === 'TCP' && !raw.includes('\r\n\r\n') ? Buffer.concat([raw, Buffer.from('\r\n')]) : raw;
        const wait = v.isRequest ? 2000 : 600;
        const r = transport === 'UDP' ? await udpAsk(host, data, wait) : await tcpAsk(host, port, data, wait);
        if (!v.isRequest) {
          if (r !== null) failures.push(`${name}: a response must be dropped, got ${r.status}`);
        } else if (transport === 'TCP' && name === 'clerr') {
          // On a stream, a message whose Content-Length exceeds what came is not complete: the rest
          // may still arrive (RFC 3261 18.3), so there is nothing to answer yet.
          if (r !== null && r.status !== v.status) failures.push(`${name} over TCP: got ${r.status}`);
        } else if (r === null) failures.push(`${name}: no answer (expected ${v.status})`);
        else if (r.status !== v.status) failures.push(`${name}: got ${r.status} ${r.reason}, expected ${v.status}`);
        else if (r.status >= 400 && /\r\nWarning:/i.test(r.text)) failures.push(`${name}: a Warning header was sent`);
      }
      assert.deepEqual(failures, []);
    },
  );
}

test('the server keeps serving after the torture messages, over UDP and TCP', async () => {
  const p = await new UdpPeer('127.0.0.70').open();
  try {
    assert.equal((await p.ask(port))?.status, 200);
  } finally {
    p.close();
  }
  const r = await tcpAsk('127.0.0.71', port, (lp) => request('127.0.0.71', lp, 'TCP'));
  assert.equal(r?.status, 200);
  assert.match(server.output(), /"msg":"malformed SIP message"/);
  assert.doesNotMatch(server.output(), /"level":"(fatal|error)"/);
});
