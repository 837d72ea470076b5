/**
 * A fixed corpus of messages as they cross a SIP trunk edge (CRLF line ends),
 * modelled on the carrier traces in the project's background documents: an
 * inbound INVITE from the carrier's SBC with an SRTP offer (PCMA, PCMU,
 * telephone-event, a=crypto), the 100/180/200 coming back from the PBX side,
 * a digest-authenticated REGISTER from an enterprise PBX and an in-dialog BYE.
 *
 * Addresses are documentation ranges: the carrier at 203.0.113.x, this edge at
 * 192.0.2.1, the enterprise side at 198.51.100.x; names under example.com.
 * Content-Length is computed from the body, so edits cannot make it wrong.
 */

export interface CorpusMessage {
  /** Short label, e.g. "INVITE" or "200 OK". */
  readonly name: string;
  /** The message as received from the socket. */
  readonly buf: Buffer;
  readonly isRequest: boolean;
  /** Max-Forwards as received (requests), or null. */
  readonly maxForwards: number | null;
  /** Number of Route values (requests), 0 when none. */
  readonly routeCount: number;
  /** Number of Via values. */
  readonly viaCount: number;
}

const CALL_ID = '3c2a1e6f8b7d4e0fa1b2c3d4e5f60718@sbc1.carrier.example.com';
const CARRIER_TAG = 'as2aefddf2';
const PBX_TAG = '8d6f0c2e-1b7a';
const CALLER = '+4915112345678';
const CALLEE = '+4930123456';

/** Via lines of the inbound INVITE, as the carrier's SBC and its core sent them. */
const VIA_CARRIER_SBC = `Via: SIP/2.0/UDP 203.0.113.10:5060;branch=z9hG4bK-6f3c2a1e-8b7d-4c1a;rport`;
const VIA_CARRIER_CORE = `Via: SIP/2.0/UDP 203.0.113.45:5060;received=203.0.113.45;branch=z9hG4bK2414a7e0`;
/** This edge's Via, as the PBX side returns it on responses. */
const VIA_EDGE = `Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK7e91c0d4a35f;received=192.0.2.1`;

const OFFER_SDP = [
  'v=0',
  'o=root 1683048786 1683048786 IN IP4 203.0.113.60',
  's=carrier-sbc',
  'c=IN IP4 203.0.113.60',
  't=0 0',
  'm=audio 37456 RTP/SAVP 8 0 96',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:96 telephone-event/8000',
  'a=fmtp:96 0-15',
  'a=ptime:20',
  'a=sendrecv',
  'a=rtcp:37457',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:d0RmdmcmVCspeEc3QGZiNWpVLFJhQX1cfHAwJSoj|2^31',
  'a=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:NzB4d1BINUAvLEw6UzF3WSJ+PSdFcGdUJShpX1Zj|2^31',
  '',
].join('\r\n');

const ANSWER_SDP = [
  'v=0',
  'o=- 1002281923 1002281924 IN IP4 198.51.100.30',
  's=pbx',
  'c=IN IP4 198.51.100.30',
  't=0 0',
  'm=audio 18232 RTP/SAVP 8 96',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:96 telephone-event/8000',
  'a=fmtp:96 0-16',
  'a=ptime:20',
  'a=maxptime:150',
  'a=sendrecv',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^31',
  '',
].join('\r\n');

const ALLOW = 'Allow: INVITE, ACK, CANCEL, OPTIONS, BYE, REFER, SUBSCRIBE, NOTIFY, INFO, PUBLISH, MESSAGE';

interface Spec {
  name: string;
  startLine: string;
  headers: string[];
  body?: string;
  maxForwards?: number;
  routeCount?: number;
  viaCount: number;
}

