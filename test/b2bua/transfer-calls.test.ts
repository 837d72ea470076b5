/**
 * Call transfer through the B2BUA with real SIPp peers on every leg (UDP,
 * built-in media relay): a REFER refused by policy (403, the call goes on),
 * relayed to the carrier (its NOTIFY back to the PBX), and performed by
 * Trunkline (a new leg to a second carrier, NOTIFY 100 then 200 to the PBX,
 * the transferee re-INVITEd with the new leg's SDP through the relay, the
 * PBX hung up, two CDRs); a performed transfer whose target is busy (NOTIFY
 * 486, the call goes on); an INVITE with Replaces taking over the PBX's
 * leg, and Replaces naming no dialog of ours (481) or sent by a trunk whose
 * policy refuses transfers (403).
 * Hosts: PBX trunks on 127.0.0.2 (refuse), 127.0.0.3 (relay) and 127.0.0.4
 * (perform, the global policy); carriers on 127.0.0.5, transfer targets on 127.0.0.6.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, portBound, sipp, sippBackground, scenarioWith, type BackgroundSipp } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { Cdr } from '../../src/trunking/model.js';
import { sleep, waitFor } from '../helpers/wait.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const PBX = { refuse: '127.0.0.2', relay: '127.0.0.3', perform: '127.0.0.4' } as const;
const DID = { refuse: '+14155550101', relay: '+14155550102', perform: '+14155550103' } as const;
const CARRIER = '127.0.0.5';
const TARGET = '127.0.0.6';
/** Each carrier: its address and the route prefix that reaches it. */
const CARRIERS = {
  'c-refuse': { ip: CARRIER, prefix: '+1555100' },
  'c-relay': { ip: CARRIER, prefix: '+1555200' },
  'c-transferee': { ip: CARRIER, prefix: '+1555300' },
  'c-target': { ip: TARGET, prefix: '+1666300' },
  'c-stay': { ip: CARRIER, prefix: '+1555400' },
  'c-busy': { ip: TARGET, prefix: '+1666400' },
  'c-replace': { ip: CARRIER, prefix: '+1555500' },
} as const;
type CarrierName = keyof typeof CARRIERS;
/** A SIPp regexp for a literal (a `+` or `.` matched as itself). */
const re = (s: string): string => s.replace(/[+.]/g, (c) => `\\${c}`);

const logs = mkdtempSync(join(tmpdir(), 'sipp-xfer-'));
let server: RunningTrunkline;
let port: number;
let store: Store;
const gwPort = {} as Record<CarrierName, number>;

