import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StreamFramer, parseContentLength, type FramerEvent } from '../../src/transport/stream-framer.js';

const LIMITS = { maxStreamMessageBytes: 65536, maxHeaderBytes: 16384 };

const BODY = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\n\r\nc=IN IP4 127.0.0.1\r\n'; // contains CRLFCRLF itself
const MSG = Buffer.from(
  'INVITE sip:bob@example.com SIP/2.0\r\n' +
    'Via: SIP/2.0/TCP 10.0.0.1:5060;branch=z9hG4bK776asdhds\r\n' +
    'Call-ID: a84b4c76e66710\r\n' +
    'CSeq: 314159 INVITE\r\n' +
    'Content-Type: application/sdp\r\n' +
    `Content-Length: ${Buffer.byteLength(BODY)}\r\n\r\n` +
    BODY,
);

function msgWith(headers: string, body = ''): Buffer {
  return Buffer.from(`OPTIONS sip:x SIP/2.0\r\nCall-ID: 1\r\n${headers}\r\n${body}`);
}

function messages(events: FramerEvent[]): string[] {
  return events.filter((e) => e.kind === 'message').map((e) => (e as { data: Buffer }).data.toString('latin1'));
}

function errorOf(events: FramerEvent[]): Extract<FramerEvent, { kind: 'error' }> | undefined {
  return events.find((e) => e.kind === 'error') as Extract<FramerEvent, { kind: 'error' }> | undefined;
}

test('a message with a body split at every byte position', () => {
  for (let i = 1; i < MSG.length; i++) {
    const f = new StreamFramer(LIMITS);
    const ev = [...f.push(MSG.subarray(0, i)), ...f.push(MSG.subarray(i))];
    assert.deepEqual(messages(ev), [MSG.toString('latin1')], `split at ${i}`);
    assert.equal(f.bufferedBytes, 0);
  }
});

test('a message fed one byte at a time, then two back to back', () => {
  const f = new StreamFramer(LIMITS);
  const ev: FramerEvent[] = [];
  const two = Buffer.concat([MSG, MSG]);
  for (let i = 0; i < two.length; i++) ev.push(...f.push(two.subarray(i, i + 1)));
  assert.equal(messages(ev).length, 2);
});

test('several messages in one chunk, with a partial one at the end', () => {
  const f = new StreamFramer(LIMITS);
  const a = msgWith('Content-Length: 0\r\n');
  const b = msgWith('Content-Length: 5\r\n', 'hello');
  const chunk = Buffer.concat([a, b, a, MSG.subarray(0, 40)]);
  const ev = f.push(chunk);
  assert.deepEqual(
    messages(ev),
    [a, b, a].map((x) => x.toString('latin1')),
  );
  assert.equal(f.bufferedBytes, 40);
  assert.deepEqual(messages(f.push(MSG.subarray(40))), [MSG.toString('latin1')]);
});

test('CRLFCRLF keep-alive ping between messages; lone CRLF skipped', () => {
  const f = new StreamFramer(LIMITS);
  const a = msgWith('Content-Length: 0\r\n');
  const ev = f.push(Buffer.concat([Buffer.from('\r\n\r\n'), a, Buffer.from('\r\n\r\n\r\n'), a]));
  assert.deepEqual(
    ev.map((e) => e.kind),
    ['ping', 'message', 'ping', 'message'],
  );
  assert.deepEqual(messages(ev), [a.toString('latin1'), a.toString('latin1')]); // the lone CRLF is not part of the message
  // a ping split across chunks
  assert.deepEqual(f.push(Buffer.from('\r\n')), []);
  assert.deepEqual(
    f.push(Buffer.from('\r\n')).map((e) => e.kind),
    ['ping'],
  );
  // lone CRLF followed by a message in a later chunk
  assert.deepEqual(f.push(Buffer.from('\r\n')), []);
  assert.deepEqual(
    f.push(a).map((e) => e.kind),
    ['message'],
  );
  assert.equal(f.bufferedBytes, 0);
});

