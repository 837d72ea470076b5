import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { BuiltinMediaEngine } from '../../src/media/builtin.js';
import type { LegMediaOptions } from '../../src/media/engine.js';
import { MediaError } from '../../src/media/errors.js';
import { bindUdp, freeMediaRange, mediaPortRange, Peer, sdpPorts, sleep } from './helpers.js';
import { waitFor } from '../helpers/wait.js';
import { mosOf } from '../../src/trunking/mos.js';
import { mosOfExtra } from '../../src/b2bua/call-cdr.js';

const ANY: LegMediaOptions = { profile: 'as-offered', codecs: [] };
const RTP: LegMediaOptions = { profile: 'RTP/AVP', codecs: [] };
const SRTP: LegMediaOptions = { profile: 'RTP/SAVP', codecs: [] };

let engine: BuiltinMediaEngine;
const range = mediaPortRange(400);
const peers: Peer[] = [];
let sidN = 0;
const sid = (): string => `call-${process.pid}-${++sidN}`;

async function peer(): Promise<Peer> {
  const p = await Peer.create();
  peers.push(p);
  return p;
}

before(() => {
  engine = new BuiltinMediaEngine({ address: '127.0.0.1', ports: range, timeout: 30, holdTimeout: 3600 });
});
after(async () => {
  await engine.close();
  for (const p of peers) p.close();
});

/** Sets up a call between two peers; returns the relay ports each peer sends to. */
async function call(
  a: Peer,
  b: Peer,
  opts: { aSdp?: string; toB?: LegMediaOptions; bSdp?: (offer: string) => string; toA?: LegMediaOptions } = {},
) {
  const id = sid();
  const offer = await engine.offer(id, 'a', opts.aSdp ?? a.sdp(), opts.toB ?? ANY);
  const answer = await engine.answer(id, 'b', opts.bSdp ? opts.bSdp(offer) : b.sdp(), opts.toA ?? ANY);
  return { id, offer, answer, toA: sdpPorts(answer), toB: sdpPorts(offer) };
}

test('plain RTP: each side sees only the relay; codecs restricted and ordered; media both ways; DTMF events counted; RTCP loss/jitter in the figures', async () => {
  const a = await peer();
  const b = await peer();
  const c = await call(a, b, {
    toB: { profile: 'as-offered', codecs: ['telephone-event', 'PCMU'] },
    bSdp: () => b.sdp({ codecs: '0 101' }),
  });
  assert.equal(c.toB.address, '127.0.0.1');
  assert.notEqual(c.toB.port, b.port);
  assert.ok(c.toB.port >= range.min && c.toB.port <= range.max, 'port from the configured range');
  assert.equal(c.toB.port % 2, 0, 'RTP on an even port');
  assert.equal(c.toB.rtcp, c.toB.port + 1, 'RTCP on the next odd port');
  assert.equal(c.toB.payloads, '0 101', 'PCMA dropped; PCMU first as the trunk asked (telephone-event kept)');
  assert.doesNotMatch(c.offer, new RegExp(`${a.port}|${a.rtcpPort}`), 'no trace of the caller in the callee SDP');
  assert.match(c.offer, /^o=- \d+ \d+ IN IP4 127\.0\.0\.1/m);
  assert.equal(c.toA.payloads, '0 101');

  // b must answer within the offer: it sends PCMU.
  const sent: Buffer[] = [];
  for (let i = 0; i < 20; i++) sent.push(a.send(c.toA.port, randomBytes(160), 0));
  for (let i = 0; i < 10; i++) b.send(c.toB.port, randomBytes(160), 0);
  await waitFor(() => b.rtpIn.length === 20 && a.rtpIn.length === 10, {
    timeoutMs: 5000,
    what: 'RTP both ways',
    intervalMs: 10,
  });
  assert.deepEqual(
    b.rtpIn.map((r) => r.buf),
    sent,
    'payload and headers relayed unchanged',
  );
  assert.equal(b.rtpIn[0]!.port, c.toB.port, 'b receives from the port it was told');

  // RFC 4733 events: two key presses, each a few packets with one timestamp.
  for (const ts of [5000, 5000, 5000, 9000, 9000]) a.send(c.toA.port, Buffer.from([1, 0x80, 0, 160]), 101, ts);
  // b reports 3 lost, jitter 80 units (10 ms at 8 kHz).
  b.sendRr(c.toB.rtcp!, 3, 80);
  await waitFor(() => b.rtpIn.length === 25 && a.rtcpIn.length === 1, {
    timeoutMs: 5000,
    what: 'DTMF and RTCP',
    intervalMs: 10,
  });
  const st = engine.stats(c.id)!;
  assert.equal(st.aToB.packets, 25);
  assert.equal(st.aToB.bytes, 20 * 172 + 5 * 16);
  assert.equal(st.bToA.packets, 10);
  assert.equal(st.aToB.dtmfEvents, 2);
  assert.equal(st.aToB.lost, 3, 'loss of the a->b flow, reported by b');
  assert.equal(st.aToB.jitterMs, 10);
  assert.equal(st.bToA.rtcpPackets, 1);
  const final = await engine.delete(c.id);
  assert.equal(final.aToB.packets, 25);
  // The CDR's MOS (E-model): b->a sent no RTCP, so a->b's 3 lost of 28 with 10 ms jitter.
  assert.equal(mosOfExtra(JSON.stringify({ media: final })), mosOf((100 * 3) / 28, 10));
  assert.equal(engine.stats(c.id), null);
});

