import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { checkAnswerCodecs, codecsOf, restrictCodecs, telephoneEventPts } from '../../src/media/sdp/codecs.js';
import { pickCrypto, readCryptoLine, redactSdp } from '../../src/media/sdp/crypto-attr.js';
import { describePeer, newOrigin, parseSdp, transportToward, writeLegSdp } from '../../src/media/sdp/rewrite.js';
import { MediaError } from '../../src/media/errors.js';

const KEY = randomBytes(30).toString('base64');

/** A WebRTC-ish offer with ICE, DTLS and BUNDLE leftovers, media-level c=, two m= lines. */
const OFFER = [
  'v=0',
  'o=pbx 123 456 IN IP4 192.0.2.10',
  's=call',
  't=0 0',
  'a=group:BUNDLE 0 1',
  'a=ice-ufrag:abcd',
  'm=audio 49170 RTP/SAVP 8 0 18 101 13',
  'c=IN IP4 192.0.2.10',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:18 G729/8000',
  'a=fmtp:18 annexb=no',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=ptime:20',
  'a=rtcp:49171',
  `a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:${KEY}|2^31`,
  'a=candidate:1 1 udp 2130706431 192.0.2.10 49170 typ host',
  'a=sendrecv',
  'm=video 0 RTP/AVP 96',
  'c=IN IP4 192.0.2.10',
  'a=rtpmap:96 H264/90000',
  '',
].join('\r\n');

test('describePeer reads address, ports, rtcp, crypto, direction; c=0.0.0.0 means the peer does not receive', () => {
  const [audio, video] = describePeer(parseSdp(OFFER));
  assert.equal(audio!.address, '192.0.2.10');
  assert.equal(audio!.port, 49170);
  assert.equal(audio!.rtcpPort, 49171);
  assert.equal(audio!.srtp, true);
  assert.equal(audio!.crypto.length, 1);
  assert.equal(audio!.direction, 'sendrecv');
  assert.equal(video!.port, 0);
  const held = describePeer(parseSdp(OFFER.replace(/c=IN IP4 192.0.2.10/g, 'c=IN IP4 0.0.0.0')));
  assert.equal(held[0]!.address, null);
  assert.equal(held[0]!.direction, 'sendonly');
  assert.equal(
    describePeer(parseSdp(OFFER.replace('a=rtcp:49171\r\n', '')))[0]!.rtcpPort,
    49171,
    'RTCP on port + 1 without a=rtcp',
  );
});

test('bad SDP is a MediaError 488, not a crash', () => {
  for (const bad of [
    '',
    'hello',
    'v=0\r\no=- 1 1 IN IP4 1.2.3.4\r\ns=-\r\nt=0 0\r\n',
    OFFER.replace(/c=IN IP4 192.0.2.10\r\n/g, ''),
    OFFER.replace('c=IN IP4 192.0.2.10', 'c=IN IP4 pbx.example'),
  ]) {
    assert.throws(
      () => describePeer(parseSdp(bad)),
      (e: unknown) => e instanceof MediaError && e.sipStatus === 488,
      JSON.stringify(bad.slice(0, 30)),
    );
  }
});

test('writeLegSdp: Trunkline address and ports, its crypto, no ICE/DTLS/BUNDLE, direction kept, origin replaced', () => {
  const sd = parseSdp(OFFER);
  const origin = newOrigin();
  const out = writeLegSdp(
    sd,
    [
      { port: 40000, rtcpPort: 40001, rtcpMux: false, transport: 'RTP/AVP', crypto: [] },
      { port: 0, rtcpPort: null, rtcpMux: false, transport: 'RTP/AVP', crypto: [] },
    ],
    '203.0.113.5',
    origin,
  );
  assert.match(out, /^c=IN IP4 203\.0\.113\.5$/m);
  assert.doesNotMatch(out, /192\.0\.2\.10|candidate|ice-ufrag|BUNDLE|crypto/);
  assert.match(out, /^m=audio 40000 RTP\/AVP 8 0 18 101 13$/m);
  assert.match(out, /^a=rtcp:40001$/m);
  assert.match(out, /^a=sendrecv$/m);
  assert.match(out, /^a=ptime:20$/m);
  assert.match(out, /^m=video 0 RTP\/AVP 96$/m);
  assert.match(out, new RegExp(`^o=- ${origin.id} 1 IN IP4 203\\.0\\.113\\.5$`, 'm'));
  // Same content again: same version; a change: version + 1.
  const again = writeLegSdp(
    sd,
    [
      { port: 40000, rtcpPort: 40001, rtcpMux: false, transport: 'RTP/AVP', crypto: [] },
      { port: 0, rtcpPort: null, rtcpMux: false, transport: 'RTP/AVP', crypto: [] },
    ],
    '203.0.113.5',
    origin,
  );
  assert.equal(again, out);
  const moved = writeLegSdp(
    sd,
    [
      {
        port: 40002,
        rtcpPort: null,
        rtcpMux: true,
        transport: 'RTP/SAVP',
        crypto: [{ id: 1, suite: 'AES_CM_128_HMAC_SHA1_32', config: 'inline:X' }],
      },
      { port: 0, rtcpPort: null, rtcpMux: false, transport: 'RTP/AVP', crypto: [] },
    ],
    '203.0.113.5',
    origin,
  );
  assert.match(moved, new RegExp(`^o=- ${origin.id} 2 `, 'm'));
  assert.match(moved, /^a=rtcp-mux$/m);
  assert.match(moved, /^a=rtcp:40002$/m);
  assert.match(moved, /^a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:X$/m);
});

