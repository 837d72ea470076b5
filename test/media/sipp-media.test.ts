/**
 * SIPp as the real RTP source: it calls a minimal UAS in this test, whose
 * 200 carries the SDP the built-in relay wrote (leg a); SIPp then plays
 * Debian sip-tester's G.711 A-law recording and an RFC 2833 digit to the
 * relay, which relays them to leg b (a socket here, latched from its SDP).
 * Checked: every packet of the pcap arrives, payload for payload, and the
 * digit is counted as one DTMF event.
 *
 * The UAS is only what SIPp needs (200 to INVITE and BYE); the B2BUA that
 * does this for real calls is not part of the media engine.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BuiltinMediaEngine } from '../../src/media/builtin.js';
import type { MediaEngine } from '../../src/media/engine.js';
import { RtpengineMediaEngine } from '../../src/media/rtpengine.js';
import { rtpengineSkipReason, startRtpengine, type RtpengineDaemon } from './rtpengine-daemon.js';
import { freePort } from '../helpers/ports.js';
import { haveCommand, sipp } from '../helpers/sipp.js';
import { bindUdp, mediaPortRange, Peer } from './helpers.js';

const G711 = '/usr/share/sip-tester/g711a.pcap';
const DTMF = '/usr/share/sip-tester/dtmf_2833_1.pcap';

function scenarioFile(name: string): string {
  const src = fileURLToPath(new URL(`../../../test/media/scenarios/${name}`, import.meta.url));
  return existsSync(src) ? src : fileURLToPath(new URL(`./scenarios/${name}`, import.meta.url));
}

/** RTP payloads (UDP payload after the 12-byte header) of a classic Ethernet pcap. */
function pcapRtp(file: string): Buffer[] {
  const d = readFileSync(file);
  const out: Buffer[] = [];
  let off = 24;
  while (off + 16 <= d.length) {
    const incl = d.readUInt32LE(off + 8);
    const pkt = d.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    const ip = pkt.subarray(14);
    const udp = ip.subarray((ip[0]! & 15) * 4);
    out.push(udp.subarray(8));
  }
  return out;
}

function header(msg: string, name: string): string {
  const m = new RegExp(`^${name}:[ \\t]*(.*)$`, 'mi').exec(msg);
  return m?.[1]?.trim() ?? '';
}

const skip = !haveCommand('sipp')
  ? 'sipp not installed (Debian sip-tester: scripts/install-deps.sh)'
  : !existsSync(G711) || !existsSync(DTMF)
    ? 'sip-tester pcaps not found under /usr/share/sip-tester'
    : false;

async function playThrough(
  engine: MediaEngine,
): Promise<{ audio: number; dtmf: number; stats: Awaited<ReturnType<MediaEngine['delete']>> }> {
  const b = await Peer.create();
  const uasPort = await freePort();
  const sippPort = await freePort();
  const mediaPort = await freePort();
  const uas = await bindUdp(uasPort);
  const sid = 'sipp-media';
  const errors: unknown[] = [];
  uas.on('message', (m, r) => {
    const msg = m.toString();
    const method = /^(\w+) /.exec(msg)?.[1];
    const reply = (status: string, body = '', extra: string[] = []): void => {
      const lines = [
        `SIP/2.0 ${status}`,
        ...msg.split('\r\n').filter((l) => /^via:/i.test(l)),
        `From: ${header(msg, 'From')}`,
        `To: ${header(msg, 'To')}${/;tag=/.test(header(msg, 'To')) ? '' : ';tag=uas1'}`,
        `Call-ID: ${header(msg, 'Call-ID')}`,
        `CSeq: ${header(msg, 'CSeq')}`,
        ...extra,
        `Content-Length: ${Buffer.byteLength(body)}`,
        '',
        body,
      ];
      uas.send(lines.join('\r\n'), r.port, r.address);
    };
    if (method === 'INVITE') {
      const offer = msg.slice(msg.indexOf('\r\n\r\n') + 4);
      void (async () => {
        await engine.offer(sid, 'a', offer, { profile: 'as-offered', codecs: [] });
        const answer = await engine.answer(sid, 'b', b.sdp({ codecs: '8 101' }), { profile: 'as-offered', codecs: [] });
        reply('200 OK', answer, [`Contact: <sip:media@127.0.0.1:${uasPort}>`, 'Content-Type: application/sdp']);
      })().catch((e: unknown) => errors.push(e));
    } else if (method === 'BYE') {
      reply('200 OK');
    }
  });
  try {
    const res = await sipp({
      scenario: scenarioFile('uac-play-pcap.xml'),
      target: `127.0.0.1:${uasPort}`,
      localPort: sippPort,
      timeoutS: 25,
      extra: ['-mi', '127.0.0.1', '-mp', String(mediaPort)],
    });
    assert.deepEqual(errors, []);
    assert.equal(res.code, 0, `sipp failed: ${res.stdout.slice(-400)} ${res.stderr.slice(-400)}`);
    const audio = pcapRtp(G711);
    const dtmf = pcapRtp(DTMF);
    const got = b.rtpIn.map((r) => r.buf);
    assert.equal(got.length, audio.length + dtmf.length, 'every packet of both pcaps arrived at b');
    assert.deepEqual(
      got.filter((p) => (p[1]! & 0x7f) === 8).map((p) => p.subarray(12)),
      audio.map((p) => p.subarray(12)),
      'A-law payloads in order, unchanged',
    );
    return { audio: audio.length, dtmf: dtmf.length, stats: await engine.delete(sid) };
  } finally {
    uas.close();
    b.close();
  }
}

test(
  'SIPp plays the G.711 A-law pcap and an RFC 2833 digit through the built-in relay: all packets arrive at b, payloads intact, one DTMF event',
  { skip, timeout: 40_000 },
  async () => {
    const engine = new BuiltinMediaEngine({
      address: '127.0.0.1',
      ports: mediaPortRange(20),
      timeout: 30,
      holdTimeout: 3600,
    });
    try {
      const r = await playThrough(engine);
      assert.equal(r.stats.aToB.packets, r.audio + r.dtmf);
      assert.equal(r.stats.aToB.dtmfEvents, 1, 'the 2833 digit counted once');
      assert.equal(r.stats.aToB.strangers, 0);
    } finally {
      await engine.close();
    }
  },
);

test(
  'the same SIPp call with rtpengine as the backend',
  { skip: skip || rtpengineSkipReason(), timeout: 40_000 },
  async () => {
    let daemon: RtpengineDaemon | undefined;
    let engine: RtpengineMediaEngine | undefined;
    try {
      daemon = await startRtpengine();
      engine = new RtpengineMediaEngine({
        ng: { host: '127.0.0.1', port: daemon.ngPort },
        timeout: 30,
        holdTimeout: 3600,
      });
      const r = await playThrough(engine);
      assert.equal(r.stats.aToB.packets, r.audio + r.dtmf, 'rtpengine counted every packet from SIPp');
    } finally {
      await engine?.close();
      await daemon?.stop();
    }
  },
);
