/**
 * Bad SDP never crashes the engine: mutated offers and answers either work
 * or fail with MediaError (a SIP status and a Warning), and leave no port held.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BuiltinMediaEngine } from '../../src/media/builtin.js';
import { MediaError } from '../../src/media/errors.js';
import { prng } from '../helpers/prng.js';
import { freeMediaRange, Peer } from './helpers.js';
import { waitFor } from '../helpers/wait.js';

const ANY = { profile: 'as-offered' as const, codecs: [] };
const PIECES = [
  '\r\n',
  ' ',
  'm=audio 0 RTP/AVP 0',
  'c=IN IP4 0.0.0.0',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:',
  'a=rtcp:',
  'a=rtcp-mux',
  'a=rtpmap:',
  '/',
  '-1',
  '99999',
  'IP6',
  '::1',
  'a=sendonly',
  'RTP/SAVP',
  'UDP/TLS/RTP/SAVPF',
  '\0',
  'é',
  '=',
];

function mutate(text: string, rnd: () => number): string {
  let s = text;
  const n = 1 + Math.floor(rnd() * 4);
  for (let i = 0; i < n; i++) {
    const at = Math.floor(rnd() * (s.length + 1));
    const op = rnd();
    if (op < 0.4) s = s.slice(0, at) + s.slice(at + 1 + Math.floor(rnd() * 20));
    else if (op < 0.8) s = s.slice(0, at) + PIECES[Math.floor(rnd() * PIECES.length)]! + s.slice(at);
    else s = s.slice(0, at) + String.fromCharCode(Math.floor(rnd() * 128)) + s.slice(at + 1);
  }
  return s;
}

test('fuzz: 1,500 mutated offers and answers resolve or reject with MediaError, and hold no port afterwards', async () => {
  const e = new BuiltinMediaEngine({
    address: '127.0.0.1',
    ports: await freeMediaRange(60),
    timeout: 30,
    holdTimeout: 3600,
  });
  const a = await Peer.create();
  const rnd = prng(0x5eed);
  const key = `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${randomBytes(30).toString('base64')}`;
  const bases = [a.sdp(), a.sdp({ profile: 'RTP/SAVP', extra: [key] }), a.sdp({ mux: true, direction: 'recvonly' })];
  let ok = 0;
  let refused = 0;
  try {
    for (let i = 0; i < 1500; i++) {
      const sid = `f${i}`;
      const offer = mutate(bases[i % bases.length]!, rnd);
      try {
        await e.offer(sid, 'a', offer, i % 2 ? ANY : { profile: 'RTP/SAVP', codecs: ['PCMA', 'telephone-event'] });
        await e.answer(sid, 'b', i % 3 === 0 ? mutate(a.sdp(), rnd) : a.sdp(), ANY);
        ok++;
      } catch (err) {
        assert.ok(err instanceof MediaError, `not a MediaError for ${JSON.stringify(offer)}: ${String(err)}`);
        assert.ok([488, 500].includes(err.sipStatus), `status ${err.sipStatus}`);
        refused++;
      }
      await e.delete(sid);
      assert.equal(e.ports.inUse, 0, `ports held after ${JSON.stringify(offer)}`);
    }
  } finally {
    a.close();
    await e.close();
  }
  assert.ok(ok > 100 && refused > 100, `both outcomes seen (ok ${ok}, refused ${refused})`);
});

test('fuzz: 3,000 random datagrams at the RTP and RTCP ports of an SRTP<->RTP call are dropped and counted; the call still works', async () => {
  const { bindUdp, sdpPorts } = await import('./helpers.js');
  const e = new BuiltinMediaEngine({
    address: '127.0.0.1',
    ports: await freeMediaRange(20),
    timeout: 30,
    holdTimeout: 3600,
  });
  const a = await Peer.create();
  const b = await Peer.create();
  const junk = await bindUdp();
  const rnd = prng(0xbad);
  try {
    const offer = await e.offer('j', 'a', a.sdp({ profile: 'RTP/SAVP', extra: [a.srtpKey()] }), {
      profile: 'RTP/AVP',
      codecs: [],
    });
    const answer = await e.answer('j', 'b', b.sdp(), ANY);
    a.useRelayKey(answer);
    const targets = [sdpPorts(answer).port, sdpPorts(answer).rtcp!, sdpPorts(offer).port, sdpPorts(offer).rtcp!];
    for (let i = 0; i < 3000; i++) {
      const len = Math.floor(rnd() * 300);
      const d = randomBytes(len);
      if (len > 1 && rnd() < 0.7) d[0] = 0x80 | (d[0]! & 0x3f); // mostly version 2
      if (len > 1 && rnd() < 0.3) d[1] = 200 + Math.floor(rnd() * 5); // RTCP types
      junk.send(d, targets[i % 4]!, '127.0.0.1');
      if (i % 200 === 0) await new Promise((r) => setImmediate(r));
    }
    // The junk latched nothing on the SRTP side (it never authenticates). On the plain
    // side it got in first; b sending from its SDP address takes the leg back.
    await new Promise((r) => setTimeout(r, 200));
    b.send(sdpPorts(offer).port, randomBytes(160));
    await waitFor(() => a.rtpIn.length > 0, { timeoutMs: 5000, what: 'b reaches a', intervalMs: 10 });
    b.rtpIn.length = 0;
    const sent = a.send(sdpPorts(answer).port, randomBytes(160));
    await waitFor(() => b.rtpIn.some((r) => r.buf.equals(sent)), {
      timeoutMs: 5000,
      what: 'a real packet after the junk',
      intervalMs: 10,
    });
    const st = e.stats('j')!;
    assert.ok(st.aToB.srtpFailures > 0, 'junk at the SRTP leg failed authentication');
    assert.ok(st.aToB.dropped + st.bToA.dropped > 500, 'junk counted as dropped');
  } finally {
    junk.close();
    a.close();
    b.close();
    await e.close();
  }
});
