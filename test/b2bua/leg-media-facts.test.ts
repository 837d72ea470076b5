import { test } from 'node:test';
import assert from 'node:assert/strict';
import { factOf, LegFactsBook } from '../../src/b2bua/leg-media-facts.js';

const sdp = (proto: string, fmts: string, maps: string[]): string =>
  [
    'v=0',
    'o=- 1 1 IN IP4 127.0.0.1',
    's=-',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio 4000 ${proto} ${fmts}`,
    ...maps,
    '',
  ].join('\r\n');

test('factOf: transport from the profile, first voice codec (rtpmap or static), telephone-event skipped', () => {
  assert.deepEqual(factOf(sdp('RTP/AVP', '101 8', ['a=rtpmap:101 telephone-event/8000'])), {
    transport: 'RTP',
    codec: 'PCMA',
  });
  assert.deepEqual(factOf(sdp('RTP/SAVP', '0', [])), { transport: 'SRTP', codec: 'PCMU' });
  assert.deepEqual(factOf(sdp('UDP/TLS/RTP/SAVPF', '111', ['a=rtpmap:111 opus/48000/2'])), {
    transport: 'DTLS-SRTP',
    codec: 'opus',
  });
  assert.equal(factOf('v=0\r\nm=video 4000 RTP/AVP 96\r\n'), null);
});

test('LegFactsBook: each side from the answer it exchanged; transcoded when the codecs differ', () => {
  const book = new LegFactsBook();
  book.answered('c1', 'b', sdp('RTP/AVP', '8', []), sdp('UDP/TLS/RTP/SAVPF', '111', ['a=rtpmap:111 opus/48000/2']));
  assert.deepEqual(book.take('c1'), {
    a: { transport: 'DTLS-SRTP', codec: 'opus' },
    b: { transport: 'RTP', codec: 'PCMA' },
    transcoded: true,
  });
  assert.equal(book.take('c1'), null, 'forgotten after take');
});
