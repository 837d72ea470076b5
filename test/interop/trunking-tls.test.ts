import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenarioWith, haveCommand } from '../helpers/sipp.js';
import { startKamailio, kamailioSkipReason, type RunningKamailio } from '../helpers/kamailio.js';
import { generateLocalhostCert } from '../../src/tls/self-signed.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * A trunk that must use TLS. Debian's SIPp has no TLS, so Kamailio (the
 * Debian package, with its TLS module) is the customer's edge: SIPp talks
 * UDP to Kamailio, Kamailio TLS to Trunkline, both ways:
 *
 *   outbound: SIPp UAC --UDP--> Kamailio --TLS--> Trunkline --UDP--> carrier SIPp UAS
 *   inbound:  carrier SIPp UAC --UDP--> Trunkline --TLS--> Kamailio --UDP--> SIPp UAS
 *
 * The trunk (127.0.0.1/32, transport tls) is matched over TLS only; the
 * same address over UDP is refused 403 (trunking.test.ts).
 */
const skip =
  (!haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)') || kamailioSkipReason({ tls: true });

const CARRIER = '127.0.0.5';
const DID = '+912240009999';

let server: RunningTrunkline;
let store: Store;
let kOut: RunningKamailio;
let kIn: RunningKamailio;
let port: number;
let tlsPort: number;
let gwPort: number;
let pbxPort: number;
let kOutUdp: number;
let kInUdp: number;
let kInTls: number;
let certDir: string;

before(async () => {
  if (skip !== false) return;
  [port, tlsPort, gwPort, pbxPort, kOutUdp, kInUdp, kInTls] = await Promise.all(
    Array.from({ length: 7 }, () => freePort()),
  );
  const kOutTls = await freePort();
  certDir = mkdtempSync(join(tmpdir(), 'trunkline-kamailio-cert-'));
  const { cert, key } = await generateLocalhostCert();
  const kCert = join(certDir, 'kamailio-cert.pem');
  const kKey = join(certDir, 'kamailio-key.pem');
  writeFileSync(kCert, cert);
  writeFileSync(kKey, key, { mode: 0o600 });
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}, tls:127.0.0.1:${tlsPort}]`,
      `tls: {ca: ${JSON.stringify(kCert)}}`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'trunking: {gatewayTimeout: 2, ping: {interval: 0}}',
      '',
    ].join('\n'),
  );
  store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
  await store.accounts.add({ name: 'secure' });
  await store.trunks.add({
    name: 'tlspbx',
    account: 'secure',
    ip: ['127.0.0.1/32'],
    transport: 'tls',
    dest: `sip:127.0.0.1:${kInTls};transport=tls`,
  });
  await store.dids.add(DID, 'tlspbx');
  await store.carriers.add({ name: 'pstn', gateways: [`sip:${CARRIER}:${gwPort}`] });
  await store.routes.add('+', ['pstn']);
  // Outbound: Kamailio relays the PBX's calls to Trunkline's TLS listener. Inbound: to the PBX's SIPp UAS.
  kOut = await startKamailio({
    udpPort: kOutUdp,
    uas: `sip:127.0.0.1:${tlsPort};transport=tls`,
    tls: { port: kOutTls, cert: kCert, key: kKey },
  });
  kIn = await startKamailio({
    udpPort: kInUdp,
    uas: `sip:127.0.0.1:${pbxPort}`,
    tls: { port: kInTls, cert: kCert, key: kKey },
  });
  await new Promise((r) => setTimeout(r, 2200));
});

after(async () => {
  if (skip !== false) return;
  await kOut?.stop();
  await kIn?.stop();
  await store.close();
  assert.equal(await server.stop(), 0);
  rmSync(certDir, { recursive: true, force: true });
});

function far(ip: string, p: number, must: string, hiddenAddr: string): ReturnType<typeof sippBackground> {
  return sippBackground(
    scenarioWith('trunk-uas-expect.xml', { must, hidden: 'X-Internal-Secret|sipp@', hiddenAddr }),
    p,
    { ip, timeoutS: 25 },
  );
}

async function check(r: Promise<{ code: number | null; stdout: string; stderr: string }>, what: string): Promise<void> {
  const x = await r;
  assert.equal(
    x.code,
    0,
    `${what} failed:\n${x.stdout.slice(-2500)}\n${x.stderr.slice(-1500)}\n--- trunkline:\n${server.output().slice(-2500)}`,
  );
}

test(
  'outbound over a TLS trunk: the PBX (behind Kamailio) reaches the carrier; ACK and BYE cross TLS',
  { skip },
  async () => {
    const t0 = Date.now();
    const gw = far(CARRIER, gwPort, 'P-Asserted-Identity: .sip:\\+912240009999@', '127\\.0\\.0\\.1:' + String(kOutUdp));
    const scn = scenarioWith('trunk-uac-call.xml', {
      caller: DID,
      hidden: 'X-Call-Sid',
      hiddenAddr: '127\\.0\\.0\\.5',
      hold: '0',
    });
    await check(
      sipp({
        scenario: scn,
        target: `127.0.0.1:${kOutUdp}`,
        localPort: await freePort(),
        timeoutS: 20,
        extra: ['-s', '+4930555000'],
      }),
      'PBX UAC',
    );
    await check(gw.done, 'carrier UAS');
    const cdrs = (await store.cdrs.list({ since: t0 })).cdrs;
    assert.deepEqual(
      cdrs.map((c) => [c.direction, c.trunk, c.status, c.hangupBy]),
      [['outbound', 'tlspbx', 200, 'caller']],
    );
  },
);

test("inbound to a TLS trunk: the carrier's call reaches the PBX over TLS (through Kamailio)", { skip }, async () => {
  const t0 = Date.now();
  const pbx = far('127.0.0.1', pbxPort, 'X-Trunk-Sid: tlspbx', '127\\.0\\.0\\.5');
  const scn = scenarioWith('trunk-uac-call.xml', {
    caller: '+15550001111',
    hidden: 'X-Call-Sid',
    hiddenAddr: String(pbxPort),
    hold: '0',
  });
  await check(
    sipp({
      scenario: scn,
      target: `127.0.0.1:${port}`,
      ip: CARRIER,
      localPort: await freePort(),
      timeoutS: 20,
      extra: ['-s', DID],
    }),
    'carrier UAC',
  );
  await check(pbx.done, 'PBX UAS');
  const hops = kIn.hops();
  assert.ok(
    hops.some((h) => /^KHOP INVITE .* proto=tls /.test(h)),
    hops.join('\n'),
  );
  assert.ok(
    hops.some((h) => /^KHOP BYE .* proto=tls /.test(h)),
    hops.join('\n'),
  );
  const cdrs = (await store.cdrs.list({ since: t0 })).cdrs;
  assert.deepEqual(
    cdrs.map((c) => [c.direction, c.trunk, c.status]),
    [['inbound', 'tlspbx', 200]],
  );
});