test('latching: a peer sending from another port than its SDP gets its audio there; strangers are dropped and counted', async () => {
  const a = await peer();
  const b = await peer();
  const c = await call(a, b);
  // b is behind NAT: it sends from a socket other than the one in its SDP.
  const natted = await bindUdp();
  const gotNat: Buffer[] = [];
  natted.on('message', (m) => gotNat.push(m));
  b.send(c.toB.port, randomBytes(160), 8, undefined, natted);
  await waitFor(() => a.rtpIn.length === 1, { timeoutMs: 5000, what: 'first packet from b', intervalMs: 10 });
  a.send(c.toA.port, randomBytes(160));
  a.send(c.toA.port, randomBytes(160));
  await waitFor(() => gotNat.length === 2, { timeoutMs: 5000, what: 'audio to the latched address', intervalMs: 10 });
  assert.equal(b.rtpIn.length, 0, 'nothing to the SDP port once latched elsewhere');
  // A stranger is not relayed.
  const stranger = await bindUdp();
  for (let i = 0; i < 5; i++) stranger.send(a.packet(randomBytes(160)), c.toB.port, '127.0.0.1');
  await sleep(100);
  assert.equal(a.rtpIn.length, 1);
  const st = engine.stats(c.id)!;
  assert.equal(st.bToA.strangers, 5);
  assert.equal(st.bToA.dropped, 5);
  natted.close();
  stranger.close();
  await engine.delete(c.id);
});

test('SRTP caller, RTP callee: offer to b is RTP/AVP without keys; a gets RTP/SAVP with the relay key; audio decrypts both ways; SRTCP to RTCP', async () => {
  const a = await peer();
  const b = await peer();
  const crypto = a.srtpKey('AES_CM_128_HMAC_SHA1_80', 3);
  const c = await call(a, b, { aSdp: a.sdp({ profile: 'RTP/SAVP', extra: [crypto] }), toB: RTP });
  assert.equal(c.toB.profile, 'RTP/AVP');
  assert.doesNotMatch(c.offer, /a=crypto/);
  assert.equal(c.toA.profile, 'RTP/SAVP');
  const k = a.useRelayKey(c.answer);
  assert.deepEqual(k, { tag: 3, suite: 'AES_CM_128_HMAC_SHA1_80' }, 'answer keeps the offer tag and suite');
  assert.ok(!c.answer.includes(crypto.split('inline:')[1]!), 'the relay answers with its own key');

  const sent: Buffer[] = [];
  for (let i = 0; i < 10; i++) sent.push(a.send(c.toA.port, randomBytes(160)));
  const back: Buffer[] = [];
  await waitFor(() => b.rtpIn.length === 10, { timeoutMs: 5000, what: 'decrypted RTP at b', intervalMs: 10 });
  assert.deepEqual(
    b.rtpIn.map((r) => r.buf),
    sent,
    'b receives the plain packets a encrypted',
  );
  for (let i = 0; i < 10; i++) back.push(b.send(c.toB.port, randomBytes(160)));
  await waitFor(() => a.rtpIn.length === 10, { timeoutMs: 5000, what: 'SRTP at a', intervalMs: 10 });
  assert.ok(
    a.rtpIn.every((r) => r.buf.length === 182),
    'SRTP packets carry the 80-bit tag',
  );
  assert.deepEqual(a.plainRtp(), back, 'a decrypts what the relay encrypted');
  // SRTCP from a arrives as RTCP at b.
  a.sendRr(c.toA.rtcp!, 7, 160);
  await waitFor(() => b.rtcpIn.length === 1, { timeoutMs: 5000, what: 'RTCP at b', intervalMs: 10 });
  assert.equal(b.rtcpIn[0]!.buf.length, 32);
  assert.equal(b.rtcpIn[0]!.buf.readUInt32BE(12) & 0xffffff, 7);
  const st = engine.stats(c.id)!;
  assert.equal(st.bToA.lost, 7);
  assert.equal(st.bToA.jitterMs, 20);
  // A forged packet (wrong key) is dropped and counted.
  a.tx = null;
  a.send(c.toA.port, randomBytes(170));
  await waitFor(() => engine.stats(c.id)!.aToB.srtpFailures === 1, {
    timeoutMs: 5000,
    what: 'auth failure counted',
    intervalMs: 10,
  });
  assert.equal(b.rtpIn.length, 10);
  await engine.delete(c.id);
});

