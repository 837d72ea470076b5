/**
 * Early dialogs through the B2BUA with real SIPp peers on both legs (UDP,
 * 127.0.N.5 a carrier gateway, 127.0.N.2 a customer PBX; N 0 with the
 * built-in media relay, 1 with rtpengine, the two suites side by side), the
 * media engine anchoring every SDP: reliable provisionals (RFC 3262)
 * generated and PRACKed per leg, UPDATE carried between the early dialogs
 * (RFC 3311) both ways, P-Early-Media (RFC 5009) across, a carrier's
 * ringback reaching the PBX before the answer, a late offer whose offer and
 * answer cross in the reliable 183 and the PRACKs (RFC 3262 5), a new
 * offer in a PRACK carried on as an UPDATE, and a
 * gateway failing after its reliable 183, the next one's reliable 183 and
 * early media going on in the caller's one early dialog. SIPp checks
 * Require/RSeq/RAck as each message comes; the message logs (-trace_msg)
 * give the rest.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'node:dgram';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, sipp, sippBackground, scenarioWith, type BackgroundSipp } from '../helpers/sipp.js';
import { bindUdp, mediaPortRange } from '../media/helpers.js';
import { openStore, type Store } from '../../src/store/index.js';
import { rtpengineSkipReason, startRtpengine } from '../media/rtpengine-daemon.js';

const G711 = '/usr/share/sip-tester/g711a.pcap';
/** Routed to carrier `twogw`, whose first gateway fails after its early media. */
const PSTN_FAILOVER = '+4940555001';
const DID = '+912240004001';
const PSTN = '+4930555000';
/** T1 of the server: its reliable provisionals go again after 100, 300, 700 ms... */
const T1 = 100;

const sippSkip = !haveCommand('sipp')
  ? 'sipp not installed (Debian sip-tester: scripts/install-deps.sh)'
  : !existsSync(G711)
    ? 'sip-tester pcaps not found under /usr/share/sip-tester'
    : false;

interface Logged {
  dir: 'sent' | 'received';
  /** Seconds since the epoch, from the log's separator line (SIPp writes the local time). */
  at: number;
  firstLine: string;
  text: string;
}

/** The messages of a SIPp -trace_msg log, with their times. */
function sippMessages(file: string): Logged[] {
  const out: Logged[] = [];
  const parts = readFileSync(file, 'utf8').split(/^-{20,}\s*(.*)$/m);
  // split() with a group: [before, time1, chunk1, time2, chunk2, ...]
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const m = /^\s*\w+ message (sent|received)[^\n]*\n\n?([\s\S]*)$/.exec(parts[i + 1]!);
    if (m === null) continue;
    const text = m[2]!.replace(/\r\n/g, '\n').trim();
    out.push({ dir: m[1] as 'sent' | 'received', at: logTime(parts[i]!), firstLine: text.split('\n', 1)[0]!, text });
  }
  return out;
}

/** `2024-05-01\t12:00:00.123456\t1714560000.123456` (SIPp 3.6) or `2024-05-01T12:00:00.123456+0200`. */
function logTime(s: string): number {
  const epoch = /\b(\d{10}\.\d{6})\b/.exec(s);
  if (epoch !== null) return Number(epoch[1]);
  const m = /(\d{4}-\d{2}-\d{2})[T\t ](\d{2}:\d{2}:\d{2})\.(\d{6})/.exec(s);
  assert.ok(m !== null, `no time in SIPp log line "${s}"`);
  return new Date(`${m[1]}T${m[2]}`).getTime() / 1000 + Number(m[3]) / 1e6;
}

function header(msg: Logged, name: string): string | undefined {
  return new RegExp(`^${name}:\\s*(.*)$`, 'im').exec(msg.text)?.[1]?.trim();
}

function bodyOf(msg: Logged): string {
  const i = msg.text.indexOf('\n\n');
  return i < 0 ? '' : msg.text.slice(i + 2);
}

/** A UDP socket standing in for the PBX's RTP port: when each packet arrived. */
class RtpSink {
  readonly got: Array<{ at: number; pt: number }> = [];
  private constructor(
    private readonly sock: Socket,
    readonly port: number,
  ) {
    sock.on('message', (buf) => this.got.push({ at: Date.now() / 1000, pt: buf[1]! & 0x7f }));
  }
  static async open(ip: string): Promise<RtpSink> {
    const port = await freePort(ip);
    return new RtpSink(await bindUdp(port, ip), port);
  }
  close(): void {
    this.sock.close();
  }
}

