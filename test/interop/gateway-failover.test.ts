/**
 * Gateway state after a start and fast failover, live on loopback:
 *
 * 1. A server started with a carrier already in its store: its gateways
 *    start `unknown` and are pinged at once; one with nothing listening on
 *    its UDP port (ICMP port unreachable) is `down` within a second, not
 *    after downAfter pings; a silent one stays unknown until its ping
 *    times out; a SIPp answering OPTIONS is up. Up is logged at info,
 *    down at warn.
 * 2. Without monitoring, a call fails over from a dead gateway to the next
 *    at once instead of waiting gatewayTimeout (10 s here): over UDP
 *    (the ICMP port unreachable), and over TCP and TLS (a refused connect);
 *    each dead gateway counts once in trunkline_b2bua_gateway_unreachable_total.
 */
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import * as dgram from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, sipp, sippBackground, scenarioWith } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';
import { waitFor } from '../helpers/wait.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const PBX = '127.0.0.2';
const GW = '127.0.0.21';
const GW2 = '127.0.0.22';
const DID = '+912240001234';
const GATEWAY_TIMEOUT_S = 10;

/** A store provisioned before the server starts (so its gateways exist at start). */
async function provisioned(setup: (s: Store) => Promise<void>): Promise<{ dir: string; file: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-gw-'));
  const file = join(dir, 'trunkline.db');
  const s = await openStore({ kind: 'sqlite', file });
  try {
    await s.accounts.add({ name: 'acme' });
    await s.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`] });
    await s.dids.add(DID, 'pbx');
    await setup(s);
  } finally {
    await s.close();
  }
  return { dir, file };
}

function lines(server: RunningTrunkline, msg: string): Array<Record<string, unknown>> {
  return server
    .output()
    .split('\n')
    .filter((l) => l.includes(`"msg":"${msg}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('gateway states at start', () => {
  let server: RunningTrunkline;
  let db: { dir: string; file: string };
  let apiPort: number;
  let deadPort: number;
  let silentPort: number;
  let livePort: number;
  let silent: dgram.Socket;
  let pings: ReturnType<typeof sippBackground>;

  before(async () => {
    if (skip !== false) return;
    [apiPort, deadPort, silentPort, livePort] = await Promise.all([
      freePort(),
      freePort(GW),
      freePort(GW),
      freePort(GW),
    ]);
    db = await provisioned(async (s) => {
      await s.carriers.add({
        name: 'trio',
        gateways: [`sip:${GW}:${deadPort}`, `sip:${GW}:${silentPort}`, `sip:${GW}:${livePort}`],
      });
      await s.routes.add('+', ['trio']);
    });
    // The silent gateway: a socket that takes the OPTIONS and never answers (no ICMP either).
    silent = dgram.createSocket('udp4');
    await new Promise<void>((r) => silent.bind(silentPort, GW, r));
    pings = sippBackground(scenarioWith('gateway-options.xml', {}), livePort, { ip: GW, calls: 1000, timeoutS: 30 });
    await new Promise((r) => setTimeout(r, 300)); // SIPp bound
    server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${await freePort()}]`,
        `database: ${JSON.stringify(`sqlite:${db.file}`)}`,
        `api: {listen: "127.0.0.1:${apiPort}"}`,
        `trunking: {gatewayTimeout: ${GATEWAY_TIMEOUT_S}, ping: {interval: 30, timeout: 3, downAfter: 3, upAfter: 2}}`,
        // Debug: the line of each part's start (the gateway monitor's is when its clock starts).
        'log: {level: debug}',
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    if (skip !== false) return;
    await pings.stop();
    silent.close();
    assert.equal(await server.stop(), 0);
    rmSync(db.dir, { recursive: true, force: true });
  });

  async function states(): Promise<Record<string, string>> {
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    const out: Record<string, string> = {};
    for (const m of text.matchAll(
      /^trunkline_gateway_state\{carrier="trio",gateway="sip:[0-9.]+:(\d+)",state="(\w+)"\} 1$/gm,
    ))
      out[m[1]!] = m[2]!;
    return out;
  }

  test(
    'a dead gateway is unknown, then down within a second of the start; a silent one unknown until its ping times out; down warns, up informs',
    { skip, timeout: 30_000 },
    async () => {
      const first = await states();
      assert.equal(
        first[String(silentPort)],
        'unknown',
        `the silent gateway right after start: ${JSON.stringify(first)}`,
      );
      const down = await waitFor(
        () => lines(server, 'gateway down').find((l) => l['gateway'] === `sip:${GW}:${deadPort}`),
        {
          timeoutMs: 3000,
          what: "'gateway down' for the dead gateway",
          intervalMs: 50,
          detail: () => server.output().slice(-2000),
        },
      );
      // From the gateway monitor's start (not the process's: opening the store and the parts before it take what the
      // machine's load makes them); the old monitor needed 3 pings 30 s apart.
      const monitorStart = lines(server, 'part started').find((l) => l['part'] === 'gateway monitor');
      assert.ok(monitorStart, 'the gateway monitor part started');
      const deadAfter = Date.parse(String(down['time'])) - Date.parse(String(monitorStart['time']));
      assert.ok(deadAfter < 1500, `the dead gateway went down ${deadAfter} ms after the monitor started`);
      assert.equal(down['level'], 'warn');
      const up = await waitFor(
        () => lines(server, 'gateway up').find((l) => l['gateway'] === `sip:${GW}:${livePort}`),
        {
          timeoutMs: 3000,
          what: "'gateway up' for the live gateway",
          intervalMs: 50,
          detail: () => server.output().slice(-2000),
        },
      );
      assert.equal(up['level'], 'info');
      assert.equal((await states())[String(deadPort)], 'down');
      assert.equal((await states())[String(livePort)], 'up');
      // The silent one: unknown until its ping times out (3 s), then down.
      await waitFor(() => lines(server, 'gateway down').find((l) => l['gateway'] === `sip:${GW}:${silentPort}`), {
        timeoutMs: 6000,
        what: 'the silent gateway to go down',
        intervalMs: 50,
      });
      assert.equal((await states())[String(silentPort)], 'down');
      assert.equal(lines(server, 'gateway down').length, 2, 'one line per gateway');
    },
  );
});

describe('fast failover without monitoring', () => {
  let server: RunningTrunkline;
  let db: { dir: string; file: string };
  let port: number;
  let apiPort: number;
  const p: Record<string, number> = {};

  before(async () => {
    if (skip !== false) return;
    port = await freePort();
    apiPort = await freePort();
    for (const n of ['deadUdp', 'deadTcp', 'deadTls', 'live']) p[n] = await freePort(GW2);
    db = await provisioned(async (s) => {
      await s.carriers.add({ name: 'udp-dead', gateways: [`sip:${GW2}:${p.deadUdp}`, `sip:${GW2}:${p.live}`] });
      await s.carriers.add({
        name: 'tcp-dead',
        gateways: [`sip:${GW2}:${p.deadTcp};transport=tcp`, `sip:${GW2}:${p.live}`],
      });
      await s.carriers.add({
        name: 'tls-dead',
        gateways: [`sip:${GW2}:${p.deadTls};transport=tls`, `sip:${GW2}:${p.live}`],
      });
      await s.routes.add('+1777', ['udp-dead']);
      await s.routes.add('+1888', ['tcp-dead']);
      await s.routes.add('+1999', ['tls-dead']);
    });
    server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${port}, tcp:127.0.0.1:${port}, tls:127.0.0.1:${await freePort()}]`,
        `database: ${JSON.stringify(`sqlite:${db.file}`)}`,
        `api: {listen: "127.0.0.1:${apiPort}"}`,
        'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
        `trunking: {gatewayTimeout: ${GATEWAY_TIMEOUT_S}, ping: {interval: 0}}`,
        '',
      ].join('\n'),
    );
  });

  after(async () => {
    if (skip !== false) return;
    assert.equal(await server.stop(), 0);
    rmSync(db.dir, { recursive: true, force: true });
  });

  /** Dead gateways met so far (absent from /metrics until the first). */
  async function unreachable(): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${apiPort}/metrics`)).text();
    const m = /^trunkline_b2bua_gateway_unreachable_total (\d+)$/m.exec(text);
    return m === null ? 0 : Number(m[1]);
  }

  /**
   * A call to `number` from the PBX; `dead` fails, the live gateway answers it;
   * how long the setup took (the CDR's answer - start).
   */
  async function callVia(number: string, dead: string): Promise<number> {
    const before = await unreachable();
    const { ms, callSid } = await callThrough(number);
    assert.equal(await unreachable(), before + 1, 'the dead gateway counted once as unreachable');
    const live = `sip:${GW2}:${p.live}`;
    const esc = (x: string): string => x.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    assert.match(
      server.output(),
      new RegExp(
        `"failed":"${esc(dead)}","status":503,"reason":"Service Unavailable","next":"${esc(live)}","msg":"b2bua: attempt failed, the next one follows"`,
      ),
      'the failover has its log line',
    );
    const ofCall = lines(server, 'b2bua: attempt failed, the next one follows').filter((l) => l['callSid'] === callSid);
    assert.equal(ofCall.length, 1, `one failover, one line (the first attempt has none): ${JSON.stringify(ofCall)}`);
    return ms;
  }

  /** A call to `number` the live gateway answers: its setup time (the CDR's answer - start) and its call SID. */
  async function callThrough(number: string): Promise<{ ms: number; callSid: string }> {
    const store = await openStore({ kind: 'sqlite', file: db.file });
    try {
      const far = sippBackground(
        scenarioWith('trunk-uas-expect.xml', {
          must: `INVITE sip:\\${number}@`,
          hidden: 'X-Internal-Secret',
          hiddenAddr: '127\\.0\\.0\\.2[^0-9]',
        }),
        p.live!,
        { ip: GW2, timeoutS: 25 },
      );
      await new Promise((r) => setTimeout(r, 300)); // SIPp bound
      const scn = scenarioWith('trunk-uac-call.xml', {
        caller: DID,
        hidden: 'X-Call-Sid',
        hiddenAddr: '127\\.0\\.0\\.22',
        hold: '0',
      });
      const r = await sipp({
        scenario: scn,
        target: `127.0.0.1:${port}`,
        ip: PBX,
        localPort: await freePort(),
        timeoutS: 25,
        extra: ['-s', number],
      });
      assert.equal(
        r.code,
        0,
        `the call to ${number} failed:\n${r.stdout.slice(-1500)}\nserver:\n${server.output().slice(-1500)}`,
      );
      const farEnd = await far.done;
      assert.equal(farEnd.code, 0, `the live gateway did not take the call:\n${farEnd.stdout.slice(-1500)}`);
      const cdr = await waitFor(async () => (await store.cdrs.list({})).cdrs.find((c) => c.to === number), {
        timeoutMs: 5000,
        what: `the CDR of ${number}`,
        intervalMs: 50,
      });
      assert.ok(cdr.answerAt !== null, `no answered CDR for ${number}`);
      return { ms: cdr.answerAt - cdr.startAt, callSid: cdr.callSid };
    } finally {
      await store.close();
    }
  }

  test(
    'UDP: nothing listening on the first gateway (ICMP port unreachable): the second answers well before gatewayTimeout',
    { skip, timeout: 60_000 },
    async (t) => {
      const ms = await callVia('+17775550100', `sip:${GW2}:${p.deadUdp}`);
      t.diagnostic(`call set up in ${ms} ms`);
      assert.ok(
        ms < 2000,
        `the call took ${ms} ms to set up: the dead gateway was waited for (gatewayTimeout ${GATEWAY_TIMEOUT_S} s)`,
      );
    },
  );

  test('TCP: the first gateway refuses the connect: the second at once', { skip, timeout: 60_000 }, async (t) => {
    const ms = await callVia('+18885550100', `sip:${GW2}:${p.deadTcp};transport=tcp`);
    t.diagnostic(`call set up in ${ms} ms`);
    assert.ok(ms < 2000, `the call took ${ms} ms to set up`);
  });

  test('TLS: the first gateway refuses the connect: the second at once', { skip, timeout: 60_000 }, async (t) => {
    const ms = await callVia('+19995550100', `sip:${GW2}:${p.deadTls};transport=tls`);
    t.diagnostic(`call set up in ${ms} ms`);
    assert.ok(ms < 2000, `the call took ${ms} ms to set up`);
  });
});