test('RTP caller, SRTP callee: the callee is offered both suites with fresh keys; its choice of _32 is honoured', async () => {
  const a = await peer();
  const b = await peer();
  let bCrypto = '';
  const c = await call(a, b, {
    toB: SRTP,
    bSdp: (offer) => {
      assert.equal(sdpPorts(offer).profile, 'RTP/SAVP');
      assert.match(offer, /^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/m);
      assert.match(offer, /^a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:/m);
      b.useRelayKey(offer, 2);
      bCrypto = b.srtpKey('AES_CM_128_HMAC_SHA1_32', 2);
      return b.sdp({ profile: 'RTP/SAVP', extra: [bCrypto] });
    },
  });
  assert.equal(c.toA.profile, 'RTP/AVP');
  assert.doesNotMatch(c.answer, /a=crypto/);
  const sent: Buffer[] = [];
  for (let i = 0; i < 10; i++) sent.push(a.send(c.toA.port, randomBytes(160)));
  await waitFor(() => b.rtpIn.length === 10, { timeoutMs: 5000, what: 'SRTP at b', intervalMs: 10 });
  assert.ok(
    b.rtpIn.every((r) => r.buf.length === 176),
    '32-bit tag',
  );
  assert.deepEqual(b.plainRtp(), sent);
  const back: Buffer[] = [];
  for (let i = 0; i < 10; i++) back.push(b.send(c.toB.port, randomBytes(160)));
  await waitFor(() => a.rtpIn.length === 10, { timeoutMs: 5000, what: 'RTP at a', intervalMs: 10 });
  assert.deepEqual(
    a.rtpIn.map((r) => r.buf),
    back,
  );
  await engine.delete(c.id);
});

test('SRTP to SRTP: new keys on each leg; audio passes', async () => {
  const a = await peer();
  const b = await peer();
  const aCrypto = a.srtpKey();
  const c = await call(a, b, {
    aSdp: a.sdp({ profile: 'RTP/SAVP', extra: [aCrypto] }),
    bSdp: (offer) => {
      assert.ok(!offer.includes(aCrypto.split('inline:')[1]!), 'the caller key is not passed on');
      b.useRelayKey(offer, 1);
      return b.sdp({ profile: 'RTP/SAVP', extra: [b.srtpKey('AES_CM_128_HMAC_SHA1_80', 1)] });
    },
  });
  a.useRelayKey(c.answer);
  const sent = [a.send(c.toA.port, randomBytes(160)), a.send(c.toA.port, randomBytes(160))];
  const back = [b.send(c.toB.port, randomBytes(160))];
  await waitFor(() => b.rtpIn.length === 2 && a.rtpIn.length === 1, {
    timeoutMs: 5000,
    what: 'SRTP both ways',
    intervalMs: 10,
  });
  assert.deepEqual(b.plainRtp(), sent);
  assert.deepEqual(a.plainRtp(), back);
  await engine.delete(c.id);
});