test('missing Content-Length is a 400 with the header text', () => {
  const f = new StreamFramer(LIMITS);
  const ev = f.push(Buffer.from('OPTIONS sip:x SIP/2.0\r\nCall-ID: 7\r\n\r\n'));
  const err = errorOf(ev);
  assert.equal(err?.status, 400);
  assert.match(err!.reason, /missing Content-Length/);
  assert.equal(err!.headerText, 'OPTIONS sip:x SIP/2.0\r\nCall-ID: 7');
  assert.equal(f.isFailed, true);
  assert.deepEqual(f.push(msgWith('Content-Length: 0\r\n')), [], 'input after an error is discarded');
});

test('negative, non-numeric and conflicting Content-Length are 400', () => {
  for (const h of [
    'Content-Length: -1\r\n',
    'Content-Length: 12abc\r\n',
    'Content-Length: \r\n',
    'l: 1.5\r\n',
    'Content-Length: 3\r\nl: 4\r\n',
  ]) {
    const ev = new StreamFramer(LIMITS).push(msgWith(h, 'abcd'));
    assert.equal(errorOf(ev)?.status, 400, JSON.stringify(h));
    assert.equal(messages(ev).length, 0);
  }
  // the same value twice is tolerated
  const ok = new StreamFramer(LIMITS).push(msgWith('Content-Length: 4\r\nl: 4\r\n', 'abcd'));
  assert.equal(messages(ok).length, 1);
});

test('compact l:, case-insensitive names, whitespace and folding', () => {
  for (const h of [
    'l: 4\r\n',
    'L:4\r\n',
    'CONTENT-LENGTH:    4   \r\n',
    'content-length\t: 4\r\n',
    'Content-Length:\r\n   4\r\n',
  ]) {
    const ev = new StreamFramer(LIMITS).push(msgWith(h, 'abcd'));
    assert.equal(messages(ev).length, 1, JSON.stringify(h));
    assert.ok(messages(ev)[0]!.endsWith('\r\n\r\nabcd'));
  }
  assert.deepEqual(parseContentLength('X sip:y SIP/2.0\r\nSubject: l: 9\r\nl: 2'), { ok: true, value: 2 });
});

test('oversize body is a 413 with the header text, before the body is read', () => {
  const f = new StreamFramer({ maxStreamMessageBytes: 1000, maxHeaderBytes: 500 });
  const ev = f.push(Buffer.from('MESSAGE sip:x SIP/2.0\r\nCall-ID: 9\r\nContent-Length: 5000\r\n\r\nxx'));
  const err = errorOf(ev);
  assert.equal(err?.status, 413);
  assert.match(err!.headerText!, /^MESSAGE sip:x SIP\/2\.0\r\nCall-ID: 9/);
  assert.equal(f.bufferedBytes, 0);
  const huge = new StreamFramer(LIMITS).push(msgWith('Content-Length: 99999999999999999999999\r\n'));
  assert.equal(errorOf(huge)?.status, 413);
});

test('oversize header without end is a 513 with null header text, memory bounded', () => {
  const f = new StreamFramer({ maxStreamMessageBytes: 65536, maxHeaderBytes: 4096 });
  const noise = Buffer.alloc(1000);
  for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) & 0xff & ~0x0a;
  let err: ReturnType<typeof errorOf>;
  let pushes = 0;
  while (!err && pushes < 100) {
    err = errorOf(f.push(noise));
    pushes++;
    assert.ok(f.bufferedBytes < 4096 + noise.length);
  }
  assert.equal(err?.status, 513);
  assert.equal(err!.headerText, null);
  assert.equal(pushes, 5);
  // a complete header section that is too big is also 513, with its text
  const big = new StreamFramer({ maxStreamMessageBytes: 65536, maxHeaderBytes: 100 });
  const ev = big.push(msgWith(`X-Pad: ${'a'.repeat(200)}\r\nContent-Length: 0\r\n`));
  assert.equal(errorOf(ev)?.status, 513);
  assert.ok(errorOf(ev)!.headerText!.startsWith('OPTIONS'));
});

test('messages before an error in the same chunk are still emitted', () => {
  const f = new StreamFramer(LIMITS);
  const a = msgWith('Content-Length: 0\r\n');
  const ev = f.push(Buffer.concat([a, Buffer.from('BYE sip:x SIP/2.0\r\n\r\n')]));
  assert.deepEqual(
    ev.map((e) => e.kind),
    ['message', 'error'],
  );
});