/** A -mp port for SIPp on `ip`: it binds that port, the next for RTCP and the two after for video. */
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

interface EarlyDialogSuite {
  label: string;
  skip: string | false;
  /** The third octet of the peers' loopback addresses (each engine its own: the suites run side by side). */
  net: number;
  /** Starts what the server's media block names; returns that block and how to stop it. */
  media(): Promise<{ yaml: string; stop(): Promise<void> }>;
}

function earlyDialogSuite(o: EarlyDialogSuite): void {
  const PBX = `127.0.${o.net}.2`;
  const CARRIER = `127.0.${o.net}.5`;
  /** The second gateway of carrier `twogw` (its first is on CARRIER). */
  const GW2 = `127.0.${o.net}.6`;
  // Its calls one after the other (they share the carrier's gateway); the other engine's side by side.
  describe(o.label, { concurrency: 1 }, () => {
    const skip = sippSkip || o.skip;
    let stopMedia: () => Promise<void> = async () => {};
    let server: RunningTrunkline;
    let store: Store;
    let port: number;
    const ports: Record<string, number> = {};

    before(async () => {
      if (skip !== false) return;
      const media = await o.media();
      stopMedia = media.stop;
      port = await freePort();
      ports.pbx = await freePort(PBX);
      ports.gw = await freePort(CARRIER);
      ports.fail = await freePort(CARRIER);
      ports.gw2 = await freePort(GW2);
      server = await startTrunkline(
        [
          `listen: [udp:127.0.0.1:${port}]`,
          `sip: {timers: {t1: ${T1}, t2: 4000, t4: 5000}}`,
          'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
          media.yaml,
          '',
        ].join('\n'),
      );
      store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
      await store.accounts.add({ name: 'acme' });
      await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:${ports.pbx}` });
      await store.dids.add(DID, 'pbx');
      await store.carriers.add({ name: 'main', gateways: [`sip:${CARRIER}:${ports.gw}`] });
      await store.routes.add('+', ['main']);
      await store.carriers.add({
        name: 'twogw',
        gateways: [`sip:${CARRIER}:${ports.fail}`, `sip:${GW2}:${ports.gw2}`],
      });
      await store.routes.add('+4940', ['twogw']);
      // The server sees store changes within 2 s (it polls every second).
      await new Promise((r) => setTimeout(r, 2200));
    });

    after(async () => {
      if (skip !== false) return;
      await store.close();
      assert.equal(await server.stop(), 0);
      await stopMedia();
      for (const d of logDirs) rmSync(d, { recursive: true, force: true });
    });

    /** SIPp message logs, in folders removed once the suite is over. */
    const logDirs: string[] = [];
    const logFile = (name: string): string => {
      const dir = mkdtempSync(join(tmpdir(), 'sipp-rel-log-'));
      logDirs.push(dir);
      return join(dir, `${name}.log`);
    };

    async function uac(scn: string, ip: string, service: string, log: string, extra: string[] = []): Promise<void> {
      const r = await sipp({
        scenario: scn,
        target: `127.0.0.1:${port}`,
        ip,
        localPort: await freePort(ip),
        timeoutS: 25,
        extra: ['-s', service, '-trace_msg', '-message_file', log, ...extra],
      });
      assert.equal(
        r.code,
        0,
        `UAC from ${ip} to ${service} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}\nlog:\n${tail(log)}\nserver:\n${server.output().slice(-4000)}`,
      );
    }

    function uas(scn: string, ip: string, p: number, log: string, extra: string[] = []): BackgroundSipp {
      return sippBackground(scn, p, { ip, timeoutS: 30, extra: ['-trace_msg', '-message_file', log, ...extra] });
    }

    async function done(b: BackgroundSipp, what: string, log: string): Promise<void> {
      const r = await b.done;
      assert.equal(
        r.code,
        0,
        `${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}\nlog:\n${tail(log)}\nserver:\n${server.output().slice(-4000)}`,
      );
    }

    function tail(file: string): string {
      return existsSync(file) ? readFileSync(file, 'utf8').slice(-6000) : '(no log)';
    }

    test(
      o.label +
        ': ' +
        'a carrier requiring 100rel reaches the PBX: reliable 180 and 183 with PRACK on each leg, UPDATE both ways in the early dialog, then 200/ACK/BYE',
      { skip, timeout: 60_000 },
      async () => {
        const t0 = Date.now();
        const pbxLog = logFile('pbx');
        const gwLog = logFile('carrier');
        const pbxRseq = 4711;
        const pbx = uas(
          scenarioWith('rel-pbx-uas.xml', { pbxRseq: String(pbxRseq), pbxRseqNext: String(pbxRseq + 1) }),
          PBX,
          ports.pbx!,
          pbxLog,
          ['-mp', String(await sippMediaPort(PBX))],
        );
        await uac(
          scenarioWith('rel-carrier-uac.xml', { caller: '+15551230000', prackDelay: String(4 * T1 + 50) }),
          CARRIER,
          DID,
          gwLog,
          ['-mp', String(await sippMediaPort(CARRIER))],
        );
        await done(pbx, 'customer PBX', pbxLog);

        const gw = sippMessages(gwLog);
        const got = (re: RegExp): Logged[] => gw.filter((m) => m.dir === 'received' && re.test(m.firstLine));
        // Toward the carrier: every provisional reliable, RSeq counting up by one from a random start.
        const r180 = got(/^SIP\/2\.0 180 /);
        const r183 = got(/^SIP\/2\.0 183 /);
        assert.ok(r180.length >= 2, `the 180 was sent again until its PRACK (${r180.length} copies)`);
        const rseq = Number(header(r180[0]!, 'RSeq'));
        assert.ok(rseq >= 1 && rseq < 2 ** 31, `RSeq ${rseq}`);
        assert.deepEqual(
          new Set(r180.map((m) => header(m, 'RSeq'))),
          new Set([String(rseq)]),
          'same RSeq when sent again',
        );
        assert.equal(Number(header(r183[0]!, 'RSeq')), rseq + 1);
        // RFC 3262 3: the 183 only after the PRACK of the 180 (no more than one unacknowledged).
        const prack1 = gw.find((m) => m.dir === 'sent' && m.firstLine.startsWith('PRACK'))!;
        assert.ok(r183[0]!.at >= prack1.at, 'the 183 waited for the PRACK of the 180');
        assert.equal(header(r183[0]!, 'P-Early-Media'), 'sendrecv', "the PBX's P-Early-Media crossed");
        const second = r180[1]!.at - r180[0]!.at;
        // SIPp stamps a message when it reads it: one read late on a busy machine shortens the gap seen.
        assert.ok(second >= T1 / 2 / 1000 && second < (3 * T1) / 1000 + 0.5, `first retransmission after ${second}s`);

        // Toward the PBX: Trunkline's own PRACKs, RAck naming the PBX's RSeq and our INVITE's CSeq.
        const p = sippMessages(pbxLog);
        const pracks = p.filter((m) => m.dir === 'received' && m.firstLine.startsWith('PRACK'));
        assert.deepEqual(
          pracks.map((m) => header(m, 'RAck')),
          [`${pbxRseq} 1 INVITE`, `${pbxRseq + 1} 1 INVITE`],
        );
        const invite = p.find((m) => m.dir === 'received' && m.firstLine.startsWith('INVITE'))!;
        assert.match(header(invite, 'Supported') ?? '', /\b100rel\b/);
        assert.equal(header(invite, 'P-Early-Media'), 'supported', "the carrier's P-Early-Media crossed");
        // The UPDATEs crossed with anchored SDP: each side saw Trunkline's media address, never the other's.
        const updToPbx = p.find((m) => m.dir === 'received' && m.firstLine.startsWith('UPDATE'))!;
        assert.match(bodyOf(updToPbx), /^c=IN IP4 127\.0\.0\.1$/m);
        assert.doesNotMatch(bodyOf(updToPbx), new RegExp(CARRIER.replace(/\./g, '\\.')));
        const updToGw = gw.find((m) => m.dir === 'received' && m.firstLine.startsWith('UPDATE'))!;
        assert.match(bodyOf(updToGw), /^c=IN IP4 127\.0\.0\.1$/m);
        assert.doesNotMatch(bodyOf(updToGw), new RegExp(PBX.replace(/\./g, '\\.')));
        assert.equal(header(updToGw, 'CSeq'), '1 UPDATE', 'the first request of ours in the carrier dialog');

        const cdr = await cdrSince(store, t0);
        assert.deepEqual([cdr.direction, cdr.status, cdr.hangupBy], ['inbound', 200, 'caller']);
      },
    );

    test(
      o.label + ': ' + "early media: the carrier's ringback after its reliable 183 reaches the PBX before the answer",
      { skip, timeout: 60_000 },
      async () => {
        const t0 = Date.now();
        const pbxLog = logFile('pbx-early');
        const gwLog = logFile('carrier-early');
        const sink = await RtpSink.open(PBX);
        const ringMs = 2000;
        try {
          const gw = uas(
            scenarioWith('rel-carrier-uas-early.xml', { gwRseq: '9000', ringMs: String(ringMs) }),
            CARRIER,
            ports.gw!,
            gwLog,
            ['-mp', String(await sippMediaPort(CARRIER))],
          );
          await uac(
            scenarioWith('rel-pbx-uac-early.xml', { caller: DID, mport: String(sink.port) }),
            PBX,
            PSTN,
            pbxLog,
          );
          await done(gw, 'carrier gateway', gwLog);

          const p = sippMessages(pbxLog);
          const ok = p.find(
            (m) =>
              m.dir === 'received' && /^SIP\/2\.0 200 /.test(m.firstLine) && /INVITE/.test(header(m, 'CSeq') ?? ''),
          )!;
          const r183 = p.find((m) => m.dir === 'received' && m.firstLine.startsWith('SIP/2.0 183'))!;
          assert.ok(Number(header(r183, 'RSeq')) >= 1);
          const early = sink.got.filter((g) => g.at < ok.at && g.pt === 8);
          // 20 ms packets for most of the ringing: well over a second of audio before the answer.
          assert.ok(
            early.length >= 40,
            `${early.length} A-law packets reached the PBX before the 200 (of ${sink.got.length})`,
          );
          const gwm = sippMessages(gwLog);
          const prack = gwm.find((m) => m.dir === 'received' && m.firstLine.startsWith('PRACK'))!;
          assert.equal(header(prack, 'RAck'), '9000 1 INVITE');
          const cdr = await cdrSince(store, t0);
          assert.deepEqual([cdr.direction, cdr.status], ['outbound', 200]);
        } finally {
          sink.close();
        }
      },
    );

    test(
      o.label +
        ': ' +
        "a late offer with 100rel: the carrier's offer in a reliable 183, the PBX's answer in the PRACKs",
      { skip, timeout: 60_000 },
      async () => {
        const t0 = Date.now();
        const pbxLog = logFile('pbx-late');
        const gwLog = logFile('carrier-late');
        const gw = uas(
          scenarioWith('rel-carrier-uas-late.xml', { gwRseq: '77', leak: PBX.replace(/\./g, '\\.') }),
          CARRIER,
          ports.gw!,
          gwLog,
        );
        await uac(
          scenarioWith('rel-pbx-uac-late.xml', { caller: DID, leak: CARRIER.replace(/\./g, '\\.') }),
          PBX,
          PSTN,
          pbxLog,
        );
        await done(gw, 'carrier gateway', gwLog);
        // The PRACK toward the carrier carried the PBX's answer, anchored: Trunkline's address.
        const prack = sippMessages(gwLog).find((m) => m.dir === 'received' && m.firstLine.startsWith('PRACK'))!;
        assert.match(bodyOf(prack), /^c=IN IP4 127\.0\.0\.1$/m);
        const r183 = sippMessages(pbxLog).find((m) => m.dir === 'received' && m.firstLine.startsWith('SIP/2.0 183'))!;
        assert.match(bodyOf(r183), /^c=IN IP4 127\.0\.0\.1$/m);
        const cdr = await cdrSince(store, t0);
        assert.deepEqual([cdr.direction, cdr.status, cdr.hangupBy], ['outbound', 200, 'caller']);
      },
    );

    test(
      o.label + ': ' + "a new offer in the PBX's PRACK: an UPDATE to the carrier, the answer in the 200 to the PRACK",
      { skip, timeout: 60_000 },
      async () => {
        const t0 = Date.now();
        const pbxLog = logFile('pbx-prack-offer');
        const gwLog = logFile('carrier-update');
        const dots = (ip: string): string => ip.replace(/\./g, '\\.');
        const gw = uas(
          scenarioWith('rel-carrier-uas-update.xml', { gwRseq: '88', leak: dots(PBX) }),
          CARRIER,
          ports.gw!,
          gwLog,
        );
        await uac(scenarioWith('rel-pbx-uac-prack-offer.xml', { caller: DID, leak: dots(CARRIER) }), PBX, PSTN, pbxLog);
        await done(gw, 'carrier gateway', gwLog);
        const upd = sippMessages(gwLog).find((m) => m.dir === 'received' && m.firstLine.startsWith('UPDATE'))!;
        assert.match(bodyOf(upd), /^c=IN IP4 127\.0\.0\.1$/m, 'the new offer, anchored');
        const ok = sippMessages(pbxLog).find(
          (m) => m.dir === 'received' && /^SIP\/2\.0 200 /.test(m.firstLine) && /PRACK/.test(header(m, 'CSeq') ?? ''),
        )!;
        assert.match(bodyOf(ok), /^c=IN IP4 127\.0\.0\.1$/m, 'the answer in the 200 to the PRACK, anchored');
        const cdr = await cdrSince(store, t0);
        assert.deepEqual([cdr.direction, cdr.status, cdr.hangupBy], ['outbound', 200, 'caller']);
      },
    );

    test(
      o.label +
        ': ' +
        "failover after a gateway's reliable 183: the next gateway's reliable 183 goes on the caller's RSeq",
      { skip, timeout: 60_000 },
      async () => {
        const t0 = Date.now();
        const pbxLog = logFile('pbx-failover');
        const gw1Log = logFile('gw1-failover');
        const gw2Log = logFile('gw2-failover');
        const sink = await RtpSink.open(PBX);
        try {
          const gw1 = uas(scenarioWith('rel-carrier-uas-fail.xml', { gwRseq: '500' }), CARRIER, ports.fail!, gw1Log);
          const gw2 = uas(
            scenarioWith('rel-carrier-uas-early.xml', { gwRseq: '9000', ringMs: '1500' }),
            GW2,
            ports.gw2!,
            gw2Log,
            ['-mp', String(await sippMediaPort(GW2))],
          );
          await uac(
            scenarioWith('rel-pbx-uac-failover.xml', { caller: DID, mport: String(sink.port) }),
            PBX,
            PSTN_FAILOVER,
            pbxLog,
          );
          await done(gw1, 'first gateway', gw1Log);
          await done(gw2, 'second gateway', gw2Log);

          const p = sippMessages(pbxLog).filter((m) => m.dir === 'received');
          const r183 = p.filter((m) => m.firstLine.startsWith('SIP/2.0 183'));
          const rseqs = [...new Set(r183.map((m) => Number(header(m, 'RSeq'))))];
          assert.equal(rseqs.length, 2, 'one reliable 183 per gateway');
          assert.equal(rseqs[1], rseqs[0]! + 1, "the caller's leg counts on: one early dialog for it");
          const media = (m: Logged): string[] =>
            bodyOf(m)
              .split('\n')
              .filter((l) => /^(c|m)=/.test(l));
          // The built-in relay keeps its port toward the caller; rtpengine allocates a new one when the far
          // end changes (README: the caller then gets the new port in the next reliable 183).
          if (o.label === 'built-in relay')
            assert.deepEqual(media(r183[r183.length - 1]!), media(r183[0]!), 'the relay hides the change of gateway');
          else assert.match(bodyOf(r183[r183.length - 1]!), /^c=IN IP4 127\.0\.0\.1$/m);
          const ok = p.find((m) => /^SIP\/2\.0 200 /.test(m.firstLine) && /INVITE/.test(header(m, 'CSeq') ?? ''))!;
          const early = sink.got.filter((g) => g.at < ok.at && g.pt === 8);
          assert.ok(early.length >= 25, `${early.length} packets of the second gateway's ringback before the 200`);
          const prack = sippMessages(gw2Log).find((m) => m.dir === 'received' && m.firstLine.startsWith('PRACK'))!;
          assert.equal(header(prack, 'RAck'), '9000 1 INVITE');
          const cdr = await cdrSince(store, t0);
          assert.deepEqual([cdr.status, cdr.carrier], [200, 'twogw']);
        } finally {
          sink.close();
        }
      },
    );
  });
}

describe('early dialogs with SIPp on both legs', { concurrency: true }, () => {
  earlyDialogSuite({
    label: 'built-in relay',
    skip: false,
    net: 0,
    media: async () => {
      const range = mediaPortRange(100);
      return {
        yaml: `media: {engine: builtin, address: 127.0.0.1, ports: ${range.min}-${range.max}, timeout: 10}`,
        stop: async () => {},
      };
    },
  });

  earlyDialogSuite({
    label: 'rtpengine',
    skip: rtpengineSkipReason(),
    net: 1,
    media: async () => {
      const d = await startRtpengine(['--delete-delay=0']);
      return { yaml: `media: {engine: rtpengine, ng: "udp:127.0.0.1:${d.ngPort}", timeout: 10}`, stop: d.stop };
    },
  });
});

async function cdrSince(store: Store, t: number) {
  for (const end = Date.now() + 5000; ; await new Promise((r) => setTimeout(r, 100))) {
    const rows = (await store.cdrs.list({ since: t })).cdrs;
    if (rows.length > 0 || Date.now() > end) {
      assert.equal(rows.length, 1, 'one CDR');
      return rows[0]!;
    }
  }
}
