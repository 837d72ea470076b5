/** Captured-style messages of a SIP trunk (CRLF line endings), for parser tests and fuzzing. */

function crlf(lines: string[]): Buffer {
  return Buffer.from(lines.join('\r\n'), 'utf8');
}

const SDP = [
  'v=0',
  'o=- 1700000000 1700000000 IN IP4 203.0.113.10',
  's=-',
  'c=IN IP4 203.0.113.10',
  't=0 0',
  'm=audio 16384 RTP/SAVP 8 0 101',
  'a=rtpmap:8 PCMA/8000',
  'a=rtpmap:0 PCMU/8000',
  'a=rtpmap:101 telephone-event/8000',
  'a=fmtp:101 0-16',
  'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz',
  'a=ptime:20',
  'a=sendrecv',
  '',
].join('\r\n');

export const INVITE = crlf([
  'INVITE sip:+912240001234@trunk.example.com;transport=tls SIP/2.0',
  'Via: SIP/2.0/TLS 203.0.113.10:5061;branch=z9hG4bK-524287-1---a0c1d2e3f4;rport',
  'Max-Forwards: 70',
  'Record-Route: <sip:203.0.113.1:5061;transport=tls;lr>',
  'Contact: <sip:+14155550100@203.0.113.10:5061;transport=tls>',
  'To: <sip:+912240001234@trunk.example.com>',
  'From: "Carrier" <sip:+14155550100@carrier.example.net>;tag=9fxced76sl',
  'Call-ID: 3848276298220188511@203.0.113.10',
  'CSeq: 1 INVITE',
  'Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK',
  'Supported: replaces, timer, 100rel',
  'P-Asserted-Identity: <sip:+14155550100@carrier.example.net>',
  'User-Agent: CarrierSBC/4.2',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
]);

export const OK_200 = crlf([
  'SIP/2.0 200 OK',
  'Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK776asdhds;received=192.0.2.1',
  'Via: SIP/2.0/TLS 203.0.113.10:5061;branch=z9hG4bK-524287-1---a0c1d2e3f4;rport=5061',
  'Record-Route: <sip:192.0.2.1;lr>',
  'To: <sip:+912240001234@trunk.example.com>;tag=a6c85cf',
  'From: "Carrier" <sip:+14155550100@carrier.example.net>;tag=9fxced76sl',
  'Call-ID: 3848276298220188511@203.0.113.10',
  'CSeq: 1 INVITE',
  'Contact: <sip:pbx@198.51.100.7:5060>',
  'Content-Type: application/sdp',
  `Content-Length: ${Buffer.byteLength(SDP)}`,
  '',
  SDP,
]);

export const REGISTER = crlf([
  'REGISTER sip:trunk.example.com SIP/2.0',
  'Via: SIP/2.0/UDP 198.51.100.7:5060;branch=z9hG4bKnashds7;rport',
  'Max-Forwards: 70',
  'To: <sip:pbx100@trunk.example.com>',
  'From: <sip:pbx100@trunk.example.com>;tag=456248',
  'Call-ID: 843817637684230@998sdasdh09',
  'CSeq: 1826 REGISTER',
  'Contact: <sip:pbx100@198.51.100.7:5060>;expires=3600;+sip.instance="<urn:uuid:00000000-0000-1000-8000-AABBCCDDEEFF>";reg-id=1',
  'Authorization: Digest username="pbx100", realm="trunk.example.com", nonce="ea9c8e88df84f1cec4341ae6cbe5a359", uri="sip:trunk.example.com", response="dfe56131d1958046689d83306477ecc", algorithm=MD5, qop=auth, nc=00000001, cnonce="0a4f113b"',
  'Expires: 3600',
  'Content-Length: 0',
  '',
  '',
]);

export const BYE = crlf([
  'BYE sip:pbx@198.51.100.7:5060 SIP/2.0',
  'Via: SIP/2.0/TLS 203.0.113.10:5061;branch=z9hG4bK-524287-1---b1;rport',
  'Max-Forwards: 70',
  'Route: <sip:203.0.113.1:5061;transport=tls;lr>',
  'To: <sip:+912240001234@trunk.example.com>;tag=a6c85cf',
  'From: "Carrier" <sip:+14155550100@carrier.example.net>;tag=9fxced76sl',
  'Call-ID: 3848276298220188511@203.0.113.10',
  'CSeq: 2 BYE',
  'Content-Length: 0',
  '',
  '',
]);

export const TRYING = crlf([
  'SIP/2.0 100 Trying',
  'Via: SIP/2.0/TLS 203.0.113.10:5061;branch=z9hG4bK-524287-1---a0c1d2e3f4;rport=5061;received=203.0.113.10',
  'To: <sip:+912240001234@trunk.example.com>',
  'From: "Carrier" <sip:+14155550100@carrier.example.net>;tag=9fxced76sl',
  'Call-ID: 3848276298220188511@203.0.113.10',
  'CSeq: 1 INVITE',
  'Content-Length: 0',
  '',
  '',
]);

export const ALL: Array<[string, Buffer]> = [
  ['INVITE', INVITE],
  ['200 OK', OK_200],
  ['REGISTER', REGISTER],
  ['BYE', BYE],
  ['100 Trying', TRYING],
];
