/**
 * Media through real trunk calls: a Trunkline process whose B2BUA
 * anchors every call on its media engine, SIPp as carrier and PBX on
 * 127.x addresses (127.0.0.5 the carrier's gateway, 127.0.0.2 the PBX of a
 * trunk as offered, 127.0.0.3 a PBX whose trunk allows PCMA and
 * telephone-event only, 127.0.0.4 a PBX whose trunk is `media: srtp`).
 * SIPp plays Debian sip-tester's G.711 A-law and RFC 2833 pcaps; the far
 * side's SDP names a UDP socket of this test that counts what arrives and
 * sends it back (so both directions carry media). SIPp's message logs give
 * the SDP each side received. The SRTP leg's peer is a real baresip with its
 * srtp module (mediaenc=srtp-mand) recording what it decodes (sndfile).
 * Media timeout is 3 s. Run with the built-in relay (its ports a
 * range reserved for this suite alone) and with rtpengine
 * (userspace, started by its test file) by the two files that call it.
 */
import { reservePortRange } from './port-ranges.js';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:dgram';
import { freePort } from './ports.js';
import { startTrunkline, type RunningTrunkline } from './server.js';
import { haveCommand, sipp, sippBackground, scenarioWith, type BackgroundSipp } from './sipp.js';
import { startBaresip } from './baresip.js';
import { bindUdp } from '../media/helpers.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { Cdr } from '../../src/trunking/model.js';
import type { CallMediaStats } from '../../src/media/engine.js';

const G711 = '/usr/share/sip-tester/g711a.pcap';
const DTMF = '/usr/share/sip-tester/dtmf_2833_1.pcap';
const PBX = '127.0.0.2';
const PCMA_PBX = '127.0.0.3';
const SRTP_PBX = '127.0.0.4';
const CARRIER = '127.0.0.5';
const DID = '+912240003001';
const DID_PCMA = '+912240003002';
const DID_SRTP = '+912240003003';
const DID_SRTP_SIPP = '+912240003004';
const MEDIA_ADDR = '127.0.0.1';

const sippSkip = !haveCommand('sipp')
  ? 'sipp not installed (Debian sip-tester: scripts/install-deps.sh)'
  : !existsSync(G711) || !existsSync(DTMF)
    ? 'sip-tester pcaps not found under /usr/share/sip-tester'
    : false;
const baresipSkip = !haveCommand('baresip') && 'baresip not installed (scripts/install-deps.sh)';

/** RTP packets (UDP payloads) of a classic Ethernet pcap. */
function pcapRtp(file: string): Buffer[] {
  const d = readFileSync(file);
  const out: Buffer[] = [];
  let off = 24;
  while (off + 16 <= d.length) {
    const incl = d.readUInt32LE(off + 8);
    const pkt = d.subarray(off + 16, off + 16 + incl);
    off += 16 + incl;
    const ip = pkt.subarray(14);
    out.push(ip.subarray((ip[0]! & 15) * 4 + 8));
  }
  return out;
}

/**
 * A UDP socket standing in for a peer's RTP port: counts what arrives and
 * sends each packet back to where it came from. Behind "NAT" it sends from
 * another socket (another port than its SDP names), which counts too.
 */
class MediaSink {
  readonly got: Array<{ buf: Buffer; from: string; at: number }> = [];
  readonly gotNat: Array<{ buf: Buffer; from: string; at: number }> = [];
  private constructor(
    readonly sock: Socket,
    readonly port: number,
    readonly nat: Socket | null,
  ) {
    const out = nat ?? sock;
    sock.on('message', (buf, r) => {
      this.got.push({ buf: Buffer.from(buf), from: `${r.address}:${r.port}`, at: Date.now() });
      out.send(buf, r.port, r.address);
    });
    nat?.on('message', (buf, r) => {
      this.gotNat.push({ buf: Buffer.from(buf), from: `${r.address}:${r.port}`, at: Date.now() });
      out.send(buf, r.port, r.address);
    });
  }
  static async open(ip: string, behindNat = false): Promise<MediaSink> {
    const port = await freePort(ip);
    return new MediaSink(await bindUdp(port, ip), port, behindNat ? await bindUdp(await freePort(ip), ip) : null);
  }
  close(): void {
    this.sock.close();
    this.nat?.close();
  }
}

interface LoggedMessage {
  dir: 'sent' | 'received';
  text: string;
  body: string;
}

/** The messages of a SIPp -trace_msg log. */
function sippMessages(file: string): LoggedMessage[] {
  const out: LoggedMessage[] = [];
  for (const chunk of readFileSync(file, 'utf8').split(/^-{20,}.*$/m)) {
    const m = /^\s*\w+ message (sent|received)[^\n]*\n\n?([\s\S]*)$/.exec(chunk);
    if (m === null) continue;
    const text = m[2]!.replace(/\r\n/g, '\n');
    const i = text.indexOf('\n\n');
    out.push({ dir: m[1] as 'sent' | 'received', text, body: i < 0 ? '' : text.slice(i + 2).trim() });
  }
  return out;
}

function received(file: string, firstLine: RegExp): LoggedMessage[] {
  return sippMessages(file).filter((m) => m.dir === 'received' && firstLine.test(m.text.split('\n', 1)[0]!));
}

