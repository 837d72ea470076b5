/**
 * Shutdown and drain with real SIPp peers on both legs of a trunk call: a
 * carrier gateway at 127.0.0.5 calls a DID of the trunk whose PBX is at
 * 127.0.0.2. SIGTERM ends the calls up (BYE both ways, CDR "Server shutting
 * down") and refuses new ones with 503 + Retry-After; an idle server exits
 * at once and its ports bind again; `trunkline drain` and POST
 * /api/v1/drain stop new calls (503, OPTIONS 503, /readyz 503), let the
 * call up end, then the server exits by itself (or ends the call at the
 * timeout). Each test runs its own server: they all end it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import {
  haveCommand,
  sipp,
  sippBackground,
  scenarioWith,
  type BackgroundSipp,
  type RunResult,
} from '../helpers/sipp.js';
import { run as runCli } from '../cli/helpers.js';
import { openStore, type Store } from '../../src/store/index.js';
import { TokenRepo } from '../../src/store/repos/tokens.js';
import { controlRequest } from '../../src/control/control-client.js';
import { controlSocketPath } from '../../src/control/protocol.js';
import type { LiveCall } from '../../src/b2bua/b2bua.js';
import type { Cdr } from '../../src/trunking/model.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const PBX = '127.0.0.2';
const CARRIER = '127.0.0.5';
const PHONE = '127.0.0.10';
const REG_CARRIER = '127.0.0.12';
const DID = '+912240004321';
const SHUTDOWN = 'Server shutting down';

interface Rig {
  server: RunningTrunkline;
  port: number;
  pbxPort: number;
  db: string;
  admin: string;
  reader: string;
  /** The server process's exit: its code and when. */
  exited: Promise<{ code: number | null; at: number }>;
  cleanup(): Promise<void>;
}

interface RigOptions {
  /** More config lines. */
  extra?: string[];
  /** trunking.ping.interval (0: no gateway pings). */
  pingInterval?: number;
  /** More provisioning before the server starts. */
  provision?: (store: Store) => Promise<void>;
}

/**
 * A server with one trunk (its PBX at 127.0.0.2), one DID, one carrier
 * (127.0.0.5), a subscriber phone@drain.test and two API tokens,
 * provisioned before it starts.
 */