before(async () => {
  if (skip !== false) return;
  port = await freePort();
  for (const [name, c] of Object.entries(CARRIERS)) gwPort[name as CarrierName] = await freePort(c.ip);
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      // No RTP flows in these calls: the media timeout must not end them.
      'media: {timeout: 600}',
      'trunking:',
      '  gatewayTimeout: 3',
      '  ping: {interval: 0}',
      '  transfer:',
      '    policy: perform',
      '    overrides: [{trunk: pbx-refuse, policy: refuse}, {trunk: pbx-relay, policy: relay}]',
      '',
    ].join('\n'),
  );
  store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
  await store.accounts.add({ name: 'acme' });
  await store.trunks.add({ name: 'pbx-refuse', account: 'acme', ip: [`${PBX.refuse}/32`] });
  await store.trunks.add({ name: 'pbx-relay', account: 'acme', ip: [`${PBX.relay}/32`] });
  await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX.perform}/32`] });
  await store.dids.add(DID.refuse, 'pbx-refuse');
  await store.dids.add(DID.relay, 'pbx-relay');
  await store.dids.add(DID.perform, 'pbx');
  for (const [name, c] of Object.entries(CARRIERS)) {
    await store.carriers.add({ name, gateways: [`sip:${c.ip}:${gwPort[name as CarrierName]}`] });
    await store.routes.add(c.prefix, [name]);
  }
  // The server sees store changes within 2 s (it polls every second).
  await new Promise((r) => setTimeout(r, 2200));
});

after(async () => {
  rmSync(logs, { recursive: true, force: true });
  if (skip !== false) return;
  await store.close();
  assert.equal(await server.stop(), 0);
});

/** A carrier's gateway (or a transfer target) in the background, logging its messages; resolves once it listens. */
async function carrier(
  scenario: string,
  name: CarrierName,
  values: Record<string, string> = {},
): Promise<BackgroundSipp & { log: string }> {
  const log = join(logs, `${name}.log`);
  const { ip } = CARRIERS[name];
  const p = gwPort[name];
  const b = sippBackground(scenarioWith(scenario, values), p, {
    ip,
    timeoutS: 30,
    extra: ['-trace_msg', '-message_file', log],
  });
  // Until SIPp has bound its port, our INVITE would meet an ICMP port unreachable (503).
  for (let i = 0; i < 100 && !portBound(ip, p); i++) await sleep(50);
  return { ...b, log };
}

/** A PBX call from one of the trunks' addresses, to its end. */
async function pbxCall(
  scenario: string,
  ip: string,
  dialled: string,
  values: Record<string, string>,
): Promise<{ code: number | null; log: string; out: string }> {
  const log = join(logs, `${scenario}-${dialled}.log`);
  const r = await sipp({
    scenario: scenarioWith(scenario, values),
    target: `127.0.0.1:${port}`,
    ip,
    localPort: await freePort(ip),
    timeoutS: 30,
    extra: ['-s', dialled, '-trace_msg', '-message_file', log],
  });
  return { code: r.code, log, out: `${r.stdout.slice(-2000)}\n${r.stderr.slice(-1000)}` };
}

async function passes(r: { code: number | null; log: string; out: string }, what: string): Promise<void> {
  assert.equal(
    r.code,
    0,
    `${what} failed:\n${r.out}\nmessages:\n${read(r.log)}\nserver:\n${server.output().slice(-4000)}`,
  );
}

async function done(c: BackgroundSipp & { log: string }, what: string): Promise<void> {
  const r = await c.done;
  await passes({ code: r.code, log: c.log, out: `${r.stdout.slice(-2000)}\n${r.stderr.slice(-1000)}` }, what);
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-6000);
  } catch {
    return '(no log)';
  }
}

async function cdrTo(number: string): Promise<Cdr> {
  return waitFor(async () => (await store.cdrs.list()).cdrs.find((c) => c.to === number), {
    timeoutMs: 5000,
    what: `the CDR of the call to ${number}`,
  });
}

function extraOf(cdr: Cdr): Record<string, unknown> {
  return cdr.extra === null ? {} : (JSON.parse(cdr.extra) as Record<string, unknown>);
}

describe('call transfer with SIPp on every leg', { skip }, () => {
  test('REFER refused by policy: 403, and the call goes on to its BYE', async () => {
    const dialled = '+15551000001';
    const far = await carrier('xfer-carrier-plain.xml', 'c-refuse');
    const near = await pbxCall('xfer-pbx-refused.xml', PBX.refuse, dialled, {
      caller: DID.refuse,
      target: '+15559990001',
    });
    await passes(near, 'the PBX');
    await done(far, 'the carrier (it must see no REFER)');
    const cdr = await cdrTo(dialled);
    assert.equal(cdr.status, 200);
    assert.equal(cdr.reason, 'Normal Clearing');
    assert.equal(cdr.hangupBy, 'caller');
    assert.equal(extraOf(cdr)['transfers'], undefined);
  });

  test('REFER relayed: the carrier gets it as the PBX wrote it, its NOTIFY comes back', async () => {
    const dialled = '+15552000001';
    const target = '+15559990002';
    const far = await carrier('xfer-carrier-refer.xml', 'c-relay', { target: re(target) });
    const near = await pbxCall('xfer-pbx-relay.xml', PBX.relay, dialled, { caller: DID.relay, target });
    await passes(near, 'the PBX');
    await done(far, 'the carrier');
    const cdr = await cdrTo(dialled);
    assert.equal(cdr.status, 200);
    assert.equal(cdr.reason, 'Normal Clearing');
  });

  test('REFER performed: new leg to a second carrier, transferee re-INVITEd, PBX told and hung up, two CDRs', async () => {
    const dialled = '+15553000001';
    const target = '+16663000001';
    const transferee = await carrier('xfer-carrier-transferee.xml', 'c-transferee', { leak: re(TARGET), hold: '800' });
    const callee = await carrier('xfer-carrier-target.xml', 'c-target', { caller: re(DID.perform), leak: re(CARRIER) });
    const near = await pbxCall('xfer-pbx-perform.xml', PBX.perform, dialled, { caller: DID.perform, target });
    await passes(near, 'the PBX (referrer)');
    await done(transferee, 'the transferee');
    await done(callee, 'the transfer target');

    const original = await cdrTo(dialled);
    const leg = await cdrTo(target);
    assert.equal(original.status, 200);
    assert.equal(original.reason, `Transferred to ${target}`);
    assert.equal(original.carrier, 'c-transferee');
    const transfers = extraOf(original)['transfers'] as Array<Record<string, unknown>>;
    assert.equal(transfers.length, 1);
    assert.equal(transfers[0]!['to'], target);
    assert.equal(transfers[0]!['carrier'], 'c-target');
    assert.equal(transfers[0]!['by'], 'caller');
    assert.equal(transfers[0]!['callSid'], leg.callSid);
    assert.ok(extraOf(original)['media'] !== undefined, 'the media figures stay in the CDR');

    assert.equal(leg.status, 200);
    assert.equal(leg.carrier, 'c-target');
    assert.equal(leg.direction, 'outbound');
    assert.equal(leg.trunk, 'pbx');
    assert.equal(leg.from, DID.perform, "the new leg's caller ID is the referrer's");
    assert.equal(leg.reason, 'Normal Clearing');
    assert.equal(leg.hangupBy, 'caller', 'the transferee (the caller of the new leg) hung up');
    assert.ok(leg.answerAt !== null);
    assert.equal(extraOf(leg)['transferOf'], original.callSid);
    assert.equal(original.endAt, leg.endAt, 'both end with the conversation');
    // The transferee's re-INVITE carried the relay's address, not the target's (SIPp checked); and the message logs agree.
    assert.doesNotMatch(read(callee.log), /pbx\.internal/);
  });

  test('performed transfer to a busy target: NOTIFY 486, and the call goes on', async () => {
    const dialled = '+15554000001';
    const target = '+16664000001';
    const stay = await carrier('xfer-carrier-plain.xml', 'c-stay');
    const busy = await carrier('xfer-carrier-busy.xml', 'c-busy');
    const near = await pbxCall('xfer-pbx-perform-fails.xml', PBX.perform, dialled, {
      caller: DID.perform,
      target,
      final: '486',
    });
    await passes(near, 'the PBX (referrer)');
    await done(stay, 'the carrier that stays (no re-INVITE)');
    await done(busy, 'the busy target');

    const original = await cdrTo(dialled);
    assert.equal(original.status, 200);
    assert.equal(original.reason, 'Normal Clearing');
    assert.equal(original.hangupBy, 'caller');
    assert.equal(extraOf(original)['transfers'], undefined);
    const leg = await cdrTo(target);
    assert.equal(leg.status, 486);
    assert.equal(leg.carrier, 'c-busy');
    assert.equal(leg.answerAt, null);
    assert.equal(extraOf(leg)['transferOf'], original.callSid);
  });

  test('INVITE with Replaces takes over the PBX leg: the other party re-INVITEd, the old leg BYEd', async () => {
    const dialled = '+15555000001';
    const stays = await carrier('xfer-carrier-stays.xml', 'c-replace', { leak: re(PBX.perform) });
    const dialogFile = join(logs, 'replaced-dialog.txt');
    const phone1 = pbxCall('xfer-pbx-replaced.xml', PBX.perform, dialled, {
      caller: DID.perform,
      dialogfile: dialogFile,
    });
    const [callId, fromTag, toTag] = await waitFor(
      () => {
        const words = read(dialogFile).trim().split(/\s+/);
        return words.length === 3 ? words : undefined;
      },
      { timeoutMs: 10_000, what: "the first phone's dialog" },
    ).catch(async (err: unknown) => {
      const r = await phone1;
      assert.fail(`${String(err)}: ${read(dialogFile)}\n${r.out}\n${read(r.log)}`);
    });
    const phone2 = await pbxCall('xfer-pbx-replacing.xml', PBX.perform, dialled, {
      caller: DID.perform,
      replaces: `${callId!};to-tag=${toTag!};from-tag=${fromTag!}`,
      leak: re(CARRIER),
    });
    await passes(phone2, 'the phone taking over');
    await passes(await phone1, 'the phone replaced');
    await done(stays, 'the carrier that stays');

    const cdrs = (await waitFor(
      async () => {
        const c = (await store.cdrs.list()).cdrs.filter((x) => x.to === dialled);
        return c.length > 0 ? c : undefined;
      },
      { timeoutMs: 5000, what: 'the CDR' },
    ))!;
    assert.equal(cdrs.length, 1, 'one call: the INVITE with Replaces started none');
    assert.equal(cdrs[0]!.status, 200);
    assert.equal(cdrs[0]!.hangupBy, 'caller');
    assert.equal(extraOf(cdrs[0]!)['replaced'], 1);
  });

  test('Replaces naming no dialog of ours: 481; from a trunk whose policy refuses transfers: 403', async () => {
    const dialled = '+15555000002';
    const replaces = `nosuchcall@${PBX.perform};to-tag=abc;from-tag=def`;
    const unknown = await pbxCall('xfer-pbx-replaces-refused.xml', PBX.perform, dialled, {
      caller: DID.perform,
      replaces,
      expect: '481',
    });
    await passes(unknown, 'the unknown Replaces');
    const refused = await pbxCall('xfer-pbx-replaces-refused.xml', PBX.refuse, dialled, {
      caller: DID.refuse,
      replaces,
      expect: '403',
    });
    await passes(refused, 'the Replaces of a refusing trunk');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await store.cdrs.list()).cdrs.filter((c) => c.to === dialled).length, 0, 'no call was started');
  });
});