test('codecs: restrict and reorder by name (static types named from RFC 3551), voice before telephone-event; no voice left is 488/305', () => {
  const m = structuredClone(parseSdp(OFFER).media[0]!);
  const kept = restrictCodecs(m, ['telephone-event', 'pcmu', 'PCMA']);
  assert.deepEqual(
    kept.map((c) => c.name),
    ['PCMU', 'PCMA', 'telephone-event'],
  );
  assert.equal(m.payloads, '0 8 101');
  assert.deepEqual(
    m.fmtp!.map((f) => f.payload),
    [101],
    'fmtp of removed G729 dropped',
  );
  assert.deepEqual(telephoneEventPts(kept), [101]);
  const m2 = structuredClone(parseSdp(OFFER).media[0]!);
  assert.throws(
    () => restrictCodecs(m2, ['G722', 'telephone-event']),
    (e: unknown) => e instanceof MediaError && e.warnCode === 305,
  );
  const m3 = structuredClone(parseSdp(OFFER).media[0]!);
  assert.equal(restrictCodecs(m3, []).length, 5, '[] keeps the offer');
});

test('answer check: a subset of the offer passes; a codec not offered, or only telephone-event, is refused', () => {
  const offered = codecsOf(parseSdp(OFFER).media[0]!);
  const ans = (fmt: string, maps: string[] = []): ReturnType<typeof parseSdp>['media'][0] =>
    parseSdp(
      [
        'v=0',
        'o=- 1 1 IN IP4 1.2.3.4',
        's=-',
        'c=IN IP4 1.2.3.4',
        't=0 0',
        `m=audio 5000 RTP/AVP ${fmt}`,
        ...maps,
        '',
      ].join('\r\n'),
    ).media[0]!;
  assert.deepEqual(
    checkAnswerCodecs(ans('8 101', ['a=rtpmap:101 telephone-event/8000']), offered).codecs.map((c) => c.pt),
    [8, 101],
  );
  assert.doesNotThrow(
    () => checkAnswerCodecs(ans('8 100', ['a=rtpmap:100 telephone-event/8000']), offered),
    'dynamic PT renumbered',
  );
  assert.throws(() => checkAnswerCodecs(ans('9'), offered), MediaError);
  assert.throws(
    () => checkAnswerCodecs(ans('8 18', ['a=rtpmap:8 G729/8000']), offered),
    MediaError,
    'same PT, other codec',
  );
  assert.throws(() => checkAnswerCodecs(ans('101', ['a=rtpmap:101 telephone-event/8000']), offered), MediaError);
});

test('answer check, tolerant where the media can be carried: a codec the other leg offered is relayed, an extra telephone-event nobody offered is dropped, a voice codec nobody offered is refused', () => {
  const sdp = (fmt: string, maps: string[] = []): ReturnType<typeof parseSdp>['media'][0] =>
    parseSdp(
      [
        'v=0',
        'o=- 1 1 IN IP4 1.2.3.4',
        's=-',
        'c=IN IP4 1.2.3.4',
        't=0 0',
        `m=audio 5000 RTP/AVP ${fmt}`,
        ...maps,
        '',
      ].join('\r\n'),
    ).media[0]!;
  // The caller offered PCMA, PCMU and telephone-event/101; the trunk's list let PCMA through only.
  const caller = codecsOf(sdp('8 0 101', ['a=rtpmap:101 telephone-event/8000']));
  const toCallee = codecsOf(sdp('8'));
  const pcmu = sdp('0 101', ['a=rtpmap:0 PCMU/8000', 'a=rtpmap:101 telephone-event/8000']);
  const r = checkAnswerCodecs(pcmu, toCallee, caller);
  assert.deepEqual(
    [r.codecs.map((c) => c.pt), r.relayed.map((c) => c.name), r.dropped],
    [[0, 101], ['PCMU', 'telephone-event'], []],
  );
  assert.equal(pcmu.payloads, '0 101', 'nothing taken out');
  // Without the other leg's offer (the old check) the same answer is refused.
  assert.throws(
    () => checkAnswerCodecs(sdp('0', ['a=rtpmap:0 PCMU/8000']), toCallee),
    (e: unknown) => e instanceof MediaError && e.sipStatus === 488,
  );
  // telephone-event that no leg offered: taken out of the answer, the voice codec stays.
  const callerNoDtmf = codecsOf(sdp('8 0'));
  const extra = sdp('8 101', ['a=rtpmap:101 telephone-event/8000', 'a=fmtp:101 0-15']);
  const e = checkAnswerCodecs(extra, toCallee, callerNoDtmf);
  assert.deepEqual(
    [e.codecs.map((c) => c.pt), e.relayed, e.dropped.map((c) => c.name)],
    [[8], [], ['telephone-event']],
  );
  assert.equal(extra.payloads, '8');
  assert.deepEqual([extra.rtp?.map((x) => x.payload), extra.fmtp?.map((x) => x.payload)], [[], []]);
  // The other leg offered telephone-event under another payload type: not the same format for it, so dropped too.
  assert.deepEqual(
    checkAnswerCodecs(sdp('8 96', ['a=rtpmap:96 telephone-event/8000']), toCallee, caller).dropped.map((c) => c.pt),
    [96],
  );
  // A voice codec no leg offered cannot be carried.
  assert.throws(
    () => checkAnswerCodecs(sdp('18', ['a=rtpmap:18 G729/8000']), toCallee, caller),
    (e2: unknown) => e2 instanceof MediaError && e2.warnCode === 305 && /G729\/18/.test(e2.warning),
  );
});