async function rig(o: RigOptions = {}): Promise<Rig> {
  const [port, pbxPort, gwPort] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-drain-'));
  const db = join(dir, 'trunkline.db');
  const store = await openStore({ kind: 'sqlite', file: db });
  await store.accounts.add({ name: 'acme' });
  await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:${pbxPort}` });
  await store.dids.add(DID, 'pbx');
  await store.carriers.add({ name: 'main', gateways: [`sip:${CARRIER}:${gwPort}`] });
  await store.routes.add('+', ['main']);
  const tokens = new TokenRepo(store.ctx);
  const admin = (await tokens.add('ops', 'admin')).token;
  const reader = (await tokens.add('viewer', 'read')).token;
  await store.domains.add('drain.test');
  await store.subscribers.add('phone', 'drain.test', 'phone-pw');
  await o.provision?.(store);
  await store.close();
  const server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}, tcp:127.0.0.1:${port}]`,
      `database: ${JSON.stringify(`sqlite:${db}`)}`,
      `trunking: {ping: {interval: ${o.pingInterval ?? 0}}}`,
      'registrar: {algorithms: MD5}',
      ...(o.extra ?? []),
      '',
    ].join('\n'),
  );
  const exited = new Promise<{ code: number | null; at: number }>((resolve) => {
    if (server.proc.exitCode !== null) resolve({ code: server.proc.exitCode, at: Date.now() });
    else server.proc.once('exit', (code) => resolve({ code, at: Date.now() }));
  });
  return {
    server,
    port,
    pbxPort,
    db,
    admin,
    reader,
    exited,
    cleanup: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The exit within `ms`, else a failure showing the server's last lines. */
async function exitWithin(r: Rig, ms: number): Promise<{ code: number | null; at: number }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) =>
      (timer = setTimeout(
        () => reject(new Error(`the server did not exit within ${ms} ms:\n${r.server.output().slice(-3000)}`)),
        ms,
      )),
  );
  try {
    return await Promise.race([r.exited, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** A call from the carrier to the DID, SIPp `uacScenario` calling and the PBX's SIPp `uas` answering; resolves once it is confirmed. */
async function callUp(
  r: Rig,
  uacScenario: string,
  uas: BackgroundSipp,
): Promise<{ uac: Promise<RunResult>; callSid: string }> {
  const uac = sipp({
    scenario: uacScenario,
    target: `127.0.0.1:${r.port}`,
    ip: CARRIER,
    localPort: await freePort(),
    timeoutS: 25,
    extra: ['-s', DID],
  });
  const sock = controlSocketPath(join(r.server.dir, 'data'));
  let uasEnded: RunResult | null = null;
  void uas.done.then((res) => (uasEnded = res));
  for (const end = Date.now() + 10_000; Date.now() < end; await new Promise((res) => setTimeout(res, 100))) {
    if (uasEnded !== null)
      throw new Error(
        `the callee's SIPp ended before the call was up:\n${(uasEnded as RunResult).stdout.slice(-3000)}`,
      );
    const calls = (await controlRequest(sock, { cmd: 'calls' })) as LiveCall[];
    const up = calls.find((c) => c.state === 'confirmed');
    if (up !== undefined) return { uac, callSid: up.callSid };
  }
  throw new Error(`the call was not answered within 10 s:\n${r.server.output().slice(-3000)}`);
}

/** The PBX's SIPp on its port. */
function pbx(r: Rig, scenarioFile: string): BackgroundSipp {
  return sippBackground(scenarioFile, r.pbxPort, { ip: PBX, timeoutS: 25 });
}

async function passed(p: Promise<RunResult>, what: string, r: Rig): Promise<void> {
  const res = await p;
  assert.equal(
    res.code,
    0,
    `${what} failed:\n${res.stdout.slice(-3000)}\n${res.stderr.slice(-1500)}\n--- trunkline:\n${r.server.output().slice(-3000)}`,
  );
}

/** A new call from the carrier that must get 503 with Retry-After. */
async function refused503(r: Rig): Promise<void> {
  const scn = scenarioWith('uac-expect-retry-after.xml', { caller: '+15550001111', expect: '503' });
  await passed(
    sipp({
      scenario: scn,
      target: `127.0.0.1:${r.port}`,
      ip: CARRIER,
      localPort: await freePort(),
      timeoutS: 10,
      extra: ['-s', DID],
    }),
    'new call expecting 503 + Retry-After',
    r,
  );
}

async function cdrsOf(r: Rig): Promise<Cdr[]> {
  const store = await openStore({ kind: 'sqlite', file: r.db });
  try {
    return (await store.cdrs.list({})).cdrs;
  } finally {
    await store.close();
  }
}

function apiOf(r: Rig): string {
  const m = /"api":"(http:\/\/[^"]+)"/.exec(r.server.output());
  assert.ok(m !== null, 'no "api listening" line');
  return m[1]!;
}

test(
  'SIGTERM with a call up: both legs get a BYE (Reason: Server shutting down), the CDR is in the store, the server exits 0',
  { skip, timeout: 60_000 },
  async () => {
    const r = await rig();
    try {
      const uas = pbx(r, scenarioWith('shutdown-uas-await-bye.xml', { reason: SHUTDOWN }));
      const { uac, callSid } = await callUp(
        r,
        scenarioWith('shutdown-uac-await-bye.xml', { caller: '+15550001111', reason: SHUTDOWN }),
        uas,
      );
      r.server.proc.kill('SIGTERM');
      await passed(uac, 'carrier (caller) awaiting the BYE', r);
      await passed(uas.done, 'PBX (callee) awaiting the BYE', r);
      const { code } = await exitWithin(r, 5000);
      assert.equal(code, 0);
      assert.match(r.server.output(), /"calls":1,"msg":"shutting down: 1 calls ended"/);
      // The CDR as the CLI reads it from the same config.
      const listed = await runCli(['cdr', 'list', '--json', '--config', r.server.configFile]);
      assert.equal(listed.code, 0, listed.stderr);
      const rows = JSON.parse(listed.stdout) as Array<{
        callSid: string;
        reason: string;
        hangupBy: string;
        status: number;
        answerAt: string | null;
      }>;
      assert.deepEqual(
        rows.map((c) => [c.callSid, c.status, c.reason, c.hangupBy, c.answerAt !== null]),
        [[callSid, 200, SHUTDOWN, 'system', true]],
      );
    } finally {
      await r.cleanup();
    }
  },
);

test(
  'SIGTERM: a call placed while the server shuts down gets 503 with Retry-After and reaches nobody; a BYE never answered is waited for 2 s at most',
  { skip, timeout: 60_000 },
  async () => {
    const r = await rig();
    try {
      // The callee never answers the BYE: the server waits for it (bounded), still listening.
      const uas = pbx(r, scenarioWith('shutdown-uas-silent-bye.xml', { reason: SHUTDOWN }));
      const { uac, callSid } = await callUp(
        r,
        scenarioWith('shutdown-uac-await-bye.xml', { caller: '+15550001111', reason: SHUTDOWN }),
        uas,
      );
      const t0 = Date.now();
      r.server.proc.kill('SIGTERM');
      await refused503(r);
      await passed(uac, 'caller of the call up', r);
      await passed(uas.done, 'callee of the call up (one call only: -m 1)', r);
      const { code, at } = await exitWithin(r, 6000);
      assert.equal(code, 0);
      assert.ok(at - t0 < 3500, `exited ${at - t0} ms after SIGTERM`);
      // No second call was started: the only CDR is the call that was up.
      assert.deepEqual(
        (await cdrsOf(r)).map((c) => [c.callSid, c.reason]),
        [[callSid, SHUTDOWN]],
      );
    } finally {
      await r.cleanup();
    }
  },
);

test(
  'SIGTERM on an idle server (a gateway ping in flight, a TCP connection open): exit within 1 s, and a new server binds the same ports at once',
  { skip, timeout: 60_000 },
  async () => {
    const apiPort = await freePort();
    // A carrier gateway nobody answers, pinged every second: its OPTIONS transaction is always in flight.
    const r = await rig({ extra: [`api: {listen: "127.0.0.1:${apiPort}"}`], pingInterval: 1 });
    let again: RunningTrunkline | null = null;
    try {
      await new Promise((res) => setTimeout(res, 1300));
      const tcp = connect(r.port, '127.0.0.1');
      await new Promise<void>((res, rej) => tcp.once('connect', () => res()).once('error', rej));
      tcp.on('error', () => undefined);
      const t0 = Date.now();
      r.server.proc.kill('SIGTERM');
      const { code, at } = await exitWithin(r, 8000);
      tcp.destroy();
      assert.equal(code, 0);
      assert.ok(at - t0 < 1000, `an idle server took ${at - t0} ms to exit`);
      assert.match(r.server.output(), /"msg":"shutting down: 0 calls ended"/);
      again = await startTrunkline(
        `listen: [udp:127.0.0.1:${r.port}, tcp:127.0.0.1:${r.port}]\napi: {listen: "127.0.0.1:${apiPort}"}\n`,
      );
      const ready = await fetch(`http://127.0.0.1:${apiPort}/readyz`);
      assert.equal(ready.status, 200);
    } finally {
      await again?.stop();
      await r.cleanup();
    }
  },
);

test(
  'trunkline drain with a call up: new calls 503 + Retry-After, OPTIONS 503, /readyz 503, REGISTER answered; the call ends by its BYE; then the server exits by itself',
  { skip, timeout: 60_000 },
  async () => {
    const r = await rig();
    try {
      const uas = pbx(r, scenarioWith('uas-call.xml', {}));
      // The caller hangs up by itself after 8 s.
      const call = scenarioWith('trunk-uac-call.xml', {
        caller: '+15550001111',
        hidden: 'X-Call-Sid',
        hiddenAddr: '127\\.0\\.0\\.2',
        hold: '8000',
      });
      const { uac, callSid } = await callUp(r, call, uas);
      const drained = await runCli(['drain', '--config', r.server.configFile]);
      assert.equal(drained.code, 0, drained.stderr);
      assert.equal(drained.stdout, 'draining: 1 call up; the server exits once they end\n');
      await refused503(r);
      const options = scenarioWith('options-expect-retry-after.xml', { expect: '503' });
      await passed(
        sipp({
          scenario: options,
          target: `127.0.0.1:${r.port}`,
          ip: CARRIER,
          localPort: await freePort(),
          timeoutS: 10,
        }),
        'OPTIONS expecting 503',
        r,
      );
      // REGISTER goes on (challenged, then 200).
      const reg = scenarioWith('registrar-register.xml', { domain: 'drain.test', expect: '200' });
      await passed(
        sipp({
          scenario: reg,
          target: `127.0.0.1:${r.port}`,
          ip: PHONE,
          localPort: await freePort(),
          timeoutS: 10,
          extra: ['-s', 'phone', '-au', 'phone', '-ap', 'phone-pw', '-auth_uri', 'drain.test'],
        }),
        'REGISTER while draining',
        r,
      );
      const ready = await fetch(`${apiOf(r)}/readyz`);
      assert.equal(ready.status, 503);
      assert.deepEqual(await ready.json(), { status: 'not ready', error: 'draining' });
      assert.match(await (await fetch(`${apiOf(r)}/metrics`)).text(), /^trunkline_draining 1$/m);
      // The call is still up (nothing ended it but its caller, below).
      const live = (await controlRequest(controlSocketPath(join(r.server.dir, 'data')), {
        cmd: 'calls',
      })) as LiveCall[];
      assert.deepEqual(
        live.map((c) => [c.callSid, c.state]),
        [[callSid, 'confirmed']],
      );
      assert.equal(r.server.proc.exitCode, null);
      await passed(uac, 'caller hanging up', r);
      const byeAt = Date.now();
      await passed(uas.done, 'callee', r);
      const { code, at } = await exitWithin(r, 5000);
      assert.equal(code, 0);
      assert.ok(at - byeAt < 3000, `exited ${at - byeAt} ms after the call ended`);
      assert.match(r.server.output(), /"msg":"draining"/);
      assert.deepEqual(
        (await cdrsOf(r)).map((c) => [c.callSid, c.status, c.reason, c.hangupBy]),
        [[callSid, 200, 'Normal Clearing', 'caller']],
      );
    } finally {
      await r.cleanup();
    }
  },
);

test(
  'trunkline drain --timeout 2 with a call that does not end: at the timeout BYE to both legs, CDR, exit',
  { skip, timeout: 60_000 },
  async () => {
    const r = await rig();
    try {
      const uas = pbx(r, scenarioWith('shutdown-uas-await-bye.xml', { reason: SHUTDOWN }));
      const { uac, callSid } = await callUp(
        r,
        scenarioWith('shutdown-uac-await-bye.xml', { caller: '+15550001111', reason: SHUTDOWN }),
        uas,
      );
      const t0 = Date.now();
      const drained = await runCli(['drain', '--timeout', '2', '--json', '--config', r.server.configFile]);
      assert.equal(drained.code, 0, drained.stderr);
      const status = JSON.parse(drained.stdout) as { state: string; calls: number; deadline: string };
      assert.deepEqual([status.state, status.calls], ['draining', 1]);
      assert.ok(Math.abs(Date.parse(status.deadline) - (t0 + 2000)) < 1500, status.deadline);
      await passed(uac, 'caller awaiting the BYE', r);
      await passed(uas.done, 'callee awaiting the BYE', r);
      const { code, at } = await exitWithin(r, 8000);
      assert.equal(code, 0);
      assert.ok(at - t0 >= 1900, `exited ${at - t0} ms after the drain, before its timeout`);
      assert.deepEqual(
        (await cdrsOf(r)).map((c) => [c.callSid, c.status, c.reason, c.hangupBy]),
        [[callSid, 200, SHUTDOWN, 'system']],
      );
    } finally {
      await r.cleanup();
    }
  },
);

test(
  'POST /api/v1/drain (admin): a read token 403, a bad timeout 400; draining, a new call 503, the callee hangs up, the server exits by itself',
  { skip, timeout: 60_000 },
  async () => {
    const r = await rig();
    try {
      const api = apiOf(r);
      const post = (token: string, body: unknown): Promise<Response> =>
        fetch(`${api}/api/v1/drain`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify(body),
        });
      const doc = (await (await fetch(`${api}/api/v1/openapi.json`)).json()) as {
        paths: Record<string, { post?: unknown }>;
      };
      assert.ok(doc.paths['/api/v1/drain']?.post !== undefined, 'drain missing from the OpenAPI document');
      assert.equal((await post(r.reader, {})).status, 403);
      for (const bad of [{ timeout: -1 }, { timeout: 'soon' }, { timeout: 1.5 }, { wait: 1 }]) {
        const res = await post(r.admin, bad);
        assert.equal(res.status, 400, JSON.stringify(bad));
        assert.match(((await res.json()) as { error: string }).error, /timeout|wait/);
      }
      assert.equal(r.server.proc.exitCode, null);
      assert.equal((await fetch(`${api}/readyz`)).status, 200);
      const uas = pbx(r, scenarioWith('uas-hold-bye.xml', { hold: '5000' }));
      const call = scenarioWith('uac-call-bye-in.xml', {});
      const { uac, callSid } = await callUp(r, call, uas);
      const res = await post(r.admin, {});
      assert.equal(res.status, 202);
      assert.deepEqual(await res.json(), { state: 'draining', calls: 1, deadline: null });
      await refused503(r);
      // Asked again: the new timeout applies (long enough not to end the call).
      const again = await post(r.admin, { timeout: 60 });
      assert.equal(again.status, 202);
      const st = (await again.json()) as { state: string; deadline: string | null };
      assert.equal(st.state, 'draining');
      assert.ok(st.deadline !== null && Date.parse(st.deadline) > Date.now() + 50_000);
      await passed(uas.done, 'callee hanging up', r);
      await passed(uac, 'caller', r);
      assert.equal((await exitWithin(r, 5000)).code, 0);
      assert.deepEqual(
        (await cdrsOf(r)).map((c) => [c.callSid, c.status, c.reason, c.hangupBy]),
        [[callSid, 200, 'Normal Clearing', 'callee']],
      );
    } finally {
      await r.cleanup();
    }
  },
);

