/**
 * Core counters whose names carry a value (`proxy_replies_<status>`,
 * `b2bua_refused_<status>_<cause>`, `sip_responses_out_<class>`) are one
 * labelled metric each at /metrics, with label values from fixed sets
 * (`other` for the rest), never a metric per name: read from the real
 * Metrics, and from a running server that answered real requests.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Counters, statusClassLabel, statusLabel } from '../../src/core/counters.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { CALLS_REFUSED } from '../../src/metrics/families.js';
import { freePort } from '../helpers/ports.js';
import { startTrunkline } from '../helpers/server.js';
import { UdpPeer } from '../security/helpers.js';

/** The value of the sample of `name` with exactly these labels; undefined when there is none. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (
      Object.keys(got).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => got[k] === v)
    )
      return Number(m[3]);
  }
  return undefined;
}

test('status and status class as counter name parts: known codes kept, the rest is other', () => {
  assert.equal(statusLabel(403), '403');
  assert.equal(statusLabel(503), '503');
  assert.equal(statusLabel(499), 'other');
  assert.equal(statusLabel(7000), 'other');
  assert.equal(statusClassLabel(486), '4xx');
  assert.equal(statusClassLabel(699), '6xx');
  assert.equal(statusClassLabel(99), 'other');
  assert.equal(statusClassLabel(700), 'other');
});

test('families of core counters: one labelled metric each, bounded labels, no metric per name', async () => {
  const counters = new Counters();
  const metrics = new Metrics(counters);
  metrics.family(CALLS_REFUSED);
  counters.inc(`proxy_replies_${statusLabel(403)}`, 2);
  counters.inc(`proxy_replies_${statusLabel(404)}`);
  counters.inc('proxy_replies_499'); // a name made without statusLabel still lands in a bounded value
  counters.inc(`b2bua_refused_${statusLabel(404)}_unknown-did`);
  counters.inc('b2bua_refused_403_unknown-source', 3);
  counters.inc('b2bua_refused_503_some-new-cause');
  counters.inc(`sip_responses_out_${statusClassLabel(400)}`);
  counters.inc(`sip_responses_out_${statusClassLabel(42)}`);
  counters.inc('parse_errors');
  const text = await metrics.text();

  assert.equal(sample(text, 'trunkline_proxy_replies_total', { status: '403' }), 2, text);
  assert.equal(sample(text, 'trunkline_proxy_replies_total', { status: '404' }), 1);
  assert.equal(sample(text, 'trunkline_proxy_replies_total', { status: 'other' }), 1);
  assert.equal(sample(text, 'trunkline_calls_refused_total', { status: '404', cause: 'unknown-did' }), 1);
  assert.equal(sample(text, 'trunkline_calls_refused_total', { status: '403', cause: 'unknown-source' }), 3);
  assert.equal(sample(text, 'trunkline_calls_refused_total', { status: '503', cause: 'other' }), 1);
  assert.equal(sample(text, 'trunkline_stateless_responses_total', { status_class: '4xx' }), 1);
  assert.equal(sample(text, 'trunkline_stateless_responses_total', { status_class: 'other' }), 1);
  // A name without a value is still exported on its own.
  assert.equal(sample(text, 'trunkline_parse_errors_total', {}), 1);
  // Nothing one by one.
  assert.doesNotMatch(text, /^trunkline_(proxy_replies_|b2bua_refused_|sip_responses_out_)\w*_total\b/m);
  // The security families keep every reason from the start.
  assert.equal(sample(text, 'trunkline_security_drops_total', { reason: 'sanity' }), 0);
  assert.equal(sample(text, 'trunkline_security_bans_total', { reason: 'manual' }), 0);
});

test(
  'a running server: proxy refusals and stateless answers counted by label at /metrics',
  { timeout: 30_000 },
  async () => {
    const port = await freePort();
    const server = await startTrunkline(`listen: [udp:127.0.0.1:${port}]\n`);
    const peer = await new UdpPeer('127.0.0.1').open();
    try {
      const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())?.[1];
      assert.ok(api, `no API address in the log:\n${server.output()}`);
      // The proxy refuses to relay to another domain (403) and knows no user here (404).
      assert.equal((await peer.ask(port, { method: 'MESSAGE', ruri: 'sip:bob@example.org' }))?.status, 403);
      assert.equal((await peer.ask(port, { method: 'MESSAGE', ruri: 'sip:nobody@127.0.0.1' }))?.status, 404);
      // Stateless answers: the security edge's keep-alive answer to OPTIONS (200), a CSeq that does not parse (400).
      assert.equal((await peer.ask(port, { method: 'OPTIONS', ruri: 'sip:127.0.0.1' }))?.status, 200);
      assert.equal((await peer.ask(port, { method: 'OPTIONS', extra: ['CSeq: x OPTIONS'] }))?.status, 400);
      const text = await (await fetch(`${api}/metrics`)).text();
      assert.equal(sample(text, 'trunkline_proxy_replies_total', { status: '403' }), 1, text);
      assert.equal(sample(text, 'trunkline_proxy_replies_total', { status: '404' }), 1);
      assert.equal(sample(text, 'trunkline_stateless_responses_total', { status_class: '2xx' }), 1);
      assert.equal(sample(text, 'trunkline_stateless_responses_total', { status_class: '4xx' }), 1);
      assert.doesNotMatch(text, /^trunkline_(proxy_replies_|sip_responses_out_)\w*_total\b/m);
    } finally {
      peer.close();
      await server.stop();
    }
  },
);
