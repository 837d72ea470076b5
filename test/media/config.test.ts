import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { BuiltinMediaEngine, createMediaEngine, RtpengineMediaEngine } from '../../src/media/index.js';
import { mediaPortRange, Peer, sdpPorts } from './helpers.js';

const BASE = '/srv/trunkline';

function errorOf(yaml: string): string {
  try {
    parseConfig(yaml, BASE);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.message;
  }
  return assert.fail('expected a ConfigError');
}

test('media config: defaults, the CONTRACT form, advertise and holdTimeout', () => {
  assert.deepEqual(parseConfig('', BASE).media, {
    engine: 'builtin',
    ports: { min: 10000, max: 40000 },
    timeout: 30,
    holdTimeout: 3600,
    worker: false,
  });
  const c = parseConfig(
    'media: {engine: builtin, address: 127.0.0.1, advertise: 203.0.113.10, ports: 40000-40100, timeout: 20, holdTimeout: 600}',
    BASE,
  );
  assert.deepEqual(c.media, {
    engine: 'builtin',
    address: '127.0.0.1',
    advertise: '203.0.113.10',
    ports: { min: 40000, max: 40100 },
    timeout: 20,
    holdTimeout: 600,
    worker: false,
  });
});

test('media config: bad values are named', () => {
  assert.equal(
    errorOf('media: {holdTimeout: 0}'),
    'config: media.holdTimeout: expected a number of seconds 1-86400, got 0',
  );
  assert.equal(
    errorOf('media: {advertise: nat.example}'),
    'config: media.advertise: expected an IP address, got "nat.example"',
  );
  assert.equal(
    errorOf('media: {ports: 40000-40001}'),
    'config: media.ports: expected a range of at least 4 ports, got 40000-40001',
  );
  assert.equal(errorOf('media: {hold: 1}'), 'config: unknown key "media.hold"');
});

test('createMediaEngine: builtin writes the advertised address in SDP; rtpengine gets its ng address', async () => {
  const r = mediaPortRange(20);
  const cfg = parseConfig(`media: {address: 127.0.0.1, advertise: 203.0.113.10, ports: ${r.min}-${r.max}}`, BASE).media;
  const e = createMediaEngine(cfg, '127.0.0.2');
  assert.ok(e instanceof BuiltinMediaEngine);
  const p = await Peer.create();
  try {
    const sdp = await e.offer('c', 'a', p.sdp(), { profile: 'as-offered', codecs: [] });
    assert.equal(sdpPorts(sdp).address, '203.0.113.10');
    assert.ok(sdpPorts(sdp).port >= r.min && sdpPorts(sdp).port <= r.max);
  } finally {
    p.close();
    await e.close();
  }
  const rte = createMediaEngine(
    parseConfig('media: {engine: rtpengine, ng: "udp:127.0.0.1:2299"}', BASE).media,
    '127.0.0.1',
  );
  assert.ok(rte instanceof RtpengineMediaEngine);
  await rte.close();
});