test('offers Trunkline cannot accept get MediaError 488 with a Warning, and hold no port', async () => {
  const a = await peer();
  const before = engine.ports.inUse;
  const cases: [string, LegMediaOptions, number, RegExp][] = [
    [
      a.sdp({
        profile: 'RTP/SAVP',
        extra: ['a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:' + randomBytes(46).toString('base64')],
      }),
      ANY,
      306,
      /crypto/,
    ],
    [
      a.sdp({
        profile: 'RTP/SAVP',
        extra: ['a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:' + randomBytes(30).toString('base64') + '|2^20|1:4'],
      }),
      ANY,
      306,
      /MKI/,
    ],
    [a.sdp({ profile: 'RTP/SAVP' }), ANY, 306, /without a=crypto/],
    [a.sdp({ profile: 'UDP/TLS/RTP/SAVP' }), ANY, 303, /DTLS/],
    [
      a.sdp({ codecs: '18', extra: ['a=rtpmap:18 G729/8000'] }),
      { profile: 'as-offered', codecs: ['PCMA', 'PCMU'] },
      305,
      /no common codec/,
    ],
  ];
  for (const [sdp, opts, code, text] of cases) {
    await assert.rejects(engine.offer(sid(), 'a', sdp, opts), (err: unknown) => {
      assert.ok(err instanceof MediaError);
      assert.equal(err.sipStatus, 488);
      assert.equal(err.warnCode, code);
      assert.match(err.warning, text);
      assert.match(err.warningHeader(), new RegExp(`^${code} trunkline ".+"$`));
      assert.doesNotMatch(err.message, /inline|[A-Za-z0-9+/]{40}/, 'no key material in the message');
      return true;
    });
  }
  assert.equal(engine.ports.inUse, before);
});

test('an answer with a codec the callee was not offered but the caller was: relayed (PCMU to a PCMA-only offer); media both ways', async () => {
  const a = await peer();
  const b = await peer();
  // The caller offers PCMA, PCMU and telephone-event; the callee's trunk allows PCMA only; it answers PCMU.
  const c = await call(a, b, { toB: { profile: 'as-offered', codecs: ['PCMA'] }, bSdp: () => b.sdp({ codecs: '0' }) });
  assert.equal(c.toB.payloads, '8');
  assert.equal(c.toA.payloads, '0', 'the caller is answered PCMU, a codec it offered');
  const sent: Buffer[] = [];
  for (let i = 0; i < 5; i++) sent.push(a.send(c.toA.port, randomBytes(160), 0));
  for (let i = 0; i < 5; i++) b.send(c.toB.port, randomBytes(160), 0);
  await waitFor(() => b.rtpIn.length === 5 && a.rtpIn.length === 5, {
    timeoutMs: 3000,
    what: 'PCMU both ways',
    intervalMs: 10,
  });
  assert.deepEqual(
    b.rtpIn.map((r) => r.buf.subarray(12)),
    sent.map((p) => p.subarray(12)),
  );
  await engine.delete(c.id);
});

test('an answer with an extra telephone-event nobody offered: taken out of the answer to the caller; a voice codec nobody offered is refused', async () => {
  const a = await peer();
  const b = await peer();
  const c = await call(a, b, { aSdp: a.sdp({ codecs: '8 0' }), bSdp: () => b.sdp({ codecs: '8 101' }) });
  assert.equal(c.toA.payloads, '8');
  assert.doesNotMatch(c.answer, /telephone-event|a=fmtp:101/);
  await engine.delete(c.id);
  const id = sid();
  await engine.offer(id, 'a', a.sdp(), { profile: 'as-offered', codecs: ['PCMA'] });
  await assert.rejects(
    engine.answer(id, 'b', b.sdp({ codecs: '18', extra: ['a=rtpmap:18 G729/8000'] }), ANY),
    (err: unknown) => err instanceof MediaError && err.warnCode === 305 && /G729\/18/.test(err.warning),
  );
  await engine.delete(id);
});

