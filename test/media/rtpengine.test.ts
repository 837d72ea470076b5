/**
 * The rtpengine ng client against the real daemon (Debian rtpengine-daemon,
 * userspace), and rtpengine as the second SRTP implementation our SRTP is
 * checked against: it encrypts what we decrypt and decrypts what we encrypt.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { RtpengineMediaEngine } from '../../src/media/rtpengine.js';
import { BuiltinMediaEngine } from '../../src/media/builtin.js';
import type { LegMediaOptions } from '../../src/media/engine.js';
import { MediaError } from '../../src/media/errors.js';
import { freePort } from '../helpers/ports.js';
import { mediaPortRange, Peer, sdpPorts, sleep } from './helpers.js';
import { waitFor } from '../helpers/wait.js';
import { rtpengineSkipReason, startRtpengine, type RtpengineDaemon } from './rtpengine-daemon.js';

const ANY: LegMediaOptions = { profile: 'as-offered', codecs: [] };
const skip = rtpengineSkipReason();

/** The crypto tag rtpengine gave a suite in its SDP. */
function tagOf(sdp: string, suite: string): number {
  const m = new RegExp(`^a=crypto:(\\d+) ${suite} `, 'm').exec(sdp);
  assert.ok(m, `rtpengine offered ${suite}`);
  return Number(m[1]);
}

