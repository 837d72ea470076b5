import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenario, scenarioWith, haveCommand, type BackgroundSipp } from '../helpers/sipp.js';
import { startKamailio, kamailioSkipReason, type RunningKamailio } from '../helpers/kamailio.js';
import { generateLocalhostCert } from '../../src/tls/self-signed.js';

/**
 * Kamailio (the Debian package) as Trunkline's next hop, with real SIPp
 * UAC and UAS on loopback:
 *
 *   SIPp UAC --UDP--> Trunkline --UDP--> Kamailio --UDP--> SIPp UAS
 *   SIPp UAC --UDP--> Trunkline --TLS--> Kamailio --UDP--> SIPp UAS
 *
 * Both proxies record-route; the UAC's ACK and BYE follow the Record-Route
 * set (uac-call.xml), so they cross Trunkline and Kamailio again; a callee's
 * BYE crosses them the other way (Kamailio then opens TLS to Trunkline's TLS
 * listener); a CANCEL follows the INVITE. Over TLS, Trunkline verifies
 * Kamailio's certificate against `tls.ca` (a certificate made here for
 * localhost/127.0.0.1) and refuses a Kamailio whose certificate it does not
 * trust; it writes two Record-Route entries (TLS, UDP) and Kamailio its two
 * (TLS, UDP). Kamailio logs every request it routes (KHOP lines): the tests
 * check which crossed it, over which transport, with which Route set.
 */
const noSipp = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const skipUdp = noSipp || kamailioSkipReason();
const skipTls = noSipp || kamailioSkipReason({ tls: true });

const CALLS = 3;
/** The dialog stamp on Trunkline's Record-Route entries (src/proxy/dialog-stamp.ts), as a regex. */
const STAMP = '[A-Za-z0-9_-]{16}';

let server: RunningTrunkline | undefined;
let port: number;
let tlsPort: number;
let kUdp: number;
let kTls: number;
let kTlsUdp: number;
let kBye: number;
let kByeUdp: number;
let kCancel: number;
let kBad: number;
let kBadUdp: number;
let certDir: string;
let kamailioCert: string;
let kamailioKey: string;