test('rtcp-mux: a caller offering it gets one port; the callee without it keeps an RTCP port; RTCP crosses over', async () => {
  const a = await peer();
  const b = await peer();
  const c = await call(a, b, { aSdp: a.sdp({ mux: true }) });
  assert.match(c.answer, /^a=rtcp-mux/m);
  assert.equal(c.toA.rtcp, c.toA.port);
  assert.match(c.offer, /^a=rtcp-mux/m, 'offered on to b');
  assert.equal(c.toB.rtcp, c.toB.port + 1, 'with a fallback RTCP port');
  // b answered without rtcp-mux: RTCP from a (on its RTP port) reaches b's RTCP port.
  a.sendRr(c.toA.port, 1, 8, a.rtp);
  await waitFor(() => b.rtcpIn.length === 1, { timeoutMs: 5000, what: 'RTCP at b', intervalMs: 10 });
  b.sendRr(c.toB.rtcp!, 2, 8);
  await waitFor(() => a.rtpIn.length === 1, {
    timeoutMs: 5000,
    what: 'RTCP at a on its RTP port (mux)',
    intervalMs: 10,
  });
  assert.equal(a.rtpIn[0]!.buf[1], 201);
  await engine.delete(c.id);
});

test('re-INVITE: hold (sendonly), resume, and a new address/port from either side keep the call and its ports', async () => {
  const a = await peer();
  const b = await peer();
  const c = await call(a, b);
  a.send(c.toA.port, randomBytes(160));
  await waitFor(() => b.rtpIn.length === 1, { timeoutMs: 5000, what: 'media before hold', intervalMs: 10 });
  // a puts b on hold.
  const hold = await engine.offer(c.id, 'a', a.sdp({ direction: 'sendonly' }), ANY);
  assert.match(hold, /^a=sendonly/m);
  assert.equal(sdpPorts(hold).port, c.toB.port, 'same relay port toward b');
  const holdAns = await engine.answer(c.id, 'b', b.sdp({ direction: 'recvonly' }), ANY);
  assert.match(holdAns, /^a=recvonly/m);
  assert.equal(sdpPorts(holdAns).port, c.toA.port);
  assert.ok(/^o=- \d+ 2 /m.test(hold), 'o= version moved for the changed SDP');
  a.send(c.toA.port, randomBytes(160));
  await waitFor(() => b.rtpIn.length === 2, { timeoutMs: 5000, what: 'music on hold flows', intervalMs: 10 });
  // b re-INVITEs from a new socket (new port): the relay sends there.
  const b2 = await peer();
  const move = await engine.offer(c.id, 'b', b2.sdp(), ANY);
  assert.equal(sdpPorts(move).port, c.toA.port, 'a is offered the same relay port');
  await engine.answer(c.id, 'a', a.sdp(), ANY);
  a.send(c.toA.port, randomBytes(160));
  await waitFor(() => b2.rtpIn.length === 1, { timeoutMs: 5000, what: 'audio to the new address', intervalMs: 10 });
  b2.send(c.toB.port, randomBytes(160));
  await waitFor(() => a.rtpIn.length === 1, { timeoutMs: 5000, what: 'audio from the new address', intervalMs: 10 });
  // Re-offer with no change: the o= version stays (RFC 3264 8).
  const same1 = await engine.offer(c.id, 'b', b2.sdp(), ANY);
  await engine.answer(c.id, 'a', a.sdp(), ANY);
  const same2 = await engine.offer(c.id, 'b', b2.sdp(), ANY);
  await engine.answer(c.id, 'a', a.sdp(), ANY);
  assert.equal(/^o=.*$/m.exec(same1)![0], /^o=.*$/m.exec(same2)![0]);
  await engine.delete(c.id);
});

test('SRTP survives a re-INVITE: unchanged keys keep their contexts (no auth failure, no replay)', async () => {
  const a = await peer();
  const b = await peer();
  const aCrypto = a.srtpKey();
  const c = await call(a, b, { aSdp: a.sdp({ profile: 'RTP/SAVP', extra: [aCrypto] }), toB: RTP });
  a.useRelayKey(c.answer);
  for (let i = 0; i < 5; i++) a.send(c.toA.port, randomBytes(160));
  await waitFor(() => b.rtpIn.length === 5, { timeoutMs: 5000, what: 'before', intervalMs: 10 });
  const re = await engine.answer(c.id, 'a', a.sdp(), ANY).catch((e: unknown) => e);
  assert.ok(re instanceof MediaError, 'an answer from the offerer side, with no offer from b, is refused');
  await engine.offer(c.id, 'a', a.sdp({ profile: 'RTP/SAVP', extra: [aCrypto], direction: 'sendonly' }), RTP);
  const ans = await engine.answer(c.id, 'b', b.sdp({ direction: 'recvonly' }), ANY);
  assert.equal(/inline:(\S+)/.exec(ans)![1], /inline:(\S+)/.exec(c.answer)![1], 'the relay keeps its key toward a');
  for (let i = 0; i < 5; i++) a.send(c.toA.port, randomBytes(160));
  b.send(c.toB.port, randomBytes(160));
  await waitFor(() => b.rtpIn.length === 10 && a.rtpIn.length === 1, {
    timeoutMs: 5000,
    what: 'after',
    intervalMs: 10,
  });
  assert.equal(engine.stats(c.id)!.aToB.srtpFailures, 0);
  assert.ok(a.plainRtp()[0] !== undefined, 'a still decrypts');
  await engine.delete(c.id);
});

