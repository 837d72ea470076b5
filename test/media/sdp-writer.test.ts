/**
 * writeSdp (src/media/sdp/writer.ts) writes what sdp-transform's write()
 * writes, byte for byte: for SDPs of every kind the relay meets (SIPp and
 * PBX G.711, SDES, WebRTC with ICE, DTLS, BUNDLE and simulcast, T.38,
 * video, lines no grammar knows), as parsed and as writeLegSdp rewrites
 * them, and with properties added or removed one by one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sdpTransform, { type SessionDescription } from 'sdp-transform';
import { writeSdp } from '../../src/media/sdp/writer.js';
import { newOrigin, parseSdp, writeLegSdp } from '../../src/media/sdp/rewrite.js';

const lines = (...l: string[]): string => l.join('\r\n') + '\r\n';

const CORPUS: Record<string, string> = {
  sipp: lines(
    'v=0',
    'o=user1 53655765 2353687637 IN IP4 127.0.0.5',
    's=-',
    'c=IN IP4 127.0.0.5',
    't=0 0',
    'm=audio 6000 RTP/AVP 8 0 101',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-15',
    'a=ptime:20',
    'a=maxptime:150',
    'a=sendrecv',
  ),
  sdes: lines(
    'v=0',
    'o=- 1 2 IN IP4 10.0.0.1',
    's=call',
    'i=a session',
    'u=http://example.com/x',
    'e=ops@example.com',
    'p=+1 555 0100',
    'c=IN IP4 10.0.0.1',
    'b=AS:128',
    't=0 0',
    'a=recvonly',
    'm=audio 7000 RTP/SAVP 0 8 9 18 101',
    'b=TIAS:64000',
    'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 KDR=1',
    'a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj',
    'a=rtpmap:18 G729/8000',
    'a=fmtp:18 annexb=no',
    'a=rtpmap:101 telephone-event/8000',
    'a=fmtp:101 0-16',
    'a=rtcp:7001 IN IP4 10.0.0.1',
    'a=silenceSupp:off - - - -',
    'a=x-custom-thing:42',
    'a=inactive',
  ),
  webrtc: lines(
    'v=0',
    'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
    's=-',
    't=0 0',
    'a=group:BUNDLE 0 1',
    'a=extmap-allow-mixed',
    'a=msid-semantic: WMS stream1',
    'a=ice-lite',
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    'c=IN IP4 0.0.0.0',
    'a=rtcp:9 IN IP4 0.0.0.0',
    'a=candidate:1467250027 1 udp 2122260223 192.168.0.196 46243 typ host generation 0 network-id 1',
    'a=candidate:435653019 1 tcp 1845501695 192.168.0.196 0 typ host tcptype active generation 0',
    'a=candidate:3 1 udp 1686052607 203.0.113.9 3478 typ srflx raddr 192.168.0.196 rport 46243',
    'a=end-of-candidates',
    'a=ice-ufrag:Oyef',
    'a=ice-pwd:7tRzoRp0mL3gJpz4bKx2Pz8j',
    'a=ice-options:trickle',
    'a=fingerprint:sha-256 49:66:12:17:0D:1C:91:AE:57:4C:C6:36:DD:D5:97:D2:7D:62:C9:9A:7F:B9:A3:F4:70:03:E7:43:91:73:23:5E',
    'a=setup:actpass',
    'a=mid:0',
    'a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level',
    'a=extmap:2/sendonly http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time',
    'a=sendrecv',
    'a=msid:stream1 track1',
    'a=rtcp-mux',
    'a=rtcp-rsize',
    'a=rtpmap:111 opus/48000/2',
    'a=rtcp-fb:111 transport-cc',
    'a=rtcp-fb:* nack',
    'a=fmtp:111 minptime=10;useinbandfec=1',
    'a=rtpmap:63 red/48000/2',
    'a=fmtp:63 111/111',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
    'a=ssrc:1001 cname:sip:user@192.168.0.196',
    'a=ssrc:1001 msid:stream1 track1',
    'a=ssrc-group:FID 1001 1002',
    'm=video 9 UDP/TLS/RTP/SAVPF 96 97',
    'c=IN IP4 0.0.0.0',
    'b=AS:2000',
    'a=mid:1',
    'a=rtpmap:96 VP8/90000',
    'a=rtcp-fb:96 goog-remb',
    'a=rtcp-fb:96 ccm fir',
    'a=rtcp-fb:96 nack pli',
    'a=rtcp-fb-trr-int:96 100',
    'a=rtpmap:97 rtx/90000',
    'a=fmtp:97 apt=96',
    'a=framerate:30',
    'a=imageattr:96 send [x=1280,y=720] recv [x=1280,y=720]',
    'a=rid:h send',
    'a=rid:l send max-width=320;max-height=180',
    'a=simulcast:send h;l',
    'a=sctpmap:5000 webrtc-datachannel 1024',
    'a=sendonly',
  ),
  t38: lines(
    'v=0',
    'o=- 5 6 IN IP6 ::1',
    's=fax',
    'c=IN IP6 ::1',
    't=0 0',
    'm=image 5000 udptl t38',
    'a=T38FaxVersion:0',
    'a=T38MaxBitRate:14400',
    'a=T38FaxRateManagement:transferredTCF',
    'a=T38FaxMaxBuffer:262',
    'a=T38FaxMaxDatagram:176',
    'a=T38FaxUdpEC:t38UDPRedundancy',
    'm=audio 0 RTP/AVP 8',
    'a=rtpmap:8 PCMA/8000',
  ),
  sparse: lines('v=0', 'o=- 1 1 IN IP4 1.2.3.4', 's= ', 't=0 0', 'm=audio 1 RTP/AVP 0', 'a=ptime:30'),
};

function same(sd: SessionDescription, what: string): void {
  const a = sdpTransform.write(structuredClone(sd));
  const b = writeSdp(structuredClone(sd));
  assert.equal(b, a, what);
}

test('writeSdp writes what sdp-transform writes, for each SDP of the corpus as parsed', () => {
  for (const [name, text] of Object.entries(CORPUS)) same(sdpTransform.parse(text), name);
});

test('... with each property of the session and of each section removed in turn, and with defaults missing', () => {
  for (const [name, text] of Object.entries(CORPUS)) {
    const sd = sdpTransform.parse(text) as unknown as Record<string, unknown> & { media: Record<string, unknown>[] };
    for (const k of Object.keys(sd)) {
      if (k === 'media') continue;
      const copy = structuredClone(sd);
      delete copy[k];
      same(copy as unknown as SessionDescription, `${name} without ${k}`);
    }
    sd.media.forEach((m, i) => {
      for (const k of Object.keys(m)) {
        const copy = structuredClone(sd);
        delete copy.media[i]![k];
        same(copy as unknown as SessionDescription, `${name} m${i} without ${k}`);
      }
    });
  }
});

test('... as writeLegSdp rewrites them (ports, RTCP, SDES keys, direction)', () => {
  for (const [name, text] of Object.entries(CORPUS)) {
    const sd = parseSdp(text);
    const plans = sd.media.map((_, i) => ({
      port: 40000 + 2 * i,
      rtcpPort: 40001 + 2 * i,
      rtcpMux: i === 0,
      transport: 'RTP/SAVP' as const,
      crypto: [{ id: 1, suite: 'AES_CM_128_HMAC_SHA1_80', config: 'inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz' }],
      direction: 'sendrecv' as const,
    }));
    const out = writeLegSdp(sd, plans, '127.0.0.1', newOrigin());
    assert.equal(writeSdp(sdpTransform.parse(out)), sdpTransform.write(sdpTransform.parse(out)), name);
    assert.match(out, /^m=\w+ 40000 RTP\/SAVP /m, name);
  }
});
