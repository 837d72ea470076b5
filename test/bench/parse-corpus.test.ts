/**
 * The parse benchmark's corpus and forward paths are right (no timing here):
 * every corpus message parses with all three parsers, and each
 * implementation's forwarded output is what a proxy must send.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage } from '../../src/sip/parser.js';
import { CORPUS } from '../../bench/parse/corpus.js';
import { checkImplementation } from '../../bench/parse/check.js';
import { trunkline } from '../../bench/parse/trunkline.js';
import { sipNpm, sipPeer } from '../../bench/parse/peer-sip.js';
import { parseSipJs, sipjsPeer } from '../../bench/parse/peer-sipjs.js';
import type { Implementation } from '../../bench/parse/common.js';

test('corpus messages use CRLF only and have a matching Content-Length', () => {
  for (const c of CORPUS) {
    const text = c.buf.toString('utf8');
    assert.equal(/(^|[^\r])\n/.test(text), false, `${c.name}: bare LF`);
    const sep = text.indexOf('\r\n\r\n');
    assert.ok(sep > 0, `${c.name}: no end of headers`);
    const cl = /\r\nContent-Length: (\d+)\r\n/.exec(text);
    assert.ok(cl !== null, `${c.name}: no Content-Length`);
    assert.equal(Number(cl[1]), c.buf.length - Buffer.byteLength(text.slice(0, sep + 4)), `${c.name}: Content-Length`);
  }
});

test('every corpus message parses with Trunkline', () => {
  for (const c of CORPUS) {
    const r = parseMessage(c.buf);
    assert.ok(r.ok, `${c.name}: ${r.ok ? '' : r.error.message}`);
    const m = r.message;
    assert.equal(m.isRequest, c.isRequest, c.name);
    assert.equal(m.vias.length, c.viaCount, `${c.name}: Via count`);
    assert.equal(m.routes.length, c.routeCount, `${c.name}: Route count`);
    if (c.isRequest) assert.equal(m.maxForwards, c.maxForwards, `${c.name}: Max-Forwards`);
  }
});

test('every corpus message parses with the sip package', () => {
  for (const c of CORPUS) {
    const m = sipNpm.parse(c.buf);
    assert.ok(m !== undefined, c.name);
    assert.equal(m.headers.via.length, c.viaCount, `${c.name}: Via count`);
    assert.equal(m.headers.route?.length ?? 0, c.routeCount, `${c.name}: Route count`);
    assert.equal(typeof m.headers.from.params.tag, 'string', `${c.name}: From tag`);
  }
});

test('every corpus message parses with SIP.js, losing no header', () => {
  for (const c of CORPUS) {
    const m = parseSipJs(c.buf);
    const lines = Object.values(m.headers).reduce((n, v) => n + v.length, 0);
    const expected = c.buf.toString('utf8').split('\r\n\r\n')[0]!.split('\r\n').length - 1;
    assert.equal(lines, expected, `${c.name}: header lines`);
    assert.equal(m.getHeaders('via').length, c.viaCount, `${c.name}: Via count`);
    assert.ok(m.fromTag, `${c.name}: From tag`);
  }
});

const IMPLEMENTATIONS: Implementation[] = [trunkline, sipPeer, sipjsPeer];

for (const impl of IMPLEMENTATIONS) {
  test(`${impl.name}: forward output re-parses with the new Via, Max-Forwards - 1, Route/Via popped; full parse runs`, () => {
    assert.deepEqual(checkImplementation(impl), []);
  });
}

test('the output check catches an implementation that does nothing', () => {
  const noop: Implementation = { name: 'noop', notes: '', forward: (b) => b, fullParse: () => 1 };
  const problems = checkImplementation(noop);
  assert.ok(problems.length >= CORPUS.length, problems.join('\n'));
});