test('media timeout: a silent side is reported once; a held call uses the hold timeout', async () => {
  const e = new BuiltinMediaEngine({ address: '127.0.0.1', ports: mediaPortRange(20), timeout: 0.6, holdTimeout: 3 });
  const fired: [string, string][] = [];
  e.onTimeout((id, side) => fired.push([id, side]));
  try {
    const a = await peer();
    const b = await peer();
    const offer = await e.offer('t1', 'a', a.sdp(), ANY);
    const answer = await e.answer('t1', 'b', b.sdp(), ANY);
    const pa = sdpPorts(answer).port;
    void offer;
    const started = Date.now();
    const iv = setInterval(() => a.send(pa, randomBytes(160)), 20);
    await waitFor(() => fired.length > 0, { timeoutMs: 3000, what: 'timeout', intervalMs: 10 });
    clearInterval(iv);
    const took = Date.now() - started;
    assert.deepEqual(fired, [['t1', 'b']], 'b (silent) is the side that timed out');
    assert.ok(took >= 550 && took < 3000, `reported after ${took} ms`);
    await sleep(800);
    assert.equal(fired.length, 1, 'reported once');
    // Held call: silent for longer than `timeout` but under `holdTimeout`.
    await e.offer('t2', 'a', a.sdp({ direction: 'inactive' }), ANY);
    await e.answer('t2', 'b', b.sdp({ direction: 'inactive' }), ANY);
    await sleep(1300);
    assert.equal(fired.length, 1, 'no timeout while held');
    await waitFor(() => fired.length === 2, { timeoutMs: 3000, what: 'hold timeout', intervalMs: 10 });
    assert.equal(fired[1]![0], 't2');
  } finally {
    await e.close();
  }
});

test('ports: 60 calls ended every way (answered, refused answer, never answered, re-INVITEd) leave none held, and every port binds again', async () => {
  const small = await freeMediaRange(40);
  const e = new BuiltinMediaEngine({ address: '127.0.0.1', ports: small, timeout: 30, holdTimeout: 3600 });
  try {
    const a = await peer();
    const b = await peer();
    for (let i = 0; i < 60; i++) {
      const id = `p${i}`;
      const mux = i % 3 === 0;
      await e.offer(id, 'a', a.sdp({ mux }), ANY);
      if (i % 4 === 1) {
        await e.answer(id, 'b', b.sdp({ codecs: '18' }), ANY).catch(() => undefined);
      } else if (i % 4 !== 2) {
        await e.answer(id, 'b', b.sdp({ mux: i % 2 === 0 }), ANY);
        if (i % 4 === 3) {
          await e.offer(id, 'b', b.sdp({ direction: 'sendonly' }), ANY);
          await e.answer(id, 'a', a.sdp({ direction: 'recvonly' }), ANY);
        }
      }
      assert.ok(e.ports.inUse <= 4);
      await e.delete(id);
      assert.equal(e.ports.inUse, 0, `call ${i}`);
    }
    // 40 ports, 4 per call: 10 calls at once fill the range; the 11th gets 503.
    for (let i = 0; i < 10; i++) await e.offer(`f${i}`, 'a', a.sdp(), ANY);
    await assert.rejects(
      e.offer('f10', 'a', a.sdp(), ANY),
      (err: unknown) => err instanceof MediaError && err.sipStatus === 503,
    );
    assert.equal(e.ports.inUse, 40);
    for (let i = 0; i < 10; i++) await e.delete(`f${i}`);
    assert.equal(e.ports.inUse, 0);
    assert.equal(e.callCount, 0);
    for (let p = small.min; p <= small.max; p++) {
      const s = await bindUdp(p).catch(() => null);
      assert.ok(s !== null, `port ${p} is free again`);
      s.close();
    }
  } finally {
    await e.close();
  }
});