/** The SDP a side got must show Trunkline's media address only: c= and o= ours, an even m= port of the range, nothing of `hidden`. */
let RANGE = { min: 0, max: 0 };

function assertAnchored(
  sdp: string,
  hidden: string,
  what: string,
): { port: number; profile: string; payloads: string } {
  assert.ok(sdp.startsWith('v=0'), `${what}: no SDP:\n${sdp}`);
  const m = /^m=audio (\d+) (\S+) ?(.*)$/m.exec(sdp);
  assert.ok(m !== null, `${what}: no m=audio:\n${sdp}`);
  const port = Number(m[1]);
  assert.ok(
    port >= RANGE.min && port <= RANGE.max && port % 2 === 0,
    `${what}: m= port ${port} not an even port of ${RANGE.min}-${RANGE.max}`,
  );
  for (const c of sdp.match(/^c=.*$/gm) ?? []) assert.equal(c, `c=IN IP4 ${MEDIA_ADDR}`, what);
  assert.match(sdp, new RegExp(`^o=.* IN IP4 ${MEDIA_ADDR.replace(/\./g, '\\.')}$`, 'm'), what);
  assert.ok(!sdp.includes(hidden), `${what}: the other side's address ${hidden} shows:\n${sdp}`);
  const rtcp = /^a=rtcp:(\d+)/m.exec(sdp);
  if (rtcp !== null) assert.equal(Number(rtcp[1]), port + 1, `${what}: a=rtcp`);
  return { port, profile: m[2]!, payloads: m[3]!.trim() };
}

function mediaOf(cdr: Cdr): CallMediaStats {
  assert.ok(cdr.extra !== null, `CDR ${cdr.callSid} without media figures`);
  return (JSON.parse(cdr.extra) as { media: CallMediaStats }).media;
}

/** WAV samples (16-bit PCM after a 44-byte header, as sndfile writes them): root mean square. */
function wavRms(file: string): { rms: number; samples: number } {
  const d = readFileSync(file);
  const dataAt = d.indexOf('data') + 8;
  let sum = 0;
  let n = 0;
  for (let o = dataAt; o + 1 < d.length; o += 2, n++) sum += d.readInt16LE(o) ** 2;
  return { rms: n === 0 ? 0 : Math.sqrt(sum / n), samples: n };
}

/** The ports of the range that bind on the media address now. */
async function bindable(): Promise<Set<number>> {
  const s = new Set<number>();
  for (let p = RANGE.min; p <= RANGE.max; p++) {
    const sock = await bindUdp(p, MEDIA_ADDR).catch(() => null);
    if (sock !== null) {
      s.add(p);
      sock.close();
    }
  }
  return s;
}

/**
 * A -mp port for SIPp on `ip`: it binds that port, the next for RTCP and the
 * two after for video, so all four must be free (the other engine's file runs
 * on the same addresses at the same time).
 */
async function sippMediaPort(ip: string): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = await freePort(ip);
    if (p % 2 !== 0) continue;
    let ok = true;
    for (const q of [p + 1, p + 2, p + 3]) {
      const sock = await bindUdp(q, ip).catch(() => null);
      if (sock === null) {
        ok = false;
        break;
      }
      sock.close();
    }
    if (ok) return p;
  }
  throw new Error(`no four free ports in a row for SIPp media on ${ip}`);
}

export interface TrunkMediaSuiteOptions {
  label: string;
  skip: string | false;
  /** Starts what the server's media block names; returns that block, the relay's port range, and how to stop it. */
  media(): Promise<{ yaml: string; range: { min: number; max: number }; stop(): Promise<void> }>;
  /** The built-in relay fills every figure; rtpengine gives packets/bytes only (no DTMF, stranger or SRTP-failure counts). */
  builtin: boolean;
}

/** A range of 200 ports of its own (test/helpers/port-ranges.ts) for the built-in relay. */
export function builtinRange(): { min: number; max: number } {
  return reservePortRange(200);
}