describe('rtpengine ng client, against rtpengine-daemon (userspace)', { skip }, () => {
  let daemon: RtpengineDaemon;
  let engine: RtpengineMediaEngine;
  const peers: Peer[] = [];
  const peer = async (): Promise<Peer> => {
    const p = await Peer.create();
    peers.push(p);
    return p;
  };
  let n = 0;
  const sid = (): string => `rte-${process.pid}-${++n}`;

  before(async () => {
    daemon = await startRtpengine();
    engine = new RtpengineMediaEngine({
      ng: { host: '127.0.0.1', port: daemon.ngPort },
      timeout: 1,
      holdTimeout: 3600,
      pollMs: 200,
    });
  });
  after(async () => {
    await engine?.close();
    await daemon?.stop();
    for (const p of peers) p.close();
  });

  test('ping, and an RTP call: offer/answer rewrite both SDPs to rtpengine; media relayed; delete returns per-direction figures', async () => {
    assert.equal(await engine.ping(), true);
    const a = await peer();
    const b = await peer();
    const id = sid();
    const offer = await engine.offer(id, 'a', a.sdp(), { profile: 'as-offered', codecs: ['PCMA', 'telephone-event'] });
    const o = sdpPorts(offer);
    assert.ok(o.port >= daemon.ports.min && o.port <= daemon.ports.max, 'rtpengine port in b SDP');
    assert.equal(o.payloads, '8 101', 'PCMU removed by our codec restriction');
    const answer = await engine.answer(id, 'b', b.sdp({ codecs: '8 101' }), ANY);
    const an = sdpPorts(answer);
    assert.ok(an.port >= daemon.ports.min && an.port <= daemon.ports.max);
    const sent: Buffer[] = [];
    for (let i = 0; i < 10; i++) sent.push(a.send(an.port, randomBytes(160)));
    for (let i = 0; i < 4; i++) b.send(o.port, randomBytes(160));
    await waitFor(() => b.rtpIn.length === 10 && a.rtpIn.length === 4, {
      timeoutMs: 3000,
      what: 'RTP through rtpengine',
      intervalMs: 10,
    });
    assert.deepEqual(
      b.rtpIn.map((r) => r.buf.subarray(12)),
      sent.map((p) => p.subarray(12)),
    );
    await engine.query(id);
    const st = await engine.delete(id);
    assert.equal(st.aToB.packets, 10);
    assert.equal(st.aToB.bytes, 1720);
    assert.equal(st.bToA.packets, 4);
  });

  test('an answer with a codec only the caller was offered is relayed (PCMU to a PCMA-only offer); one nobody offered is refused before rtpengine sees it', async () => {
    const a = await peer();
    const b = await peer();
    const id = sid();
    const offer = await engine.offer(id, 'a', a.sdp(), { profile: 'as-offered', codecs: ['PCMA'] });
    assert.equal(sdpPorts(offer).payloads, '8');
    const answer = await engine.answer(id, 'b', b.sdp({ codecs: '0' }), ANY);
    const an = sdpPorts(answer);
    assert.equal(an.payloads, '0', 'the caller is answered PCMU, a codec it offered');
    const o = sdpPorts(offer);
    for (let i = 0; i < 5; i++) a.send(an.port, randomBytes(160), 0);
    for (let i = 0; i < 5; i++) b.send(o.port, randomBytes(160), 0);
    await waitFor(() => b.rtpIn.length === 5 && a.rtpIn.length === 5, {
      timeoutMs: 3000,
      what: 'PCMU both ways through rtpengine',
      intervalMs: 10,
    });
    await engine.delete(id);
    const id2 = sid();
    await engine.offer(id2, 'a', a.sdp(), { profile: 'as-offered', codecs: ['PCMA'] });
    await assert.rejects(
      engine.answer(id2, 'b', b.sdp({ codecs: '18', extra: ['a=rtpmap:18 G729/8000'] }), ANY),
      (e: unknown) => e instanceof MediaError && e.sipStatus === 488,
    );
    await engine.delete(id2);
  });

  for (const suite of ['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32'] as const) {
    test(`SRTP interop ${suite}: we decrypt what rtpengine encrypts and rtpengine decrypts what we encrypt (RTP and SRTCP)`, async () => {
      const a = await peer(); // plain RTP side
      const b = await peer(); // SRTP side, our SrtpContext
      const id = sid();
      const offer = await engine.offer(id, 'a', a.sdp(), { profile: 'RTP/SAVP', codecs: [] });
      assert.equal(sdpPorts(offer).profile, 'RTP/SAVP');
      assert.doesNotMatch(offer, /NULL_HMAC|a=fingerprint|a=setup/, 'no unencrypted suites, no DTLS');
      const tag = tagOf(offer, suite);
      b.useRelayKey(offer, tag);
      const answer = await engine.answer(id, 'b', b.sdp({ profile: 'RTP/SAVP', extra: [b.srtpKey(suite, tag)] }), ANY);
      assert.equal(sdpPorts(answer).profile, 'RTP/AVP');
      const toB = sdpPorts(offer);
      const toA = sdpPorts(answer);
      // a -> rtpengine (encrypts) -> b (we decrypt).
      const sent: Buffer[] = [];
      for (let i = 0; i < 20; i++) sent.push(a.send(toA.port, randomBytes(160)));
      await waitFor(() => b.rtpIn.length === 20, { timeoutMs: 3000, what: 'SRTP from rtpengine', intervalMs: 10 });
      assert.equal(b.rtpIn[0]!.buf.length, 172 + (suite.endsWith('80') ? 10 : 4));
      assert.deepEqual(b.plainRtp(), sent, 'our SRTP decrypts and authenticates rtpengine output');
      // b (we encrypt) -> rtpengine (decrypts) -> a.
      const back: Buffer[] = [];
      for (let i = 0; i < 20; i++) back.push(b.send(toB.port, randomBytes(160)));
      await waitFor(() => a.rtpIn.length === 20, { timeoutMs: 3000, what: 'RTP from rtpengine', intervalMs: 10 });
      assert.deepEqual(
        a.rtpIn.map((r) => r.buf),
        back,
        'rtpengine decrypts and authenticates our SRTP',
      );
      // SRTCP from b -> plain RTCP at a.
      const rr = b.sendRr(toB.rtcp!, 5, 40);
      await waitFor(() => a.rtcpIn.length >= 1, { timeoutMs: 3000, what: 'RTCP from rtpengine', intervalMs: 10 });
      assert.deepEqual(a.rtcpIn[0]!.buf.subarray(0, 32), rr, 'rtpengine decrypts our SRTCP');
      await engine.delete(id);
    });
  }

  test('the built-in relay SRTP leg talks to rtpengine: RTP -> builtin (encrypts) -> rtpengine (decrypts) -> RTP, and back', async () => {
    const builtin = new BuiltinMediaEngine({
      address: '127.0.0.1',
      ports: mediaPortRange(20),
      timeout: 30,
      holdTimeout: 3600,
    });
    try {
      const a = await peer();
      const c = await peer();
      const id = sid();
      const toR = await builtin.offer(id, 'a', a.sdp(), { profile: 'RTP/SAVP', codecs: [] });
      const toC = await engine.offer(id, 'a', toR, { profile: 'RTP/AVP', codecs: [] });
      const fromR = await engine.answer(id, 'b', c.sdp(), ANY);
      assert.equal(sdpPorts(fromR).profile, 'RTP/SAVP');
      const toA = await builtin.answer(id, 'b', fromR, ANY);
      const sent: Buffer[] = [];
      for (let i = 0; i < 20; i++) sent.push(a.send(sdpPorts(toA).port, randomBytes(160)));
      await waitFor(() => c.rtpIn.length === 20, { timeoutMs: 3000, what: 'audio at c', intervalMs: 10 });
      assert.deepEqual(
        c.rtpIn.map((r) => r.buf),
        sent,
      );
      const back: Buffer[] = [];
      for (let i = 0; i < 20; i++) back.push(c.send(sdpPorts(toC).port, randomBytes(160)));
      await waitFor(() => a.rtpIn.length === 20, { timeoutMs: 3000, what: 'audio at a', intervalMs: 10 });
      assert.deepEqual(
        a.rtpIn.map((r) => r.buf),
        back,
      );
      assert.equal(builtin.stats(id)!.bToA.srtpFailures, 0);
      await engine.delete(id);
      await builtin.delete(id);
    } finally {
      await builtin.close();
    }
  });

  test('a call rtpengine no longer knows (its own timeout removed it) is reported', async () => {
    const a = await peer();
    const b = await peer();
    const id = sid();
    const fired: string[] = [];
    engine.onTimeout((s, side) => {
      if (s === id) fired.push(side);
    });
    await engine.offer(id, 'a', a.sdp(), ANY);
    await engine.answer(id, 'b', b.sdp(), ANY);
    // rtpengine drops the call behind the engine's back.
    const r = await engine.ng.command({ command: 'delete', 'call-id': id });
    assert.equal(r.result, 'ok');
    await waitFor(() => fired.length > 0, { timeoutMs: 5000, what: 'report of the vanished call', intervalMs: 10 });
    assert.equal(fired.length, 1);
    await engine.delete(id);
  });

  test('re-INVITE hold through rtpengine keeps the call; a silent side is reported by polling', async () => {
    const a = await peer();
    const b = await peer();
    const id = sid();
    const fired: string[] = [];
    engine.onTimeout((s, side) => {
      if (s === id) fired.push(side);
    });
    const offer = await engine.offer(id, 'a', a.sdp(), ANY);
    const answer = await engine.answer(id, 'b', b.sdp(), ANY);
    const hold = await engine.offer(id, 'a', a.sdp({ direction: 'sendonly' }), ANY);
    assert.match(hold, /a=sendonly/);
    assert.equal(sdpPorts(hold).port, sdpPorts(offer).port, 'same rtpengine port toward b');
    await engine.answer(id, 'b', b.sdp({ direction: 'recvonly' }), ANY);
    await engine.offer(id, 'a', a.sdp(), ANY);
    await engine.answer(id, 'b', b.sdp(), ANY);
    const iv = setInterval(() => a.send(sdpPorts(answer).port, randomBytes(160)), 20);
    try {
      await waitFor(() => fired.length > 0, { timeoutMs: 5000, what: 'timeout report', intervalMs: 10 });
    } finally {
      clearInterval(iv);
    }
    assert.deepEqual(fired, ['b']);
    await engine.delete(id);
  });
});

test('an ng address where nothing answers fails the offer with MediaError 503 after the retries', async () => {
  const port = await freePort();
  const e = new RtpengineMediaEngine({
    ng: { host: '127.0.0.1', port },
    timeout: 30,
    holdTimeout: 3600,
    retryMs: 100,
    tries: 3,
  });
  const a = await Peer.create();
  try {
    const t0 = Date.now();
    await assert.rejects(
      e.offer('x', 'a', a.sdp(), ANY),
      (err: unknown) => err instanceof MediaError && err.sipStatus === 503,
    );
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 2000, `failed after ${took} ms`);
    assert.equal(e.stats('x'), null);
  } finally {
    a.close();
    await sleep(0);
    await e.close();
  }
});