test('SDES lines: accepted suites and forms; MKI, session params, bad keys refused; keys redacted for logs', () => {
  const line = (suite: string, config: string, sessionConfig?: string) => ({
    id: 1,
    suite,
    config,
    ...(sessionConfig !== undefined && { sessionConfig }),
  });
  assert.equal(readCryptoLine(line('AES_CM_128_HMAC_SHA1_80', `inline:${KEY}`)).ok, true);
  assert.equal(readCryptoLine(line('AES_CM_128_HMAC_SHA1_32', `inline:${KEY}|2^20`)).ok, true);
  const bad: [ReturnType<typeof line>, RegExp][] = [
    [line('AES_256_CM_HMAC_SHA1_80', `inline:${KEY}`), /unsupported/],
    [line('F8_128_HMAC_SHA1_80', `inline:${KEY}`), /unsupported/],
    [line('AES_CM_128_HMAC_SHA1_80', `inline:${KEY}|2^20|1:4`), /MKI/],
    [line('AES_CM_128_HMAC_SHA1_80', `inline:${KEY}`, 'UNENCRYPTED_SRTP'), /session parameters/],
    [line('AES_CM_128_HMAC_SHA1_80', 'inline:c2hvcnQ='), /length/],
    [line('AES_CM_128_HMAC_SHA1_80', `inline:${KEY};inline:${KEY}`), /more than one/],
  ];
  for (const [l, why] of bad) {
    const v = readCryptoLine(l);
    assert.equal(v.ok, false);
    if (!v.ok) assert.match(v.reason, why);
  }
  const pick = pickCrypto([
    line('AES_256_CM_HMAC_SHA1_80', `inline:${KEY}`),
    { ...line('AES_CM_128_HMAC_SHA1_32', `inline:${KEY}`), id: 7 },
  ]);
  assert.ok(pick.ok && pick.key.tag === 7 && pick.key.suite === 'AES_CM_128_HMAC_SHA1_32', 'first acceptable line');
  assert.equal(redactSdp(OFFER).includes(KEY), false);
});

test('transportToward keeps the feedback flavour and udptl', () => {
  assert.equal(transportToward('RTP/AVPF', 'RTP/SAVP'), 'RTP/SAVPF');
  assert.equal(transportToward('RTP/SAVP', 'RTP/AVP'), 'RTP/AVP');
  assert.equal(transportToward('RTP/SAVP', 'as-offered'), 'RTP/SAVP');
  assert.equal(transportToward('udptl', 'RTP/SAVP'), 'udptl');
});

test("writeLegSdp: the peer's a=ssrc / a=ssrc-group / a=msid (cname naming its user and address) do not cross", () => {
  const sd = parseSdp(
    [
      'v=0',
      'o=- 1 1 IN IP4 192.0.2.7',
      's=-',
      'c=IN IP4 192.0.2.7',
      't=0 0',
      'a=msid-semantic: WMS stream',
      'm=audio 5004 RTP/AVP 8',
      'a=rtpmap:8 PCMA/8000',
      'a=ssrc:402660595 cname:sip:+912240003003@192.0.2.7',
      'a=ssrc-group:FID 402660595 402660596',
      'a=msid:stream track',
      'a=ptime:20',
      '',
    ].join('\r\n'),
  );
  const out = writeLegSdp(
    sd,
    [{ port: 40000, rtcpPort: 40001, rtcpMux: false, transport: 'RTP/AVP', crypto: [] }],
    '203.0.113.5',
    newOrigin(),
  );
  assert.ok(!out.includes('192.0.2.7'), out);
  assert.doesNotMatch(out, /a=ssrc|a=msid/);
  assert.match(out, /^a=ptime:20\r?$/m);
});
