/**
 * Trunk calls through the B2BUA with real SIPp peers on loopback, other
 * 127.x addresses standing in for other hosts: 127.0.0.2 the customer's PBX
 * (a static-IP trunk), 127.0.0.5-7 carrier gateways, 127.0.0.3 a trunk with
 * tight limits, 127.0.0.4 a trunk restricted to TLS, 127.0.0.9 a stranger.
 * Run on SQLite and on PostgreSQL by the two test files that call it.
 */
import { test, before, after } from 'node:test';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { freePort } from './ports.js';
import { startTrunkline, type RunningTrunkline } from './server.js';
import { sipp, sippBackground, scenarioWith, type BackgroundSipp } from './sipp.js';
import { openStore, type Store } from '../../src/store/index.js';
import { run as runCli } from '../cli/helpers.js';
import type { DatabaseConfig } from '../../src/config/schema.js';
import type { Cdr } from '../../src/trunking/model.js';

export interface TrunkingSuiteOptions {
  label: string;
  skip: string | false;
  /** The `database:` line of the server's config and the store config to provision with; sqlite when it returns null. */
  prepare(): Promise<{ database: string; config: DatabaseConfig } | null>;
  cleanup(): Promise<void>;
}

const PBX = '127.0.0.2';
const LIMITED = '127.0.0.3';
const TLS_ONLY = '127.0.0.4';
const CARRIER = '127.0.0.5';
const DEAD = '127.0.0.6';
const AUTH = '127.0.0.7';
const AUTH401 = '127.0.0.8';
const STRANGER = '127.0.0.9';
const REG_PBX = '127.0.0.10';
const REG_DID = '+912240005555';
const DID = '+912240001234';