before(async () => {
  if (skipUdp) return;
  port = await freePort();
  tlsPort = await freePort();
  kUdp = await freePort();
  kTls = await freePort();
  kTlsUdp = await freePort();
  kBye = await freePort();
  kByeUdp = await freePort();
  kCancel = await freePort();
  kBad = await freePort();
  kBadUdp = await freePort();
  // Kamailio's certificate (CN=localhost, SAN 127.0.0.1): Trunkline trusts it through tls.ca.
  certDir = mkdtempSync(join(tmpdir(), 'trunkline-kamailio-cert-'));
  const { cert, key } = await generateLocalhostCert();
  kamailioCert = join(certDir, 'kamailio-cert.pem');
  kamailioKey = join(certDir, 'kamailio-key.pem');
  writeFileSync(kamailioCert, cert);
  writeFileSync(kamailioKey, key, { mode: 0o600 });
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}, tls:127.0.0.1:${tlsPort}]`,
      `tls: {ca: ${JSON.stringify(kamailioCert)}}`,
      'routes:',
      `  - {match: {user: "^udp$"}, forward: "sip:127.0.0.1:${kUdp}"}`,
      `  - {match: {user: "^tls$"}, forward: "sip:127.0.0.1:${kTls};transport=tls"}`,
      `  - {match: {user: "^tlsbye$"}, forward: "sip:127.0.0.1:${kBye};transport=tls"}`,
      `  - {match: {user: "^cancel$"}, forward: "sip:127.0.0.1:${kCancel}"}`,
      `  - {match: {user: "^untrusted$"}, forward: "sip:127.0.0.1:${kBad};transport=tls"}`,
      '',
    ].join('\n'),
  );
});

after(async () => {
  try {
    if (server !== undefined) assert.equal(await server.stop(), 0, 'trunkline exit code');
  } finally {
    if (certDir !== undefined) rmSync(certDir, { recursive: true, force: true });
  }
});

async function uasDone(b: BackgroundSipp, what: string): Promise<void> {
  const r = await b.done;
  assert.equal(r.code, 0, `UAS ${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}`);
}

/** Runs CALLS full calls from a SIPp UAC to Trunkline, dialling `service`, through Kamailio to a SIPp UAS. */
async function calls(k: RunningKamailio, uasPort: number, service: string, calleeHangsUp = false): Promise<void> {
  const uas = sippBackground(scenario(calleeHangsUp ? 'uas-call-bye.xml' : 'uas-call.xml'), uasPort, {
    calls: CALLS,
    timeoutS: 15,
    extra: ['-timeout_error'],
  });
  try {
    const r = await sipp({
      scenario: scenario(calleeHangsUp ? 'uac-call-bye-in.xml' : 'uac-call.xml'),
      target: `127.0.0.1:${port}`,
      localPort: await freePort(),
      calls: CALLS,
      rate: 10,
      timeoutS: 12,
      extra: ['-s', service],
    });
    assert.equal(
      r.code,
      0,
      `UAC (${service}) failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}\n--- kamailio:\n${k.output().slice(-3000)}\n--- trunkline:\n${server!.output().slice(-3000)}`,
    );
    await uasDone(uas, service);
  } finally {
    await uas.stop();
  }
}

function count(lines: string[], re: RegExp): number {
  return lines.filter((l) => re.test(l)).length;
}

test(
  'Kamailio as the next hop over UDP: full calls, the ACK and BYE follow both Record-Routes',
  { skip: skipUdp, timeout: 20000 },
  async () => {
    const uasPort = await freePort();
    const k = await startKamailio({ udpPort: kUdp, uas: `sip:127.0.0.1:${uasPort}` });
    try {
      await calls(k, uasPort, 'udp');
      const hops = k.hops();
      assert.equal(count(hops, /^KHOP INVITE .* proto=udp /), CALLS, hops.join('\n'));
      assert.equal(count(hops, /^KHOP ACK .* proto=udp /), CALLS, hops.join('\n'));
      assert.equal(count(hops, /^KHOP BYE .* proto=udp /), CALLS, hops.join('\n'));
      // The INVITE reached Kamailio with Trunkline's one Record-Route (UDP in, UDP out).
      for (const l of hops.filter((h) => h.startsWith('KHOP INVITE'))) {
        assert.match(l, new RegExp(`rr=\\[<sip:127\\.0\\.0\\.1:${port};lr;dsig=${STAMP}>\\]`), l);
      }
      // In-dialog requests arrive at Kamailio with Kamailio's own Route value only (Trunkline removed its own).
      for (const l of hops.filter((h) => /^KHOP (ACK|BYE)/.test(h))) {
        assert.match(l, new RegExp(`route=\\[<sip:127\\.0\\.0\\.1:${kUdp};lr[^>]*>\\]`), l);
      }
    } finally {
      await k.stop();
    }
  },
);

test(
  "UDP in, TLS out: Trunkline verifies Kamailio's certificate (tls.ca), double Record-Route carries ACK and BYE across",
  { skip: skipTls, timeout: 20000 },
  async () => {
    const uasPort = await freePort();
    const k = await startKamailio({
      udpPort: kTlsUdp,
      uas: `sip:127.0.0.1:${uasPort}`,
      tls: { port: kTls, cert: kamailioCert, key: kamailioKey },
    });
    try {
      await calls(k, uasPort, 'tls');
      const hops = k.hops();
      assert.equal(count(hops, /^KHOP INVITE .* proto=tls /), CALLS, hops.join('\n'));
      assert.equal(count(hops, /^KHOP ACK .* proto=tls /), CALLS, hops.join('\n'));
      assert.equal(count(hops, /^KHOP BYE .* proto=tls /), CALLS, hops.join('\n'));
      // Trunkline's two Record-Route entries: the TLS interface it sent from on top, the UDP one it received on below.
      for (const l of hops.filter((h) => h.startsWith('KHOP INVITE'))) {
        assert.match(
          l,
          new RegExp(
            `rr=\\[<sip:127\\.0\\.0\\.1:${tlsPort};transport=tls;lr;dsig=${STAMP}>, ?<sip:127\\.0\\.0\\.1:${port};lr;dsig=${STAMP}>\\]`,
          ),
          l,
        );
      }
      // In-dialog: Trunkline consumed both of its Route values and sent on over TLS to Kamailio's TLS entry.
      for (const l of hops.filter((h) => /^KHOP (ACK|BYE)/.test(h))) {
        assert.match(
          l,
          new RegExp(
            `route=\\[<sip:127\\.0\\.0\\.1:${kTls};transport=tls;r2=on;lr[^>]*>, ?<sip:127\\.0\\.0\\.1:${kTlsUdp};r2=on;lr[^>]*>\\]`,
          ),
          l,
        );
      }
    } finally {
      await k.stop();
    }
  },
);

test(
  'the callee hangs up through TLS: its BYE crosses Kamailio (UDP in, TLS out) and Trunkline (TLS in, UDP out) to the caller',
  { skip: skipTls, timeout: 20000 },
  async () => {
    const uasPort = await freePort();
    const k = await startKamailio({
      udpPort: kByeUdp,
      uas: `sip:127.0.0.1:${uasPort}`,
      tls: { port: kBye, cert: kamailioCert, key: kamailioKey },
    });
    try {
      await calls(k, uasPort, 'tlsbye', true);
      const hops = k.hops();
      assert.equal(count(hops, /^KHOP INVITE .* proto=tls /), CALLS, hops.join('\n'));
      assert.equal(count(hops, /^KHOP ACK .* proto=tls /), CALLS, hops.join('\n'));
      // The callee's BYE reaches Kamailio over UDP with the whole route set: Kamailio's two values, then Trunkline's TLS and UDP ones.
      const byes = hops.filter((h) => h.startsWith('KHOP BYE'));
      assert.equal(byes.length, CALLS, hops.join('\n'));
      for (const l of byes) {
        assert.match(l, / proto=udp /, l);
        assert.match(
          l,
          new RegExp(
            `route=\\[<sip:127\\.0\\.0\\.1:${kByeUdp};r2=on;lr[^>]*>, ?<sip:127\\.0\\.0\\.1:${kBye};transport=tls;r2=on;lr[^>]*>, ?<sip:127\\.0\\.0\\.1:${tlsPort};transport=tls;lr;dsig=${STAMP}>, ?<sip:127\\.0\\.0\\.1:${port};lr;dsig=${STAMP}>\\]`,
          ),
          l,
        );
      }
    } finally {
      await k.stop();
    }
  },
);

test(
  'CANCEL while it rings crosses Kamailio: the callee gets it, the caller gets 200 and 487',
  { skip: skipUdp, timeout: 20000 },
  async () => {
    const uasPort = await freePort();
    const k = await startKamailio({ udpPort: kCancel, uas: `sip:127.0.0.1:${uasPort}` });
    const uas = sippBackground(scenario('uas-ring-cancel-hops.xml'), uasPort, {
      calls: 1,
      timeoutS: 12,
      extra: ['-timeout_error'],
    });
    try {
      const r = await sipp({
        scenario: scenario('uac-cancel.xml'),
        target: `127.0.0.1:${port}`,
        localPort: await freePort(),
        timeoutS: 10,
        extra: ['-s', 'cancel'],
      });
      assert.equal(
        r.code,
        0,
        `UAC (cancel) failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}\n--- kamailio:\n${k.output().slice(-3000)}`,
      );
      await uasDone(uas, 'cancel');
      const hops = k.hops();
      assert.equal(count(hops, /^KHOP INVITE /), 1, hops.join('\n'));
      assert.equal(count(hops, /^KHOP CANCEL /), 1, hops.join('\n'));
    } finally {
      await uas.stop();
      await k.stop();
    }
  },
);

test(
  'TLS out to a Kamailio whose certificate Trunkline does not trust: refused, the INVITE never reaches it',
  { skip: skipTls, timeout: 20000 },
  async () => {
    // Same names (localhost, 127.0.0.1) but another key pair, not in tls.ca.
    const dir = mkdtempSync(join(tmpdir(), 'trunkline-kamailio-badcert-'));
    const { cert, key } = await generateLocalhostCert();
    writeFileSync(join(dir, 'cert.pem'), cert);
    writeFileSync(join(dir, 'key.pem'), key, { mode: 0o600 });
    const uasPort = await freePort();
    const k = await startKamailio({
      udpPort: kBadUdp,
      uas: `sip:127.0.0.1:${uasPort}`,
      tls: { port: kBad, cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') },
    });
    try {
      // The branch fails with a transport error (503 inside), which goes upstream as 500 (RFC 3261 16.7 step 6).
      const r = await sipp({
        scenario: scenarioWith('uac-expect.xml', { expect: '500', mf: '70' }),
        target: `127.0.0.1:${port}`,
        localPort: await freePort(),
        timeoutS: 10,
        extra: ['-s', 'untrusted'],
      });
      assert.equal(
        r.code,
        0,
        `UAC (untrusted) failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}\n--- trunkline:\n${server!.output().slice(-3000)}`,
      );
      assert.equal(count(k.hops(), /^KHOP INVITE /), 0, k.hops().join('\n'));
    } finally {
      await k.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