test('keys never reach the log: an SRTP call, a refused offer and a timeout logged at trace level', async () => {
  const { createLogger } = await import('../../src/log.js');
  let text = '';
  const log = createLogger('trace', { destination: { write: (s: string) => void (text += s) }, pretty: false });
  const e = new BuiltinMediaEngine({
    address: '127.0.0.1',
    ports: mediaPortRange(20),
    timeout: 0.3,
    holdTimeout: 0.3,
    log,
  });
  try {
    const a = await peer();
    const b = await peer();
    const crypto = a.srtpKey();
    const key = crypto.split('inline:')[1]!;
    const offer = await e.offer('k1', 'a', a.sdp({ profile: 'RTP/SAVP', extra: [crypto] }), SRTP);
    const answer = await e.answer('k1', 'b', b.sdp({ profile: 'RTP/SAVP', extra: [b.srtpKey()] }), ANY);
    await e
      .offer(
        'k2',
        'a',
        a.sdp({ profile: 'RTP/SAVP', extra: [`a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${key}|2^20|1:4`] }),
        ANY,
      )
      .catch(() => undefined);
    let timedOut = false;
    e.onTimeout(() => (timedOut = true));
    await waitFor(() => timedOut, { timeoutMs: 3000, what: 'timeout', intervalMs: 10 });
    assert.match(text, /media timeout/, 'the log was written');
    for (const k of [key, ...[offer, answer].map((s) => /inline:([^\s|]+)/.exec(s)![1]!)]) {
      assert.equal(text.includes(k), false, 'no key material in the log');
    }
  } finally {
    await e.close();
  }
});

test('IPv6: a relay on ::1 writes c=IN IP6 and relays between IPv6 peers; an IPv4 peer is refused with 488/301', async () => {
  const { createSocket } = await import('node:dgram');
  const bind6 = (): Promise<import('node:dgram').Socket> =>
    new Promise((resolve, reject) => {
      const s = createSocket('udp6');
      s.once('error', reject);
      s.bind(0, '::1', () => resolve(s));
    });
  const e = new BuiltinMediaEngine({ address: '::1', ports: mediaPortRange(20), timeout: 30, holdTimeout: 3600 });
  const sa = await bind6();
  const sb = await bind6();
  try {
    const sdp6 = (port: number): string =>
      [
        'v=0',
        'o=- 1 1 IN IP6 ::1',
        's=-',
        'c=IN IP6 ::1',
        't=0 0',
        `m=audio ${port} RTP/AVP 0`,
        'a=rtpmap:0 PCMU/8000',
        '',
      ].join('\r\n');
    const offer = await e.offer('v6', 'a', sdp6(sa.address().port), ANY);
    assert.match(offer, /^c=IN IP6 ::1$/m);
    assert.match(offer, /^o=- \d+ \d+ IN IP6 ::1$/m);
    const answer = await e.answer('v6', 'b', sdp6(sb.address().port), ANY);
    const got: Buffer[] = [];
    sb.on('message', (m) => got.push(m));
    const pkt = Buffer.concat([Buffer.from([0x80, 0, 0, 1, 0, 0, 0, 160, 0, 0, 0, 9]), randomBytes(160)]);
    sa.send(pkt, sdpPorts(answer).port, '::1');
    await waitFor(() => got.length === 1, { timeoutMs: 5000, what: 'IPv6 RTP', intervalMs: 10 });
    assert.deepEqual(got[0], pkt);
    const a = await peer();
    await assert.rejects(
      e.offer('v4', 'a', a.sdp(), ANY),
      (err: unknown) => err instanceof MediaError && err.warnCode === 301,
    );
  } finally {
    sa.close();
    sb.close();
    await e.close();
  }
});

