/**
 * UnknownSources: a request from no trunk, carrier or user costs counters
 * always, a log line and an event once per source per minute, and at most
 * 120 lines a minute over all sources; the sources kept for the console
 * are the last 32.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counters } from '../../src/core/counters.js';
import type { SipMessage } from '../../src/sip/message.js';
import type { Flow } from '../../src/transport/types.js';
import { UnknownSources, type SourceRefusedEvent } from '../../src/b2bua/unknown-sources.js';
import { msgText } from '../helpers/sip-messages.js';

function request(method: string): SipMessage {
  const text = `${method} sip:+4930123456@127.0.0.1 SIP/2.0\nVia: SIP/2.0/UDP 127.0.0.9:5060;branch=z9hG4bK1\nFrom: <sip:x@127.0.0.9>;tag=1\nTo: <sip:+4930123456@127.0.0.1>\nCall-ID: c1\nCSeq: 1 ${method}\nMax-Forwards: 70\nContent-Length: 0\n\n`;
  return msgText(text);
}

function flowFrom(address: string, port = 5060): Flow {
  return {
    proto: 'udp',
    localHost: '127.0.0.1',
    localPort: 5060,
    remoteHost: address,
    remotePort: port,
    connectionId: null,
  };
}

function setup(): {
  u: UnknownSources;
  counters: Counters;
  lines: Array<Record<string, unknown>>;
  events: SourceRefusedEvent[];
} {
  const counters = new Counters();
  const lines: Array<Record<string, unknown>> = [];
  const events: SourceRefusedEvent[] = [];
  const log = {
    warn: (o: object, msg: string) => lines.push({ ...o, msg }),
    info: () => undefined,
    debug: () => undefined,
  };
  return { u: new UnknownSources(counters, log, (e) => events.push(e)), counters, lines, events };
}

test('two INVITEs from one source: both counted as refused calls, one log line and one event; again after a minute, with the count held back', () => {
  const { u, counters, lines, events } = setup();
  const t0 = 1_000_000;
  u.refused(request('INVITE'), flowFrom('127.0.0.9', 5060), t0);
  u.refused(request('INVITE'), flowFrom('127.0.0.9', 5070), t0 + 1000);
  u.refused(request('MESSAGE'), flowFrom('127.0.0.9'), t0 + 2000);
  assert.equal(counters.get('b2bua_refused_403_unknown-source'), 2, 'INVITEs are refused calls');
  assert.equal(counters.get('b2bua_unknown_source_requests'), 3);
  assert.equal(lines.length, 1);
  assert.deepEqual(lines[0], {
    mod: 'trunking',
    source: 'udp:127.0.0.9:5060',
    method: 'INVITE',
    status: 403,
    cause: 'unknown-source',
    suppressedBefore: 0,
    msg: 'request refused: unknown source (no trunk, carrier or user)',
  });
  assert.deepEqual(events, [{ source: 'udp:127.0.0.9:5060', method: 'INVITE', status: 403, reason: 'unknown source' }]);
  u.refused(request('INVITE'), flowFrom('127.0.0.10'), t0 + 3000);
  assert.equal(lines.length, 2, 'another source: its own line');
  u.refused(request('INVITE'), flowFrom('127.0.0.9'), t0 + 61_000);
  assert.equal(lines.length, 3);
  assert.equal(lines[2]!['suppressedBefore'], 2);
  const list = u.list();
  assert.deepEqual(
    list.map((s) => [s.address, s.count, s.method, s.lastAt]),
    [
      ['127.0.0.9', 4, 'INVITE', t0 + 61_000],
      ['127.0.0.10', 1, 'INVITE', t0 + 3000],
    ],
  );
  assert.equal(list[0]!.firstAt, t0);
});

test('a flood of distinct sources: at most 120 lines a minute, then one says how many were not logged; 32 sources kept', () => {
  const { u, counters, lines, events } = setup();
  const t0 = 5_000_000;
  for (let i = 0; i < 1000; i++) u.refused(request('INVITE'), flowFrom(`10.0.${i >> 8}.${i & 255}`), t0 + i);
  assert.equal(counters.get('b2bua_refused_403_unknown-source'), 1000, 'every one counted');
  assert.equal(lines.length, 120);
  assert.equal(events.length, 120);
  u.refused(request('INVITE'), flowFrom('192.0.2.1'), t0 + 60_500);
  assert.equal(lines.length, 121);
  assert.equal(lines[120]!['otherSourcesNotLogged'], 880);
  const list = u.list();
  assert.equal(list.length, 32);
  assert.equal(list[0]!.address, '192.0.2.1');
  assert.equal(
    list[31]!.address,
    '10.0.3.201',
    'the oldest kept: source 969 (the last 31 of the flood and the new one)',
  );
});