export function trunkMediaSuite(o: TrunkMediaSuiteOptions): void {
  const skip = sippSkip || o.skip;
  const skipBaresip = skip || baresipSkip;
  let stopMedia: () => Promise<void> = async () => {};
  let freeBefore: Set<number>;
  let server: RunningTrunkline;
  let store: Store;
  let port: number;
  const ports: Record<string, number> = {};
  const audio = pcapRtp(G711);
  const digit = pcapRtp(DTMF);

  before(async () => {
    if (skip !== false) return;
    const media = await o.media();
    stopMedia = media.stop;
    RANGE = media.range;
    freeBefore = await bindable();
    port = await freePort();
    for (const n of ['pbx', 'pcmaPbx', 'gw', 'srtpSipp']) ports[n] = await freePort();
    ports.srtpPbx = await freePort(SRTP_PBX);
    server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${port}]`,
        'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
        'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
        media.yaml,
        '',
      ].join('\n'),
    );
    store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
    await store.accounts.add({ name: 'acme' });
    await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:${ports.pbx}` });
    await store.trunks.add({
      name: 'pcma',
      account: 'acme',
      ip: [`${PCMA_PBX}/32`],
      dest: `sip:${PCMA_PBX}:${ports.pcmaPbx}`,
      codecs: ['PCMA', 'telephone-event'],
    });
    await store.trunks.add({
      name: 'srtp-sipp',
      account: 'acme',
      ip: ['127.0.0.14/32'],
      dest: `sip:127.0.0.14:${ports.srtpSipp}`,
      media: 'srtp',
    });
    await store.dids.add(DID, 'pbx');
    await store.dids.add(DID_PCMA, 'pcma');
    await store.dids.add(DID_SRTP_SIPP, 'srtp-sipp');
    // The SRTP trunk's PBX is baresip (started by its test) on this address and port.
    await store.trunks.add({
      name: 'srtp',
      account: 'acme',
      ip: [`${SRTP_PBX}/32`],
      dest: `sip:${SRTP_PBX}:${ports.srtpPbx}`,
      media: 'srtp',
    });
    await store.dids.add(DID_SRTP, 'srtp');
    await store.carriers.add({ name: 'main', gateways: [`sip:${CARRIER}:${ports.gw}`] });
    await store.routes.add('+', ['main']);
    // The server sees store changes within 2 s (it polls every second).
    await new Promise((r) => setTimeout(r, 2200));
  });

  after(async () => {
    if (skip !== false) return;
    await store.close();
    assert.equal(await server.stop(), 0);
    await stopMedia();
  });

  const logFile = (name: string): string => join(mkdtempSync(join(tmpdir(), 'sipp-media-log-')), `${name}.log`);

  async function uac(
    scn: string,
    values: Record<string, string>,
    ip: string,
    service: string,
    log: string,
    calls = 1,
  ): Promise<void> {
    const r = await sipp({
      scenario: scenarioWith(scn, values),
      target: `127.0.0.1:${port}`,
      ip,
      localPort: await freePort(ip),
      calls,
      rate: 10,
      timeoutS: 30,
      extra: ['-s', service, '-mp', String(await sippMediaPort(ip)), '-trace_msg', '-message_file', log],
    });
    assert.equal(
      r.code,
      0,
      `UAC from ${ip} to ${service} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}\nserver:\n${server.output().slice(-4000)}`,
    );
  }

  async function uas(
    scn: string,
    values: Record<string, string>,
    ip: string,
    p: number,
    log: string,
    calls = 1,
  ): Promise<BackgroundSipp> {
    return sippBackground(scenarioWith(scn, values), p, {
      ip,
      calls,
      timeoutS: 35,
      extra: ['-mp', String(await sippMediaPort(ip)), '-trace_msg', '-message_file', log],
    });
  }

  async function done(b: BackgroundSipp, what: string): Promise<void> {
    const r = await b.done;
    assert.equal(
      r.code,
      0,
      `${what} failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}\nserver:\n${server.output().slice(-4000)}`,
    );
  }

  async function cdrsSince(t: number, n = 1): Promise<Cdr[]> {
    // The CDR is written once the media is released; give it a moment.
    const end = Date.now() + 3000;
    for (;;) {
      const rows = (await store.cdrs.list({ since: t, limit: 1000 })).cdrs;
      if (rows.length >= n || Date.now() > end) return rows;
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  const ALAW_ANSWER = { pts: '8 101', rtpmaps: 'a=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000' };

  /** One call with the G.711 and RFC 2833 pcaps from the caller; the callee's media socket counts and echoes. */
  async function playCall(c: {
    caller: string;
    callerIp: string;
    service: string;
    calleeIp: string;
    calleePort: number;
  }): Promise<void> {
    const t0 = Date.now();
    const sink = await MediaSink.open(c.calleeIp);
    const calleeLog = logFile('callee');
    const callerLog = logFile('caller');
    try {
      const callee = await uas(
        'media-uas.xml',
        { mport: String(sink.port), ...ALAW_ANSWER },
        c.calleeIp,
        c.calleePort,
        calleeLog,
      );
      await uac('media-uac-play.xml', { caller: c.caller }, c.callerIp, c.service, callerLog);
      await done(callee, 'callee');
      // Each side saw only Trunkline's media address.
      const offer = received(calleeLog, /^INVITE /)[0]!.body;
      const toCallee = assertAnchored(offer, c.callerIp, 'offer to the callee');
      assert.equal(toCallee.profile, 'RTP/AVP');
      const answer = received(callerLog, /^SIP\/2\.0 200/).find((m) => m.body !== '')!.body;
      assertAnchored(answer, c.calleeIp, 'answer to the caller');
      // Every packet of both pcaps reached the callee, from the relay port its offer named; A-law payloads intact, in order.
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(sink.got.length, audio.length + digit.length, 'every pcap packet arrived at the callee');
      assert.deepEqual(new Set(sink.got.map((g) => g.from)), new Set([`${MEDIA_ADDR}:${toCallee.port}`]));
      assert.deepEqual(
        sink.got.filter((g) => (g.buf[1]! & 0x7f) === 8).map((g) => g.buf.subarray(12)),
        audio.map((p) => p.subarray(12)),
      );
      assert.equal(sink.got.filter((g) => (g.buf[1]! & 0x7f) === 101).length, digit.length, 'telephone-event packets');
      // The CDR's figures: both ways, and the digit counted.
      const rows = await cdrsSince(t0);
      assert.equal(rows.length, 1);
      const m = mediaOf(rows[0]!);
      assert.equal(m.aToB.packets, audio.length + digit.length);
      assert.ok(m.aToB.bytes > 0 && m.bToA.bytes > 0, JSON.stringify(m));
      // The echo of everything that arrived before the caller's BYE went back.
      assert.ok(m.bToA.packets >= audio.length, JSON.stringify(m));
      if (o.builtin) {
        assert.equal(m.aToB.dtmfEvents, 1, 'the RFC 2833 digit counted once');
        assert.equal(m.aToB.strangers + m.bToA.strangers, 0);
      }
      assert.deepEqual([rows[0]!.status, rows[0]!.hangupBy], [200, 'caller']);
    } finally {
      sink.close();
    }
  }

  test(
    o.label +
      ': ' +
      "inbound call: the carrier (SIPp) plays G.711 A-law and an RFC 2833 digit; the PBX gets every packet from Trunkline's media address, the CDR counts both ways and the digit",
    { skip, timeout: 60_000 },
    async () => {
      await playCall({
        caller: '+15551230000',
        callerIp: CARRIER,
        service: DID,
        calleeIp: PBX,
        calleePort: ports.pbx!,
      });
    },
  );

  test(
    o.label +
      ': ' +
      "outbound call: the PBX (SIPp) plays the same; the carrier gets every packet from Trunkline's media address",
    { skip, timeout: 60_000 },
    async () => {
      await playCall({ caller: DID, callerIp: PBX, service: '+4930123456', calleeIp: CARRIER, calleePort: ports.gw! });
    },
  );

  test(
    o.label +
      ': ' +
      'a PBX behind "NAT" (its RTP comes from another port than its SDP names) gets the audio at the port it sends from (latching)',
    { skip, timeout: 60_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(PBX, true);
      try {
        const callee = await uas(
          'media-uas.xml',
          { mport: String(sink.port), ...ALAW_ANSWER },
          PBX,
          ports.pbx!,
          logFile('nat-callee'),
        );
        await uac('media-uac-play.xml', { caller: '+15551230000' }, CARRIER, DID, logFile('nat-caller'));
        await done(callee, 'PBX behind NAT');
        await new Promise((r) => setTimeout(r, 200));
        const total = audio.length + digit.length;
        // Until its first packet the relay sends to the SDP's port; from then on to where the PBX really is.
        assert.equal(sink.got.length + sink.gotNat.length, total, 'every packet arrived, at one port or the other');
        assert.ok(sink.got.length <= 3, `${sink.got.length} packets still went to the SDP's port after the PBX sent`);
        const m = mediaOf((await cdrsSince(t0))[0]!);
        assert.equal(m.aToB.packets, total);
        assert.ok(m.bToA.packets >= total - 3, JSON.stringify(m));
        if (o.builtin) assert.equal(m.bToA.strangers, 0);
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      "late offer (INVITE without SDP): the callee's offer in the 200 and the caller's answer in the ACK are both anchored; the recording arrives",
    { skip, timeout: 60_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(PBX);
      const calleeLog = logFile('late-callee');
      const callerLog = logFile('late-caller');
      try {
        const callee = await uas(
          'media-uas.xml',
          { mport: String(sink.port), ...ALAW_ANSWER },
          PBX,
          ports.pbx!,
          calleeLog,
        );
        await uac('media-uac-late.xml', { caller: '+15551230000' }, CARRIER, DID, callerLog);
        await done(callee, 'PBX making the offer');
        assert.equal(received(calleeLog, /^INVITE /)[0]!.body, '', 'the INVITE to the PBX has no SDP either');
        const offer = received(callerLog, /^SIP\/2\.0 200/).find((m) => m.body !== '')!.body;
        assertAnchored(offer, PBX, "the PBX's offer as the carrier gets it");
        const ack = received(calleeLog, /^ACK /)[0]!;
        const toPbx = assertAnchored(ack.body, CARRIER, "the carrier's answer in the ACK to the PBX");
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(sink.got.length, audio.length + digit.length, 'every pcap packet arrived at the PBX');
        assert.deepEqual(new Set(sink.got.map((g) => g.from)), new Set([`${MEDIA_ADDR}:${toPbx.port}`]));
        const m = mediaOf((await cdrsSince(t0))[0]!);
        assert.equal(m.aToB.packets, audio.length + digit.length);
        assert.ok(m.bToA.packets >= audio.length, JSON.stringify(m));
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      'a trunk restricted to PCMA,telephone-event gets an offer of those only (the caller offered PCMU too)',
    { skip, timeout: 40_000 },
    async () => {
      const sink = await MediaSink.open(PCMA_PBX);
      const calleeLog = logFile('pcma');
      try {
        const callee = await uas(
          'media-uas.xml',
          { mport: String(sink.port), ...ALAW_ANSWER },
          PCMA_PBX,
          ports.pcmaPbx!,
          calleeLog,
        );
        await uac(
          'trunk-uac-call.xml',
          { caller: '+15551230000', hidden: 'xx-none', hiddenAddr: 'xx-none', hold: '0' },
          CARRIER,
          DID_PCMA,
          logFile('pcma-caller'),
        );
        await done(callee, 'PCMA-only PBX');
        const offer = received(calleeLog, /^INVITE /)[0]!.body;
        const m = assertAnchored(offer, CARRIER, 'offer to the PCMA-only trunk');
        assert.deepEqual(m.payloads.split(' '), ['8', '101']);
        assert.doesNotMatch(offer, /PCMU|rtpmap:0 /);
        assert.match(offer, /^a=rtpmap:8 PCMA\/8000$/m);
        assert.match(offer, /^a=rtpmap:101 telephone-event\/8000$/m);
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      'a PBX on a PCMA-only trunk answers PCMU, which the carrier offered: the call stays up, the carrier is answered PCMU, the recording is relayed both ways, a warning is logged',
    { skip, timeout: 60_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(PCMA_PBX);
      const calleeLog = logFile('pcmu-callee');
      const callerLog = logFile('pcmu-caller');
      try {
        // PCMU in the answer, though the offer toward this trunk held PCMA and telephone-event only.
        const callee = await uas(
          'media-uas.xml',
          { mport: String(sink.port), pts: '0', rtpmaps: 'a=rtpmap:0 PCMU/8000' },
          PCMA_PBX,
          ports.pcmaPbx!,
          calleeLog,
        );
        await uac('media-uac-play.xml', { caller: '+15551230000' }, CARRIER, DID_PCMA, callerLog);
        await done(callee, 'PBX answering PCMU');
        assert.deepEqual(
          assertAnchored(
            received(calleeLog, /^INVITE /)[0]!.body,
            CARRIER,
            'offer to the PCMA-only trunk',
          ).payloads.split(' '),
          ['8', '101'],
        );
        const answer = received(callerLog, /^SIP\/2\.0 200/).find((m) => m.body !== '')!.body;
        assert.equal(
          assertAnchored(answer, PCMA_PBX, 'answer to the carrier').payloads,
          '0',
          "the carrier is answered with the PBX's PCMU",
        );
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(sink.got.length, audio.length + digit.length, 'every packet the carrier sent reached the PBX');
        const rows = await cdrsSince(t0);
        assert.deepEqual(
          rows.map((c) => [c.status, c.hangupBy, c.reason]),
          [[200, 'caller', 'Normal Clearing']],
        );
        assert.ok(rows[0]!.answerAt !== null, 'answered and billed');
        const m = mediaOf(rows[0]!);
        assert.equal(m.aToB.packets, audio.length + digit.length);
        assert.ok(m.bToA.packets >= audio.length, JSON.stringify(m));
        const warned = server
          .output()
          .split('\n')
          .filter((l) => l.includes('answer with codecs not offered to its leg'));
        assert.ok(
          warned.some((l) => l.includes('"level":"warn"') && l.includes('"relayed":"PCMU/0"')),
          warned.join('\n') || server.output().slice(-3000),
        );
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      'an answer with a voice codec no leg offered (G729): the caller gets 488 with a Warning, the callee is ACKed and hung up, the CDR says why',
    { skip, timeout: 40_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(PCMA_PBX);
      const callerLog = logFile('refused-caller');
      try {
        const callee = await uas(
          'media-uas.xml',
          { mport: String(sink.port), pts: '18', rtpmaps: 'a=rtpmap:18 G729/8000' },
          PCMA_PBX,
          ports.pcmaPbx!,
          logFile('refused-callee'),
        );
        await uac('media-uac-expect.xml', { caller: '+15551230000', expect: '488' }, CARRIER, DID_PCMA, callerLog);
        await done(callee, 'PBX answering G729 (must get ACK and BYE)');
        const refusal = received(callerLog, /^SIP\/2\.0 488/)[0]!;
        assert.match(refusal.text, /^Warning: 305 \S+ ".*G729.*"$/m);
        assert.equal(refusal.body, '');
        const rows = await cdrsSince(t0);
        assert.equal(rows.length, 1);
        assert.equal(rows[0]!.status, 488);
        assert.equal(rows[0]!.answerAt, null, 'a call refused for its media is not billed as answered');
        assert.match(rows[0]!.reason ?? '', /not offered/);
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      'an SRTP offer the carrier (media: any) refuses with 488 is offered again as RTP to the same gateway; the call is answered, the PBX keeps its SRTP',
    { skip, timeout: 40_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(CARRIER);
      const calleeLog = logFile('srtp-488-carrier');
      const callerLog = logFile('srtp-488-pbx');
      try {
        const callee = await uas(
          'media-uas-488-srtp.xml',
          { mport: String(sink.port), ...ALAW_ANSWER },
          CARRIER,
          ports.gw!,
          calleeLog,
        );
        await uac(
          'media-uac-srtp.xml',
          { caller: DID, key: randomBytes(30).toString('base64'), holdMs: '1000' },
          PBX,
          '+4930123456',
          callerLog,
        );
        await done(callee, 'carrier refusing SRTP, then answering RTP');
        const invites = received(calleeLog, /^INVITE /);
        assert.equal(invites.length, 2, 'the SRTP INVITE and the RTP one');
        const first = assertAnchored(invites[0]!.body, PBX, 'first offer to the carrier');
        const second = assertAnchored(invites[1]!.body, PBX, 'second offer to the carrier');
        assert.deepEqual([first.profile, second.profile], ['RTP/SAVP', 'RTP/AVP']);
        assert.match(invites[0]!.body, /^a=crypto:/m);
        assert.doesNotMatch(invites[1]!.body, /a=crypto/);
        const header = (m: { text: string }, name: string): string =>
          new RegExp(`^${name}: *(.*)$`, 'im').exec(m.text)?.[1] ?? '';
        assert.equal(header(invites[1]!, 'Call-ID'), header(invites[0]!, 'Call-ID'), 'the same gateway, the same call');
        assert.deepEqual([header(invites[0]!, 'CSeq'), header(invites[1]!, 'CSeq')], ['1 INVITE', '2 INVITE']);
        // The PBX offered SRTP and is answered SRTP, with Trunkline's key.
        const answer = received(callerLog, /^SIP\/2\.0 200/).find((m) => m.body !== '')!.body;
        assert.equal(assertAnchored(answer, CARRIER, 'answer to the PBX').profile, 'RTP/SAVP');
        assert.match(answer, /^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:/m);
        assert.equal(received(callerLog, /^SIP\/2\.0 488/).length, 0, 'the PBX never saw the 488');
        const rows = await cdrsSince(t0);
        assert.deepEqual(
          rows.map((c) => [c.direction, c.carrier, c.status, c.hangupBy]),
          [['outbound', 'main', 200, 'caller']],
        );
        assert.match(server.output(), /SRTP offer refused with 488, offered again as RTP/);
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      "late offer refused: the carrier's 200 offers only PCMU to a PCMA-only trunk: the carrier is ACKed and hung up, the PBX gets 488 with a Warning",
    { skip, timeout: 40_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(CARRIER);
      const callerLog = logFile('late-refused-caller');
      try {
        const callee = await uas(
          'media-uas.xml',
          { mport: String(sink.port), pts: '0', rtpmaps: 'a=rtpmap:0 PCMU/8000' },
          CARRIER,
          ports.gw!,
          logFile('late-refused-callee'),
        );
        await uac('trunk-uac-expect.xml', { caller: DID_PCMA, expect: '488' }, PCMA_PBX, '+4930123456', callerLog);
        await done(callee, 'carrier offering PCMU in its 200 (must get ACK and BYE)');
        assert.match(received(callerLog, /^SIP\/2\.0 488/)[0]!.text, /^Warning: 305 \S+ ".+"$/m);
        const rows = await cdrsSince(t0);
        assert.deepEqual(
          rows.map((c) => [c.direction, c.status, c.answerAt]),
          [['outbound', 488, null]],
        );
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      'hold (re-INVITE a=sendonly) and resume (a=sendrecv) keep the call and its media: every packet of the recording arrives across both',
    { skip, timeout: 60_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(PBX);
      const calleeLog = logFile('hold-callee');
      const callerLog = logFile('hold-caller');
      try {
        const callee = await uas(
          'media-uas-hold.xml',
          { mport: String(sink.port), ...ALAW_ANSWER },
          PBX,
          ports.pbx!,
          calleeLog,
        );
        await uac('media-uac-hold.xml', { caller: '+15551230000' }, CARRIER, DID, callerLog);
        await done(callee, 'PBX put on hold');
        const invites = received(calleeLog, /^INVITE /);
        assert.equal(invites.length, 3);
        const ports3 = invites.map((m, i) => assertAnchored(m.body, CARRIER, `INVITE ${i + 1} to the PBX`).port);
        assert.match(invites[1]!.body, /^a=sendonly$/m);
        assert.match(invites[2]!.body, /^a=sendrecv$/m);
        const oks = received(callerLog, /^SIP\/2\.0 200/).filter((m) => m.body !== '');
        assert.equal(oks.length, 3);
        oks.forEach((m, i) => assertAnchored(m.body, PBX, `200 ${i + 1} to the carrier`));
        assert.match(oks[1]!.body, /^a=recvonly$/m);
        // SIPp keeps sending to the port of the first answer: it must stay valid (RFC 3264 8.4: ports may stay).
        const first = assertAnchored(oks[0]!.body, PBX, 'first 200').port;
        assert.deepEqual(
          oks.map((m) => assertAnchored(m.body, PBX, '200').port),
          [first, first, first],
        );
        assert.equal(new Set(ports3).size, 1, 'the PBX is offered the same relay port each time');
        await new Promise((r) => setTimeout(r, 200));
        assert.equal(
          sink.got.length,
          audio.length,
          'every packet of the recording arrived, before, during and after the hold',
        );
        const rows = await cdrsSince(t0);
        assert.deepEqual(
          rows.map((c) => [c.status, c.hangupBy, c.reason]),
          [[200, 'caller', 'Normal Clearing']],
        );
        const m = mediaOf(rows[0]!);
        assert.equal(m.aToB.packets, audio.length);
        assert.ok(m.bToA.packets > 0);
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      'a held call is not ended by the media timeout: silent on hold for twice the timeout, resumed, hung up by its caller',
    { skip, timeout: 40_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(PBX);
      try {
        const callee = await uas(
          'media-uas-hold.xml',
          { mport: String(sink.port), ...ALAW_ANSWER },
          PBX,
          ports.pbx!,
          logFile('silent-hold-callee'),
        );
        await uac(
          'media-uac-hold-silent.xml',
          { caller: '+15551230000', heldMs: '6000' },
          CARRIER,
          DID,
          logFile('silent-hold-caller'),
        );
        await done(callee, 'PBX held in silence');
        const rows = await cdrsSince(t0);
        assert.deepEqual(
          rows.map((c) => [c.status, c.reason, c.hangupBy]),
          [[200, 'Normal Clearing', 'caller']],
        );
        assert.ok(rows[0]!.endAt - rows[0]!.answerAt! >= 6000);
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      'media timeout (3 s here): a call whose RTP stops gets a BYE on both sides and "Media timeout" in its CDR',
    { skip, timeout: 40_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(PBX);
      try {
        // The callee waits for a BYE it never sends itself: Trunkline's.
        const callee = await uas(
          'media-uas.xml',
          { mport: String(sink.port), ...ALAW_ANSWER },
          PBX,
          ports.pbx!,
          logFile('timeout-callee'),
        );
        const callerLog = logFile('timeout-caller');
        await uac('media-uac-timeout.xml', { caller: '+15551230000' }, CARRIER, DID, callerLog);
        await done(callee, 'PBX waiting for the BYE');
        const bye = received(callerLog, /^BYE /)[0]!;
        assert.match(bye.text, /^Reason: SIP;cause=200;text="Media timeout"$/m);
        const rows = await cdrsSince(t0);
        assert.equal(rows.length, 1);
        const c = rows[0]!;
        assert.deepEqual([c.status, c.reason, c.hangupBy], [200, 'Media timeout', 'system']);
        // The digit took about a second; then 3 s of silence, checked about once a second.
        const silentFor = c.endAt - c.answerAt!;
        assert.ok(silentFor >= 3000 && silentFor < 9000, `ended ${silentFor} ms after the answer`);
        assert.ok(sink.got.length > 0, 'the digit reached the PBX before the media stopped');
      } finally {
        sink.close();
      }
    },
  );

  test(
    o.label +
      ': ' +
      "an SRTP trunk (media: srtp) is offered RTP/SAVP with a=crypto AES_CM_128_HMAC_SHA1_80 while the carrier's side stays RTP/AVP",
    { skip, timeout: 40_000 },
    async () => {
      const calleeLog = logFile('srtp-offer');
      const callee = await uas('media-uas-refuse.xml', {}, '127.0.0.14', ports.srtpSipp!, calleeLog);
      await uac(
        'media-uac-expect.xml',
        { caller: '+15551230000', expect: '488' },
        CARRIER,
        DID_SRTP_SIPP,
        logFile('srtp-offer-caller'),
      );
      await done(callee, 'SRTP trunk PBX');
      const offer = received(calleeLog, /^INVITE /)[0]!.body;
      const m = assertAnchored(offer, CARRIER, 'offer to the SRTP trunk');
      assert.equal(m.profile, 'RTP/SAVP');
      const cryptos = offer.match(/^a=crypto:.*$/gm) ?? [];
      assert.ok(cryptos.length >= 1, offer);
      assert.match(cryptos[0]!, /^a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:[A-Za-z0-9+/]{40}(\|.*)?$/);
    },
  );

  test(
    o.label +
      ': ' +
      "SRTP leg with a real peer: baresip (srtp module, mediaenc=srtp-mand) as the SRTP trunk's PBX, SIPp as the plain-RTP carrier: baresip decodes the carrier's recording (not silence), its SRTP is authenticated and relayed as RTP",
    { skip: skipBaresip, timeout: 60_000 },
    async () => {
      const t0 = Date.now();
      const rec = mkdtempSync(join(tmpdir(), 'baresip-rec-'));
      const pbx = await startBaresip({
        name: 'srtp-pbx',
        user: DID_SRTP,
        domain: SRTP_PBX,
        password: 'unused',
        proxyPort: port,
        answermode: 'auto',
        regint: 0,
        ip: SRTP_PBX,
        sipPort: ports.srtpPbx!,
        toneSeconds: 20,
        mediaenc: 'srtp-mand',
        recordDir: rec,
      });
      try {
        const callerLog = logFile('srtp-caller');
        await uac('media-uac-play.xml', { caller: '+15551230000' }, CARRIER, DID_SRTP, callerLog).catch((e: Error) => {
          throw new Error(`${e.message}\n--- baresip:\n${pbx.output().slice(-3000)}`);
        });
        const answer = received(callerLog, /^SIP\/2\.0 200/).find((m) => m.body !== '')!.body;
        const a = assertAnchored(answer, SRTP_PBX, 'answer to the carrier');
        assert.equal(a.profile, 'RTP/AVP');
        assert.doesNotMatch(answer, /a=crypto/);
        await pbx.waitEvent((e) => e.type === 'CALL_CLOSED', 'CALL_CLOSED at the SRTP PBX', 5000);
        const out = pbx.output();
        assert.match(out, /SRTP is Enabled \(cryptosuite=AES_CM_128_HMAC_SHA1_(80|32)\)/, out);
        const rows = await cdrsSince(t0);
        assert.equal(rows.length, 1);
        const m = mediaOf(rows[0]!);
        // Carrier to PBX: RTP in, SRTP out (baresip decrypted it: see its recording); PBX to carrier: SRTP in, authenticated.
        assert.equal(m.aToB.packets, audio.length + digit.length);
        assert.ok(m.bToA.packets > 300, JSON.stringify(m));
        // Every RTP packet authenticated. baresip 1.0 (libre) at times also sends a 16-byte RTCP APP packet
        // unprotected on its SRTP session: refused (RFC 3711 3.4) and counted as an SRTP failure.
        if (o.builtin) assert.ok(m.bToA.srtpFailures <= 2 && m.bToA.strangers === 0, JSON.stringify(m));
        // baresip starts sending when it sends its 200: what arrives before the answer is applied is dropped (nowhere to go yet).
        if (o.builtin) assert.ok(m.bToA.dropped <= 5, JSON.stringify(m));
        // What baresip decoded from our SRTP is the recording, not silence.
        const dec = readdirSync(rec).find((f) => f.endsWith('-dec.wav'));
        assert.ok(dec !== undefined, `no decoded recording in ${rec}: ${readdirSync(rec).join(', ')}\n${out}`);
        const w = wavRms(join(rec, dec));
        assert.ok(w.samples > 8000 * 5, `only ${w.samples} samples decoded`);
        assert.ok(w.rms > 100, `decoded audio is silence (rms ${w.rms.toFixed(1)})`);
      } finally {
        await pbx.stop();
      }
    },
  );

  test(
    o.label +
      ': ' +
      "two baresips, one SRTP (the trunk's PBX, srtp-mand) and one plain RTP (the carrier's gateway): each records the other's tone, not silence",
    { skip: skipBaresip, timeout: 60_000 },
    async () => {
      const t0 = Date.now();
      const recPbx = mkdtempSync(join(tmpdir(), 'baresip-rec-pbx-'));
      const recGw = mkdtempSync(join(tmpdir(), 'baresip-rec-gw-'));
      const pbx = await startBaresip({
        name: 'srtp-pbx2',
        user: DID_SRTP,
        domain: SRTP_PBX,
        password: 'unused',
        proxyPort: port,
        answermode: 'auto',
        regint: 0,
        ip: SRTP_PBX,
        sipPort: ports.srtpPbx!,
        mediaenc: 'srtp-mand',
        recordDir: recPbx,
        toneSeconds: 20,
      });
      let gw: Awaited<ReturnType<typeof startBaresip>> | null = null;
      const detail = (): string =>
        `--- pbx:\n${pbx.output().slice(-2500)}\n--- gateway:\n${gw?.output().slice(-2500) ?? ''}\n--- server:\n${server.output().slice(-2500)}`;
      try {
        gw = await startBaresip({
          name: 'rtp-gw',
          user: '+15551230000',
          domain: CARRIER,
          password: 'unused',
          proxyPort: port,
          regint: 0,
          ip: CARRIER,
          recordDir: recGw,
          toneSeconds: 20,
        });
        const r = await gw.command('dial', `sip:${DID_SRTP}@127.0.0.1:${port}`);
        assert.equal(r.ok, true, `dial refused: ${JSON.stringify(r)}\n${detail()}`);
        await gw
          .waitEvent((e) => e.type === 'CALL_ESTABLISHED', 'CALL_ESTABLISHED at the gateway', 10_000)
          .catch((e: Error) => {
            throw new Error(`${e.message}\n${detail()}`);
          });
        await new Promise((res) => setTimeout(res, 4000));
        await gw.command('hangup');
        await pbx.waitEvent((e) => e.type === 'CALL_CLOSED', 'CALL_CLOSED at the PBX', 5000);
        assert.match(pbx.output(), /SRTP is Enabled \(cryptosuite=AES_CM_128_HMAC_SHA1_80\)/, detail());
        assert.doesNotMatch(gw.output(), /SRTP is Enabled/);
        for (const [who, dir] of [
          ['SRTP PBX', recPbx],
          ['plain gateway', recGw],
        ] as const) {
          const dec = readdirSync(dir).find((f) => f.endsWith('-dec.wav'));
          assert.ok(dec !== undefined, `${who}: no decoded recording\n${detail()}`);
          const w = wavRms(join(dir, dec));
          assert.ok(w.samples > 8000 * 2, `${who}: only ${w.samples} samples decoded`);
          // The tone is a 440 Hz sine of amplitude 8000 (rms about 5600); G.711 silence decodes to |x| < 16.
          assert.ok(w.rms > 1000, `${who}: decoded audio is silence (rms ${w.rms.toFixed(1)})`);
        }
        const rows = await cdrsSince(t0);
        assert.equal(rows.length, 1);
        const m = mediaOf(rows[0]!);
        assert.ok(m.aToB.packets > 150 && m.bToA.packets > 150, JSON.stringify(m));
      } finally {
        await gw?.stop();
        await pbx.stop();
      }
    },
  );

  test(
    o.label + ': ' + 'after 100 calls (SIPp, 10 per second) every relay port of the range is free again',
    { skip, timeout: 90_000 },
    async () => {
      const t0 = Date.now();
      const sink = await MediaSink.open(PBX);
      try {
        const callee = await uas(
          'media-uas.xml',
          { mport: String(sink.port), ...ALAW_ANSWER },
          PBX,
          ports.pbx!,
          logFile('many-callee'),
          100,
        );
        await uac(
          'trunk-uac-call.xml',
          { caller: '+15551230000', hidden: 'xx-none', hiddenAddr: 'xx-none', hold: '200' },
          CARRIER,
          DID,
          logFile('many-caller'),
          100,
        );
        await done(callee, 'PBX of 100 calls');
        const rows = await cdrsSince(t0, 100);
        assert.equal(rows.filter((c) => c.status === 200 && c.extra !== null).length, 100);
        await new Promise((r) => setTimeout(r, 300));
        // Every port, including those of the earlier calls of this file (refused, timed out, held, SRTP).
        const after = await bindable();
        const held = [...freeBefore].filter((p) => !after.has(p));
        assert.deepEqual(held, [], `ports still held after the calls ended`);
      } finally {
        sink.close();
      }
    },
  );
}