export function trunkingSuite(o: TrunkingSuiteOptions): void {
  const skip = o.skip;
  let server: RunningTrunkline;
  let store: Store;
  let port: number;
  const ports: Record<string, number> = {};

  before(async () => {
    if (skip !== false) return;
    port = await freePort();
    for (const n of [
      'pbx',
      'limited',
      'gwOk',
      'gw503',
      'gwDead',
      'gwAfterDead',
      'gwLate',
      'gwAfterLate',
      'gwAuth',
      'gwAuth401',
      'regPbx',
      'uac',
    ])
      ports[n] = await freePort();
    const db = await o.prepare();
    server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${port}, tcp:127.0.0.1:${port}]`,
        ...(db === null ? [] : [`database: ${JSON.stringify(db.database)}`]),
        'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
        'trunking:',
        // Long enough for a SIPp just started on a loaded machine to bind and answer.
        '  gatewayTimeout: 3',
        '  ping: {interval: 0}',
        '  headers:',
        // Toward the limited trunk: the carrier's X-Internal-Secret is let through, X-Provider added.
        '    - {trunk: limited, keep: [X-Internal-Secret, X-Call-Sid], add: {X-Provider: trunkline-test}}',
        // Toward the flaky carrier: no P-Asserted-Identity, an account code instead.
        '    - {carrier: flaky, strip: [P-Asserted-Identity], add: {X-Account-Code: "4711"}}',
        // SIPp 3.6 answers only an MD5 challenge.
        'registrar: {algorithms: MD5}',
        '',
      ].join('\n'),
    );
    store = await openStore(db?.config ?? { kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
    await store.accounts.add({ name: 'acme' });
    await store.accounts.add({ name: 'tight', cpm: null, maxCalls: null });
    await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:${ports.pbx}` });
    await store.trunks.add({
      name: 'limited',
      account: 'tight',
      ip: [`${LIMITED}/32`],
      dest: `sip:${LIMITED}:${ports.limited}`,
      cpm: 20,
      maxCalls: 1,
    });
    await store.trunks.add({ name: 'secure', account: 'acme', ip: [`${TLS_ONLY}/32`], transport: 'tls' });
    await store.dids.add(DID, 'pbx');
    // A registration trunk: its PBX registers as regpbx@pbx.test and has no fixed address.
    await store.domains.add('pbx.test');
    await store.subscribers.add('regpbx', 'pbx.test', 'regpbx-pw');
    await store.trunks.add({ name: 'regtrunk', account: 'acme', register: 'regpbx@pbx.test' });
    await store.dids.add(REG_DID, 'regtrunk');
    await store.dids.add('+91224000200*', 'limited');
    await store.carriers.add({ name: 'main', gateways: [`sip:${CARRIER}:${ports.gwOk}`] });
    await store.carriers.add({
      name: 'flaky',
      gateways: [`sip:${CARRIER}:${ports.gw503}`, `sip:${CARRIER}:${ports.gwOk}`],
    });
    await store.carriers.add({
      name: 'gone',
      gateways: [`sip:${DEAD}:${ports.gwDead}`, `sip:${DEAD}:${ports.gwAfterDead}`],
    });
    await store.carriers.add({
      name: 'late',
      gateways: [`sip:${DEAD}:${ports.gwLate};transport=tcp`, `sip:${DEAD}:${ports.gwAfterLate}`],
    });
    await store.carriers.add({
      name: 'secured',
      gateways: [`sip:${AUTH}:${ports.gwAuth}`],
      username: 'acme-trunk',
      password: 'carrier-secret',
    });
    await store.carriers.add({
      name: 'secured401',
      gateways: [`sip:${AUTH401}:${ports.gwAuth401}`],
      username: 'acme-401',
      password: 'other-secret',
    });
    await store.routes.add('+', ['main']);
    await store.routes.add('+33', ['secured401']);
    await store.routes.add('+1555', ['flaky']);
    await store.routes.add('+1666', ['gone']);
    await store.routes.add('+1777', ['late']);
    await store.routes.add('+44', ['secured']);
    // The server sees store changes within 2 s (it polls every second).
    await new Promise((r) => setTimeout(r, 2200));
  });

  after(async () => {
    if (skip !== false) return;
    await store.close();
    assert.equal(await server.stop(), 0);
    await o.cleanup();
  });

  async function uac(
    scn: string,
    ip: string,
    service: string,
    extra: string[] = [],
    calls = 1,
    rate = 20,
  ): Promise<void> {
    const r = await sipp({
      scenario: scn,
      target: `127.0.0.1:${port}`,
      ip,
      localPort: await freePort(),
      calls,
      rate,
      timeoutS: 20,
      extra: [
        '-s',
        service,
        ...extra,
        ...(process.env['SIPP_DEBUG'] ? ['-trace_err', '-error_file', `/tmp/sipp-err-${ip}.log`] : []),
      ],
    });
    assert.equal(
      r.code,
      0,
      `UAC from ${ip} to ${service} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-2000)}\nserver:\n${server.output().slice(-3000)}`,
    );
  }

  async function done(b: BackgroundSipp, what: string): Promise<void> {
    const r = await b.done;
    assert.equal(r.code, 0, `${what} failed:\n${r.stdout.slice(-6000)}\n${r.stderr.slice(-2000)}`);
  }

  /** A call from `caller`; its 200 must hold no header with `hiddenAddr` and nothing matching `hidden`. */
  function call(caller: string, hiddenAddr: string, hold = 0, hidden = 'X-Call-Sid|X-Leg-Sid|X-Trunk-Sid'): string {
    return scenarioWith('trunk-uac-call.xml', { caller, hidden, hiddenAddr, hold: String(hold) });
  }

  function expect(caller: string, status: number): string {
    return scenarioWith('trunk-uac-expect.xml', { caller, expect: String(status) });
  }

  /** A far side that insists on `must` in the INVITE and on nothing of `hidden`. */
  function far(
    ip: string,
    p: number,
    must: string,
    hiddenAddr: string,
    calls = 1,
    hidden = 'X-Internal-Secret|sipp@',
  ): BackgroundSipp {
    const debug = process.env['SIPP_DEBUG'] ? ['-trace_err', '-error_file', `/tmp/sipp-err-uas-${ip}-${p}.log`] : [];
    return sippBackground(scenarioWith('trunk-uas-expect.xml', { must, hidden, hiddenAddr }), p, {
      ip,
      calls,
      timeoutS: 25,
      extra: debug,
    });
  }

  /** The CDRs since `t` that `keep` selects, once there are `n` of them (they are written after the answer), within 5 s. */
  async function cdrsWhen(t: number, keep: (c: Cdr) => boolean, n: number): Promise<Cdr[]> {
    let rows: Cdr[] = [];
    for (const end = Date.now() + 5000; Date.now() < end; await new Promise((r) => setTimeout(r, 50))) {
      rows = (await cdrsSince(t)).filter(keep);
      if (rows.length >= n) break;
    }
    return rows;
  }

  async function cdrsSince(t: number): Promise<Cdr[]> {
    // The CDR is written when the call ends; give the store a moment.
    await new Promise((r) => setTimeout(r, 300));
    return (await store.cdrs.list({ since: t })).cdrs;
  }

  test(
    `${o.label}: inbound call from a carrier to a DID reaches the trunk's PBX with X- headers and nothing of the carrier`,
    { skip },
    async () => {
      const t0 = Date.now();
      const pbx = far(PBX, ports.pbx!, 'X-Call-Sid: CA[0-9a-f]{20}', '127\\.0\\.0\\.5');
      await uac(call('+15551230000', '127\\.0\\.0\\.2|pbx@'), CARRIER, DID);
      await done(pbx, 'customer PBX');
      const rows = (await cdrsSince(t0)).filter((c) => c.direction === 'inbound');
      assert.equal(rows.length, 1);
      assert.deepEqual(
        [rows[0]!.trunk, rows[0]!.account, rows[0]!.status, rows[0]!.to, rows[0]!.from, rows[0]!.hangupBy],
        ['pbx', 'acme', 200, DID, '+15551230000', 'caller'],
      );
      // 127.0.0.5 is a gateway of two carriers: the first by name claims the address.
      assert.equal(rows[0]!.carrier, 'flaky');
      assert.ok(rows[0]!.answerAt !== null);
    },
  );

  test(`${o.label}: inbound call to an unknown DID is refused 404, and its CDR says why`, { skip }, async () => {
    const t0 = Date.now();
    await uac(expect('+15551230000', 404), CARRIER, '+919999999999');
    const rows = await cdrsWhen(t0, (c) => c.status === 404, 1);
    assert.deepEqual(
      rows.map((c) => [c.direction, c.carrier, c.trunk, c.from, c.to, c.reason, c.hangupBy, c.answerAt, c.duration]),
      [['inbound', 'flaky', null, '+15551230000', '+919999999999', 'Unknown DID', 'system', null, 0]],
    );
  });

  test(
    `${o.label}: outbound call with an owned caller ID reaches the carrier, which challenges with 407 first`,
    { skip },
    async () => {
      const t0 = Date.now();
      const log = join(mkdtempSync(join(tmpdir(), 'sipp-log-')), 'gw.log');
      const gw = sippBackground(scenarioWith('trunk-uas-challenge-407.xml', {}), ports.gwAuth!, {
        ip: AUTH,
        timeoutS: 25,
        extra: ['-trace_logs', '-log_file', log],
      });
      await uac(call(DID, '127\\.0\\.0\\.7'), PBX, '+442071234567');
      await done(gw, 'carrier gateway with 407');
      // The INVITE sent again carried Proxy-Authorization: checked here against RFC 2617 3.2.2 computed independently.
      const line = readFileSync(log, 'utf8')
        .split('\n')
        .find((l) => l.includes('Proxy-Authorization: Digest'));
      assert.ok(line !== undefined, 'no credentials logged');
      const p = (k: string): string => new RegExp(`${k}="?([^",]+)"?`).exec(line)![1]!;
      const md5 = (x: string): string => createHash('md5').update(x).digest('hex');
      assert.equal(p('username'), 'acme-trunk');
      const ha1 = md5(`acme-trunk:carrier.example:carrier-secret`);
      const want = md5(`${ha1}:${p('nonce')}:${p('nc')}:${p('cnonce')}:auth:${md5(`INVITE:${p('uri')}`)}`);
      assert.equal(p('response'), want);
      const rows = (await cdrsSince(t0)).filter((c) => c.direction === 'outbound');
      assert.equal(rows.length, 1);
      assert.deepEqual(
        [rows[0]!.trunk, rows[0]!.carrier, rows[0]!.status, rows[0]!.from, rows[0]!.to],
        ['pbx', 'secured', 200, DID, '+442071234567'],
      );
    },
  );

  test(`${o.label}: a carrier's 401 is answered with its credentials (verified by SIPp)`, { skip }, async () => {
    const gw = sippBackground(
      scenarioWith('trunk-uas-challenge.xml', { user: 'acme-401', password: 'other-secret' }),
      ports.gwAuth401!,
      { ip: AUTH401, timeoutS: 25 },
    );
    await uac(call(DID, '127\\.0\\.0\\.8'), PBX, '+33123456789');
    await done(gw, 'carrier gateway with 401');
  });

  test(
    `${o.label}: the carrier gets P-Asserted-Identity with the verified caller ID and no X- header of ours or the PBX's`,
    { skip },
    async () => {
      const gw = far(
        CARRIER,
        ports.gwOk!,
        `P-Asserted-Identity: .sip:\\${DID}@`,
        '127\\.0\\.0\\.2|pbx@',
        1,
        'X-Call-Sid|X-Leg-Sid|X-Trunk-Sid|X-Internal-Secret',
      );
      await uac(call(DID, '127\\.0\\.0\\.5'), PBX, '+4930123456');
      await done(gw, 'carrier gateway');
    },
  );

  test(
    `${o.label}: re-INVITEs that cross (491) or overlap (500 Retry-After) keep the call; INFO relayed; BYE ends both legs`,
    { skip },
    async () => {
      const t0 = Date.now();
      const debug = process.env['SIPP_DEBUG']
        ? [
            '-trace_err',
            '-error_file',
            '/tmp/sipp-err-uas-glare.log',
            '-trace_msg',
            '-message_file',
            '/tmp/sipp-msg-uas-glare.log',
          ]
        : [];
      const pbx = sippBackground(scenarioWith('trunk-uas-glare.xml', {}), ports.pbx!, {
        ip: PBX,
        timeoutS: 25,
        extra: debug,
      });
      await uac(scenarioWith('trunk-uac-glare.xml', { caller: '+15551230000' }), CARRIER, DID);
      await done(pbx, 'callee sending a crossing re-INVITE');
      const rows = (await cdrsSince(t0)).filter((c) => c.direction === 'inbound');
      assert.deepEqual(
        rows.map((c) => [c.status, c.hangupBy]),
        [[200, 'caller']],
      );
    },
  );

  test(`${o.label}: CANCEL while ringing reaches the callee; the caller gets 487`, { skip }, async () => {
    const t0 = Date.now();
    const pbx = sippBackground(scenarioWith('uas-ring-cancel.xml', {}), ports.pbx!, { ip: PBX, timeoutS: 25 });
    await uac(scenarioWith('uac-cancel.xml', {}), CARRIER, DID);
    await done(pbx, 'ringing callee');
    const rows = (await cdrsSince(t0)).filter((c) => c.direction === 'inbound');
    assert.deepEqual(
      rows.map((c) => [c.status, c.hangupBy]),
      [[487, 'caller']],
    );
  });

  test(`${o.label}: the callee hangs up: its BYE ends the caller's leg too`, { skip }, async () => {
    const t0 = Date.now();
    const pbx = sippBackground(scenarioWith('uas-call-bye.xml', {}), ports.pbx!, { ip: PBX, timeoutS: 25 });
    await uac(scenarioWith('uac-call-bye-in.xml', {}), CARRIER, DID);
    await done(pbx, 'callee hanging up');
    const rows = (await cdrsSince(t0)).filter((c) => c.direction === 'inbound');
    assert.deepEqual(
      rows.map((c) => [c.status, c.hangupBy]),
      [[200, 'callee']],
    );
  });

  test(
    `${o.label}: registration trunk: calls to its DID reach the registered PBX; its calls out pass proxy authentication (407) as the trunk`,
    { skip },
    async () => {
      const t0 = Date.now();
      const reg = scenarioWith('registrar-register.xml', { domain: 'pbx.test', expect: '200' });
      const r = await sipp({
        scenario: reg,
        target: `127.0.0.1:${port}`,
        ip: REG_PBX,
        localPort: ports.regPbx!,
        extra: ['-s', 'regpbx', '-au', 'regpbx', '-ap', 'regpbx-pw', '-auth_uri', 'pbx.test'],
      });
      assert.equal(r.code, 0, `REGISTER failed:\n${r.stdout.slice(-2000)}`);
      // Inbound: to the contact the PBX registered.
      const pbx = far(REG_PBX, ports.regPbx!, 'X-Trunk-Sid: regtrunk', '127\\.0\\.0\\.5');
      await uac(call('+15551230000', '127\\.0\\.0\\.10'), CARRIER, REG_DID);
      await done(pbx, 'registered PBX');
      // Outbound: From is the caller's number at the PBX's domain; credentials are the trunk's subscriber's.
      const gw = far(CARRIER, ports.gwOk!, `P-Asserted-Identity: .sip:\\${REG_DID}@`, '127\\.0\\.0\\.10');
      const out = scenarioWith('proxy-auth-call.xml', { domain: 'pbx.test', caller: REG_DID });
      await uac(out, REG_PBX, '+4930777888', [
        '-au',
        'regpbx',
        '-ap',
        'regpbx-pw',
        '-auth_uri',
        '+4930777888@pbx.test',
      ]);
      await done(gw, 'carrier gateway');
      const rows = (await cdrsSince(t0)).filter((c) => c.trunk === 'regtrunk');
      assert.deepEqual(rows.map((c) => [c.direction, c.status]).sort(), [
        ['inbound', 200],
        ['outbound', 200],
      ]);
    },
  );

  test(
    `${o.label}: registration trunk: a caller ID it does not own gets 403 even with good credentials`,
    { skip },
    async () => {
      const out = scenarioWith('proxy-auth-refused.xml', { domain: 'pbx.test', caller: '+15550009999', expect: '403' });
      await uac(out, REG_PBX, '+4930777888', [
        '-au',
        'regpbx',
        '-ap',
        'regpbx-pw',
        '-auth_uri',
        '+4930777888@pbx.test',
      ]);
    },
  );

  test(`${o.label}: a caller ID the account does not own gets 403`, { skip }, async () => {
    await uac(expect('+15550000000', 403), PBX, '+4930123456');
  });

  test(`${o.label}: an address that is no trunk and no carrier gets 403`, { skip }, async () => {
    await uac(expect(DID, 403), STRANGER, '+4930123456');
  });

  test(`${o.label}: a trunk restricted to TLS rejects UDP`, { skip }, async () => {
    await uac(expect(DID, 403), TLS_ONLY, '+4930123456');
  });

  test(`${o.label}: failover to the second gateway when the first answers 503`, { skip }, async () => {
    const t0 = Date.now();
    const bad = sippBackground(scenarioWith('uas-unavailable.xml', {}), ports.gw503!, { ip: CARRIER, timeoutS: 20 });
    // The carrier's header rule: P-Asserted-Identity stripped, X-Account-Code added.
    const good = far(
      CARRIER,
      ports.gwOk!,
      'X-Account-Code: 4711',
      'X-Internal-Secret',
      1,
      'P-Asserted-Identity|X-Internal-Secret',
    );
    await uac(call(DID, 'xx-none'), PBX, '+15551234567');
    await done(bad, 'gateway answering 503');
    await done(good, 'second gateway');
    const rows = (await cdrsSince(t0)).filter((c) => c.direction === 'outbound');
    assert.deepEqual(
      rows.map((c) => [c.carrier, c.status]),
      [['flaky', 200]],
    );
  });

  test(`${o.label}: failover to the second gateway when the first does not answer`, { skip }, async () => {
    const good = far(DEAD, ports.gwAfterDead!, 'INVITE sip:\\+16661234567@', 'X-Internal-Secret');
    await uac(call(DID, 'xx-none'), PBX, '+16661234567');
    await done(good, 'second gateway');
  });

  test(
    `${o.label}: a gateway silent past gatewayTimeout that answers later: its 200 is ACKed and hung up once, the call stays on the next`,
    { skip },
    async () => {
      // gatewayTimeout is 3 s here: the first gateway answers at 4 s, after the second has taken the call.
      // Over TCP, where the INVITE is not retransmitted into SIPp's pause.
      const late = sippBackground(scenarioWith('uas-answer-late.xml', { late: '4000' }), ports.gwLate!, {
        ip: DEAD,
        transport: 't1',
        timeoutS: 25,
      });
      const good = far(DEAD, ports.gwAfterLate!, 'INVITE sip:\\+17771234567@', 'X-Internal-Secret');
      await uac(call(DID, 'xx-none'), PBX, '+17771234567');
      await done(good, 'second gateway');
      await done(late, 'the gateway that answered late');
    },
  );

  test(`${o.label}: a callee's refusal is final: no failover after 486`, { skip }, async () => {
    const busy = sippBackground(scenarioWith('uas-busy.xml', {}), ports.gw503!, { ip: CARRIER, timeoutS: 20 });
    await uac(expect(DID, 486), PBX, '+15559876543');
    await done(busy, 'busy gateway');
  });

  test(`${o.label}: concurrent calls limit: a second call while the first is up gets 503`, { skip }, async () => {
    // The trunk's header rule: the carrier's X-Internal-Secret kept, X-Provider added; our X-Call-Sid is never taken from a peer.
    const pbx = far(
      LIMITED,
      ports.limited!,
      'X-Internal-Secret: do-not-leak',
      'X-Internal-Secret',
      1,
      'sipp@|X-Call-Sid: [^C]',
    );
    const first = sipp({
      scenario: call('+15551230000', 'xx-none', 2500),
      target: `127.0.0.1:${port}`,
      ip: CARRIER,
      localPort: await freePort(),
      timeoutS: 20,
      extra: ['-s', '+912240002001'],
    });
    await new Promise((r) => setTimeout(r, 800));
    await uac(expect('+15551230000', 503), CARRIER, '+912240002002');
    // The live call as `trunkline calls` shows it (from the running server, over its control socket).
    const live = await runCli(['calls', '--json', '--config', server.configFile]);
    assert.equal(live.code, 0, live.stderr);
    const calls = JSON.parse(live.stdout) as Array<{
      trunk: string;
      direction: string;
      state: string;
      callSid: string;
    }>;
    assert.deepEqual(
      calls.map((c) => [c.trunk, c.direction, c.state]),
      [['limited', 'inbound', 'confirmed']],
    );
    assert.match(calls[0]!.callSid, /^CA[0-9a-f]{20}$/);
    const r = await first;
    assert.equal(r.code, 0, r.stdout.slice(-2000));
    await done(pbx, 'limited PBX');
  });

  test(
    `${o.label}: with a CPM limit of 20, the 21st call within the minute gets 503 with Retry-After`,
    { skip },
    async () => {
      // The concurrent test above used 1 of the 20; 19 more pass one after another, then the next is refused.
      const pbx = far(LIMITED, ports.limited!, 'X-Provider: trunkline-test', 'X-Internal-Secret', 19, 'sipp@');
      // One at a time (-l 1: the trunk takes 1 concurrent call): each starts once the last one's BYE is answered.
      await uac(call('+15551230000', 'xx-none'), CARRIER, '+912240002003', ['-l', '1'], 19, 10);
      await done(pbx, 'limited PBX');
      await uac(expect('+15551230000', 503), CARRIER, '+912240002004');
      const limited = (await store.cdrs.list({ trunk: 'limited' })).cdrs;
      assert.equal(limited.filter((c) => c.status === 200).length, 20);
      // Both refusals (this one and the concurrent test's) have a CDR of the trunk that hit its limit.
      const refused = await cdrsWhen(0, (c) => c.trunk === 'limited' && c.status === 503, 2);
      assert.deepEqual(
        refused.map((c) => [c.reason, c.account, c.to]),
        [
          ['Calls per minute limit reached', 'tight', '+912240002004'],
          ['Concurrent calls limit reached', 'tight', '+912240002002'],
        ],
      );
    },
  );
}