const SPECS: Spec[] = [
  {
    name: 'INVITE',
    startLine: `INVITE sip:${CALLEE}@pbx.example.com;user=phone SIP/2.0`,
    headers: [
      VIA_CARRIER_SBC,
      VIA_CARRIER_CORE,
      `Record-Route: <sip:203.0.113.10:5060;lr;ftag=${CARRIER_TAG}>`,
      `Route: <sip:192.0.2.1:5060;lr>, <sip:198.51.100.20:5060;lr;transport=udp>`,
      'Max-Forwards: 69',
      `From: "${CALLER}" <sip:${CALLER}@carrier.example.com;user=phone>;tag=${CARRIER_TAG}`,
      `To: <sip:${CALLEE}@pbx.example.com;user=phone>`,
      `Call-ID: ${CALL_ID}`,
      'CSeq: 102 INVITE',
      `Contact: <sip:${CALLER}@203.0.113.45:5060;transport=udp>`,
      ALLOW,
      'Supported: replaces, timer',
      'User-Agent: CarrierSBC/4.2.1',
      `P-Asserted-Identity: "${CALLER}" <sip:${CALLER}@carrier.example.com;user=phone>`,
      'Content-Type: application/sdp',
    ],
    body: OFFER_SDP,
    maxForwards: 69,
    routeCount: 2,
    viaCount: 2,
  },
  {
    name: '100 Trying',
    startLine: 'SIP/2.0 100 Trying',
    headers: [
      VIA_EDGE,
      VIA_CARRIER_SBC.replace(';rport', ';rport=5060'),
      VIA_CARRIER_CORE,
      `From: "${CALLER}" <sip:${CALLER}@carrier.example.com;user=phone>;tag=${CARRIER_TAG}`,
      `To: <sip:${CALLEE}@pbx.example.com;user=phone>`,
      `Call-ID: ${CALL_ID}`,
      'CSeq: 102 INVITE',
      'Server: EnterprisePBX/16.2.0',
    ],
    viaCount: 3,
  },
  {
    name: '180 Ringing',
    startLine: 'SIP/2.0 180 Ringing',
    headers: [
      VIA_EDGE,
      VIA_CARRIER_SBC.replace(';rport', ';rport=5060'),
      VIA_CARRIER_CORE,
      'Record-Route: <sip:198.51.100.20:5060;lr;transport=udp>',
      'Record-Route: <sip:192.0.2.1:5060;lr>',
      `Record-Route: <sip:203.0.113.10:5060;lr;ftag=${CARRIER_TAG}>`,
      `From: "${CALLER}" <sip:${CALLER}@carrier.example.com;user=phone>;tag=${CARRIER_TAG}`,
      `To: <sip:${CALLEE}@pbx.example.com;user=phone>;tag=${PBX_TAG}`,
      `Call-ID: ${CALL_ID}`,
      'CSeq: 102 INVITE',
      `Contact: <sip:${CALLEE}@198.51.100.30:5060;transport=udp>`,
      ALLOW,
      'Server: EnterprisePBX/16.2.0',
    ],
    viaCount: 3,
  },
  {
    name: '200 OK',
    startLine: 'SIP/2.0 200 OK',
    headers: [
      VIA_EDGE,
      VIA_CARRIER_SBC.replace(';rport', ';rport=5060'),
      VIA_CARRIER_CORE,
      'Record-Route: <sip:198.51.100.20:5060;lr;transport=udp>',
      'Record-Route: <sip:192.0.2.1:5060;lr>',
      `Record-Route: <sip:203.0.113.10:5060;lr;ftag=${CARRIER_TAG}>`,
      `From: "${CALLER}" <sip:${CALLER}@carrier.example.com;user=phone>;tag=${CARRIER_TAG}`,
      `To: <sip:${CALLEE}@pbx.example.com;user=phone>;tag=${PBX_TAG}`,
      `Call-ID: ${CALL_ID}`,
      'CSeq: 102 INVITE',
      `Contact: <sip:${CALLEE}@198.51.100.30:5060;transport=udp>`,
      ALLOW,
      'Supported: replaces, timer',
      'Server: EnterprisePBX/16.2.0',
      'Content-Type: application/sdp',
    ],
    body: ANSWER_SDP,
    viaCount: 3,
  },
  {
    name: 'REGISTER',
    startLine: 'REGISTER sip:trunk.example.com SIP/2.0',
    headers: [
      'Via: SIP/2.0/UDP 198.51.100.30:5060;branch=z9hG4bK-524287-1---cc11593581af6519;rport',
      'Max-Forwards: 70',
      'Contact: <sip:pbx-main@198.51.100.30:5060;transport=udp>;expires=3600;+sip.instance="<urn:uuid:4f1c8a3e-5b2d-4e7f-9a6c-1d0b3e2f8a71>"',
      'To: <sip:pbx-main@trunk.example.com>',
      'From: <sip:pbx-main@trunk.example.com>;tag=47a61272',
      'Call-ID: 94385YTY3ODNlNzE1YjE5MmY4NmQ3ZWUyZDAzM2E0YzBkM2I',
      'CSeq: 2 REGISTER',
      'Expires: 3600',
      ALLOW,
      'Supported: path, outbound',
      'User-Agent: EnterprisePBX/16.2.0',
      'Authorization: Digest username="pbx-main", realm="trunk.example.com", nonce="Y2QzZjE5ODctOWE3Yy00ZDFlLWI2ZTQtZmQ4MjA0NjE1YTc0", uri="sip:trunk.example.com", response="6629fae49393a05397450978507c4ef1", algorithm=MD5, cnonce="0a4f113b", qop=auth, nc=00000001',
    ],
    maxForwards: 70,
    viaCount: 1,
  },
  {
    name: 'BYE',
    startLine: `BYE sip:${CALLER}@203.0.113.45:5060;transport=udp SIP/2.0`,
    headers: [
      'Via: SIP/2.0/UDP 198.51.100.20:5060;branch=z9hG4bK3f9a7c5d.1;rport',
      'Via: SIP/2.0/UDP 198.51.100.30:5060;received=198.51.100.30;branch=z9hG4bK5d3f9a7c;rport=5060',
      'Max-Forwards: 69',
      'Route: <sip:192.0.2.1:5060;lr>',
      `Route: <sip:203.0.113.10:5060;lr;ftag=${CARRIER_TAG}>`,
      `From: <sip:${CALLEE}@pbx.example.com;user=phone>;tag=${PBX_TAG}`,
      `To: "${CALLER}" <sip:${CALLER}@carrier.example.com;user=phone>;tag=${CARRIER_TAG}`,
      `Call-ID: ${CALL_ID}`,
      'CSeq: 3 BYE',
      'User-Agent: EnterprisePBX/16.2.0',
      'Reason: Q.850;cause=16;text="Normal call clearing"',
    ],
    maxForwards: 69,
    routeCount: 2,
    viaCount: 2,
  },
];

function build(spec: Spec): CorpusMessage {
  const body = spec.body ?? '';
  const head = [spec.startLine, ...spec.headers, `Content-Length: ${Buffer.byteLength(body)}`, '', ''].join('\r\n');
  return {
    name: spec.name,
    buf: Buffer.from(head + body, 'utf8'),
    isRequest: !spec.startLine.startsWith('SIP/2.0 '),
    maxForwards: spec.maxForwards ?? null,
    routeCount: spec.routeCount ?? 0,
    viaCount: spec.viaCount,
  };
}

/** The corpus, in a fixed order (one call's worth of signalling plus a REGISTER). */
export const CORPUS: readonly CorpusMessage[] = SPECS.map(build);