test('a second answer to the same offer (183 with SDP, then 200 with other SDP) is applied: media goes to the new address', async () => {
  const a = await peer();
  const b = await peer();
  const b2 = await peer();
  const id = sid();
  await engine.offer(id, 'a', a.sdp(), ANY);
  const early = await engine.answer(id, 'b', b.sdp(), ANY);
  const final = await engine.answer(id, 'b', b2.sdp(), ANY);
  assert.equal(sdpPorts(final).port, sdpPorts(early).port, 'same relay port for a');
  a.send(sdpPorts(final).port, randomBytes(160));
  await waitFor(() => b2.rtpIn.length === 1, { timeoutMs: 5000, what: 'media to the final answerer', intervalMs: 10 });
  assert.equal(b.rtpIn.length, 0);
  await engine.delete(id);
});

test("no latching before the answer: a packet at the callee's relay port before the answer is dropped and does not capture the leg (SRTP keys come with the answer)", async () => {
  const a = await peer();
  const b = await peer();
  const id = sid();
  const offer = await engine.offer(id, 'a', a.sdp(), SRTP);
  const toB = sdpPorts(offer);
  // Someone (not the callee) sends to the port offered to the callee before any answer.
  const early = await bindUdp();
  early.send(a.packet(randomBytes(160)), toB.port, '127.0.0.1');
  await sleep(100);
  const crypto = b.srtpKey('AES_CM_128_HMAC_SHA1_80', 1);
  const toA = sdpPorts(await engine.answer(id, 'b', b.sdp({ profile: 'RTP/SAVP', extra: [crypto] }), ANY));
  assert.equal(a.rtpIn.length, 0, 'nothing relayed before the answer');
  // The callee's authenticated packets latch its leg and reach a; a's reach the callee, not the early sender.
  b.useRelayKey(offer, 1);
  b.send(toB.port, randomBytes(160));
  await waitFor(() => a.rtpIn.length === 1, { timeoutMs: 5000, what: "the callee's packet at a", intervalMs: 10 });
  const earlyGot: Buffer[] = [];
  early.on('message', (m) => earlyGot.push(m));
  a.send(toA.port, randomBytes(160));
  await waitFor(() => b.rtpIn.length === 1, { timeoutMs: 5000, what: "a's packet at the callee", intervalMs: 10 });
  assert.equal(earlyGot.length, 0);
  const st = engine.stats(id)!;
  assert.equal(st.bToA.strangers, 0, 'the early packet latched nothing');
  assert.equal(st.bToA.packets, 1);
  early.close();
  await engine.delete(id);
});

test('T.38 (udptl): datagrams that are not RTP relayed unchanged both ways and counted', async () => {
  const a = await peer();
  const b = await peer();
  const fax = (p: Peer): string =>
    [
      'v=0',
      'o=peer 1 1 IN IP4 127.0.0.1',
      's=-',
      'c=IN IP4 127.0.0.1',
      't=0 0',
      `m=image ${p.port} udptl t38`,
      'a=T38FaxVersion:0',
      'a=T38FaxUdpEC:t38UDPRedundancy',
    ].join('\r\n') + '\r\n';
  const c = await call(a, b, { aSdp: fax(a), bSdp: () => fax(b) });
  const toBPort = Number(/^m=image (\d+) udptl t38/m.exec(c.offer)?.[1]);
  const toAPort = Number(/^m=image (\d+) udptl t38/m.exec(c.answer)?.[1]);
  assert.ok(toBPort > 0 && toAPort > 0, 'both legs keep m=image udptl t38');
  // Short datagrams with no RTP version bits: the RTP path would drop them.
  const toB = [Buffer.from([0x00, 0x01, 0x02]), Buffer.from([0xff, 0xee, 0xdd, 0xcc, 0xbb])];
  const toA = [Buffer.from([0x10, 0x20, 0x30, 0x40])];
  for (const d of toB) a.rtp.send(d, toAPort, '127.0.0.1');
  for (const d of toA) b.rtp.send(d, toBPort, '127.0.0.1');
  await waitFor(() => b.rtpIn.length === toB.length && a.rtpIn.length === toA.length, {
    timeoutMs: 5000,
    what: 'udptl both ways',
    intervalMs: 10,
  });
  assert.deepEqual(
    b.rtpIn.map((r) => r.buf),
    toB,
  );
  assert.deepEqual(
    a.rtpIn.map((r) => r.buf),
    toA,
  );
  const st = engine.stats(c.id)!;
  assert.equal(st.aToB.packets, 2);
  assert.equal(st.aToB.bytes, 8);
  assert.equal(st.bToA.packets, 1);
  assert.equal(st.aToB.dropped, 0);
  await engine.delete(c.id);
});