test(
  'SIGTERM ends the registration with a carrier (Expires: 0); a carrier that never answers it is waited for 2 s at most',
  { skip, timeout: 60_000 },
  async () => {
    const gwPort = await freePort();
    const registrar = sippBackground(scenarioWith('carrier-registrar-unregister.xml', { user: 'trunk-9' }), gwPort, {
      ip: REG_CARRIER,
      timeoutS: 25,
    });
    const r = await rig({
      provision: (store) =>
        store.carriers
          .add({
            name: 'regcarrier',
            gateways: [`sip:${REG_CARRIER}:${gwPort}`],
            username: 'trunk-9',
            password: 'reg-secret',
            register: true,
          })
          .then(() => undefined),
    });
    try {
      for (const end = Date.now() + 10_000; Date.now() < end && !r.server.output().includes('registered with carrier');)
        await new Promise((res) => setTimeout(res, 100));
      assert.match(r.server.output(), /"carrier":"regcarrier".*registered with carrier/);
      const t0 = Date.now();
      r.server.proc.kill('SIGTERM');
      const { code, at } = await exitWithin(r, 6000);
      assert.equal(code, 0);
      assert.ok(at - t0 < 3500, `exited ${at - t0} ms after SIGTERM`);
      await passed(registrar.done, 'carrier registrar awaiting Expires: 0', r);
    } finally {
      await registrar.stop();
      await r.cleanup();
    }
  },
);

test('trunkline drain: a bad --timeout is a usage error (exit 2); with no server running, exit 1 and one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-drain-cli-'));
  try {
    const cfg = join(dir, 'trunkline.yaml');
    writeFileSync(cfg, `data: ${JSON.stringify(join(dir, 'data'))}\n`);
    const bad = await runCli(['drain', '--timeout', 'soon', '--config', cfg]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stderr, '--timeout: expected whole seconds from 0 to 86400, got "soon"\n');
    const none = await runCli(['drain', '--config', cfg]);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, `no running server (no control socket in ${join(dir, 'data')})\n`);
    assert.equal(none.stdout, '');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
