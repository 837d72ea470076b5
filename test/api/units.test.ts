/** The small pieces: SIP message classification for metrics, cursors, the event bus, token hashing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { SipMessageCounts } from '../../src/metrics/sip-messages.js';
import { decodeCursor, encodeCursor, page } from '../../src/api/pagination.js';
import { EventBus, type BusEvent } from '../../src/core/events.js';
import { ApiError } from '../../src/api/errors.js';
import type { Flow } from '../../src/transport/types.js';

const flow = (proto: Flow['proto']): Flow => ({
  proto,
  localHost: '127.0.0.1',
  localPort: 5060,
  remoteHost: '127.0.0.1',
  remotePort: 5070,
  connectionId: null,
});

test('SIP messages classified by method, status class and transport without parsing', () => {
  const c = new SipMessageCounts();
  const m = (s: string) => Buffer.from(`${s}\r\nVia: x\r\n\r\n`);
  for (const method of [
    'INVITE',
    'ACK',
    'BYE',
    'CANCEL',
    'OPTIONS',
    'REGISTER',
    'PRACK',
    'SUBSCRIBE',
    'NOTIFY',
    'PUBLISH',
    'INFO',
    'REFER',
    'MESSAGE',
    'UPDATE',
  ]) {
    c.observe('in', m(`${method} sip:a@b SIP/2.0`), flow('udp'));
  }
  c.observe('in', m('FOOBAR sip:a@b SIP/2.0'), flow('udp'));
  c.observe('out', m('SIP/2.0 200 OK'), flow('tcp'));
  c.observe('out', m('SIP/2.0 180 Ringing'), flow('tcp'));
  c.observe('out', m('SIP/2.0 486 Busy Here'), flow('wss'));
  c.observe('out', m('SIP/2.0 999 Odd'), flow('wss'));
  c.observe('in', Buffer.from('\r\n\r\n'), flow('tcp'));
  const all = [...c.entries()];
  const methods = all.filter((e) => e.method).map((e) => `${e.direction}/${e.transport}/${e.method}=${e.value}`);
  assert.deepEqual(
    methods,
    [
      'INVITE',
      'ACK',
      'BYE',
      'CANCEL',
      'OPTIONS',
      'REGISTER',
      'PRACK',
      'SUBSCRIBE',
      'NOTIFY',
      'PUBLISH',
      'INFO',
      'REFER',
      'MESSAGE',
      'UPDATE',
      'other',
    ].map((x) => `in/udp/${x}=1`),
  );
  const classes = all
    .filter((e) => e.statusClass)
    .map((e) => `${e.direction}/${e.transport}/${e.statusClass}=${e.value}`);
  assert.deepEqual(classes, ['out/tcp/1xx=1', 'out/tcp/2xx=1', 'out/wss/4xx=1', 'out/wss/other=1']);
});

test('cursor pagination: limit+1 rows give a page and a cursor; a forged cursor is a 400 naming it', () => {
  const rows = [1, 2, 3, 4].map((id) => ({ id }));
  const p = page(rows, 3, (r) => ({ after: r.id }));
  assert.deepEqual(
    p.items.map((r) => r.id),
    [1, 2, 3],
  );
  assert.deepEqual(decodeCursor(p.next!, z.object({ after: z.number() })), { after: 3 });
  assert.deepEqual(page(rows.slice(0, 3), 3, (r) => r.id).next, null);
  assert.throws(
    () => decodeCursor('not-base64-json', z.object({ after: z.number() })),
    (e: unknown) => e instanceof ApiError && e.status === 400 && /^cursor: /.test(e.message),
  );
  assert.throws(() => decodeCursor(encodeCursor({ after: 'x' }), z.object({ after: z.number() })), ApiError);
});

test('event bus: ordered ids, unsubscribe, a throwing listener kept away from the publisher and the others', () => {
  const warned: string[] = [];
  const bus = new EventBus({ warn: (_o, m) => warned.push(m) });
  assert.equal(bus.active, false);
  bus.publish('registration', { aor: 'lost@x', contacts: [], source: 'udp:1.2.3.4:5' }); // nobody listens: nothing happens
  const got: BusEvent[] = [];
  const off = bus.subscribe((e) => got.push(e));
  bus.subscribe(() => {
    throw new Error('boom');
  });
  bus.publish('registration', { aor: 'a@x', contacts: ['sip:a@1.2.3.4'], source: 'udp:1.2.3.4:5' });
  bus.publish('call.ended', { callSid: 'c1', disposition: 'answered' });
  off();
  bus.publish('ban', { ip: '192.0.2.1', reason: 'flood' });
  assert.deepEqual(
    got.map((e) => [e.id, e.type]),
    [
      [1, 'registration'],
      [2, 'call.ended'],
    ],
  );
  assert.equal(warned.length, 3);
});
