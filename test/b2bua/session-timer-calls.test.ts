/**
 * RFC 4028 session timers per leg, with real SIPp peers on both legs of
 * trunk calls through Trunkline (built-in media relay), at the RFC's
 * smallest interval (90 s: no shortcut below the RFC's floor), the calls
 * running side by side to keep the file near 70 s:
 *   - a call refreshed by Trunkline on both legs at half the interval (a
 *     re-INVITE toward the caller, an UPDATE toward the callee, which
 *     allows it), the callee's own refresh answered on its leg;
 *   - a caller that is to refresh and never does, and a callee that stops
 *     answering refreshes: both calls ended with BYE on both legs, and a
 *     CDR saying why, within the interval;
 *   - an interval below the minimum refused with 422 and Min-SE.
 * Hosts: callers on 127.0.0.2-4 (the PBX trunk), carriers on 127.0.0.5-7.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, sipp, sippBackground, scenarioWith, type BackgroundSipp } from '../helpers/sipp.js';
import { openStore, type Store } from '../../src/store/index.js';
import type { Cdr } from '../../src/trunking/model.js';
import { waitFor } from '../helpers/wait.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const CALLER = '+14155550100';
const PBX = ['127.0.0.2', '127.0.0.3', '127.0.0.4'] as const;
const GW = { timers: '127.0.0.5', plain: '127.0.0.6', deaf: '127.0.0.7' } as const;
const DIALLED = {
  refreshed: '+15550001111',
  silentCaller: '+16660001111',
  deafCallee: '+17770001111',
  tooSmall: '+18880001111',
};
const logs = mkdtempSync(join(tmpdir(), 'sipp-timers-'));

let server: RunningTrunkline;
let port: number;
let store: Store;
const gwPort: Record<keyof typeof GW, number> = { timers: 0, plain: 0, deaf: 0 };

before(async () => {
  if (skip !== false) return;
  port = await freePort();
  for (const k of Object.keys(GW) as Array<keyof typeof GW>) gwPort[k] = await freePort(GW[k]);
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      // T1 100 ms: a refresh nobody answers times out in 6.4 s (64*T1).
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      // No RTP flows in these calls: the media timeout must not end them first.
      'media: {timeout: 600}',
      'trunking:',
      '  gatewayTimeout: 3',
      '  ping: {interval: 0}',
      '  sessionTimer: {interval: 90, minSE: 90}',
      '',
    ].join('\n'),
  );
  store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
  await store.accounts.add({ name: 'acme' });
  await store.trunks.add({ name: 'pbx', account: 'acme', ip: PBX.map((ip) => `${ip}/32`) });
  await store.dids.add(CALLER, 'pbx');
  for (const k of Object.keys(GW) as Array<keyof typeof GW>)
    await store.carriers.add({ name: k, gateways: [`sip:${GW[k]}:${gwPort[k]}`] });
  await store.routes.add('+', ['timers']);
  await store.routes.add('+1666', ['plain']);
  await store.routes.add('+1777', ['deaf']);
  // The server sees store changes within 2 s (it polls every second).
  await new Promise((r) => setTimeout(r, 2200));
});

after(async () => {
  rmSync(logs, { recursive: true, force: true });
  if (skip !== false) return;
  await store.close();
  assert.equal(await server.stop(), 0);
});

/** A far side (carrier gateway) in the background, logging to its own file. */
function callee(
  name: string,
  host: string,
  p: number,
  values: Record<string, string> = {},
): BackgroundSipp & { log: string } {
  const log = join(logs, `${name}.log`);
  const b = sippBackground(scenarioWith(name, values), p, {
    ip: host,
    timeoutS: 110,
    extra: ['-trace_logs', '-log_file', log],
  });
  return { ...b, log };
}

/** A caller from one of the PBX's addresses, run to its end; its log file. */
async function caller(name: string, ip: string, dialled: string, values: Record<string, string> = {}): Promise<string> {
  const log = join(logs, `${name}.log`);
  const r = await sipp({
    scenario: scenarioWith(name, { caller: CALLER, ...values }),
    target: `127.0.0.1:${port}`,
    ip,
    localPort: await freePort(ip),
    timeoutS: 110,
    extra: ['-s', dialled, '-trace_logs', '-log_file', log],
  });
  assert.equal(
    r.code,
    0,
    `caller ${name} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-1500)}\nlog:\n${read(log)}\nserver:\n${server.output().slice(-4000)}`,
  );
  return log;
}

async function done(c: BackgroundSipp & { log: string }, what: string): Promise<string> {
  const r = await c.done;
  assert.equal(r.code, 0, `${what} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-1500)}\nlog:\n${read(c.log)}`);
  return c.log;
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '(no log)';
  }
}

/** The time (SIPp clock, ms) a scenario logged for `event`. */
function at(log: string, event: string): number {
  const m = new RegExp(`^${event} (\\d+)`, 'm').exec(read(log));
  assert.ok(m !== null, `no "${event}" in ${log}:\n${read(log)}`);
  return Number(m[1]);
}

/** The two o= lines a scenario logged ("origins A | B"). */
function origins(log: string): [string, string] {
  const m = /^origins (.*) \| (.*)$/m.exec(read(log));
  assert.ok(m !== null, `no origins in ${log}:\n${read(log)}`);
  return [m[1]!.trim(), m[2]!.trim()];
}

async function cdrTo(number: string): Promise<Cdr> {
  return waitFor(async () => (await store.cdrs.list()).cdrs.find((c) => c.to === number), {
    timeoutMs: 5000,
    what: `the CDR of the call to ${number}`,
  });
}

describe('session timers (RFC 4028) with SIPp on both legs', { concurrency: true, skip }, () => {
  test('refreshed by Trunkline on each leg at half the interval; the callee refresh answered on its leg', async () => {
    const far = callee('timer-uas-refresh.xml', GW.timers, gwPort.timers);
    const near = await caller('timer-uac-refresh.xml', PBX[0], DIALLED.refreshed, { hold: '8000' });
    const farLog = await done(far, 'callee');

    // RFC 4028 10: half of 90 s (the timer wheel may add up to 1/16 of a long delay).
    for (const [log, leg] of [
      [near, 'caller'],
      [farLog, 'callee'],
    ] as const) {
      const after = at(log, 'refresh') - at(log, 'answered');
      assert.ok(
        after >= 44_500 && after <= 49_500,
        `${leg} leg refreshed ${after} ms after the answer, expected ~45 s`,
      );
    }
    assert.match(read(near), /^refresh \d+ INVITE$/m, 'the caller allows no UPDATE: a re-INVITE');
    assert.match(read(farLog), /^refresh \d+ UPDATE$/m, 'the callee allows UPDATE: an UPDATE without SDP');
    const [ofThe200, ofTheRefresh] = origins(near);
    assert.equal(ofTheRefresh, ofThe200, 'the refresh re-INVITE carries the SDP of the 200 unchanged (same version)');
    const [ofTheInvite, ofOurAnswer] = origins(farLog);
    assert.equal(ofOurAnswer, ofTheInvite, "the callee's refresh is answered with the SDP of its INVITE unchanged");
    assert.doesNotMatch(server.output(), /changed the SDP/);

    const cdr = await cdrTo(DIALLED.refreshed);
    assert.equal(cdr.status, 200);
    assert.equal(cdr.hangupBy, 'caller');
    assert.equal(cdr.reason, 'Normal Clearing');
    assert.ok(cdr.duration >= 50, `lasted ${cdr.duration} s`);
  });

  test('a caller that never refreshes, a callee that stops answering: BYE on both legs and a CDR within the interval', async () => {
    // Call 1: the caller is to refresh (refresher=uac) and never does; the callee (no timer support) is refreshed by us.
    const plain = callee('timer-uas-plain.xml', GW.plain, gwPort.plain, { reason: 'Session timer expired' });
    // Call 2: the callee allows UPDATE and then answers nothing; the caller (no timer support) is refreshed by us.
    const deaf = callee('timer-uas-deaf.xml', GW.deaf, gwPort.deaf);
    const [silentLog, plainCallerLog] = await Promise.all([
      caller('timer-uac-silent.xml', PBX[1], DIALLED.silentCaller),
      caller('timer-uac-plain.xml', PBX[2], DIALLED.deafCallee, { reason: 'Session refresh failed' }),
    ]);
    const plainLog = await done(plain, 'callee of call 1');
    const deafLog = await done(deaf, 'callee of call 2');

    // Call 1: no refresh from the caller by 90 - min(32, 90/3) = 60 s: BYE to both legs.
    const silentFor = at(silentLog, 'bye') - at(silentLog, 'answered');
    assert.ok(silentFor >= 59_500 && silentFor < 90_000, `caller BYE ${silentFor} ms after the answer, expected ~60 s`);
    assert.ok(at(plainLog, 'bye') - at(plainLog, 'answered') < 90_000);
    const expired = await cdrTo(DIALLED.silentCaller);
    assert.equal(expired.reason, 'Session timer expired (caller leg)');
    assert.equal(expired.hangupBy, 'system');
    assert.equal(expired.status, 200, 'answered, then ended');
    assert.ok(expired.duration >= 59 && expired.duration < 90, `billed ${expired.duration} s`);

    // Call 2: our UPDATE at ~45 s times out (64*T1 = 6.4 s): BYE to both legs.
    const deafFor = at(deafLog, 'bye') - at(deafLog, 'refresh');
    assert.ok(deafFor >= 6_000 && deafFor < 12_000, `BYE ${deafFor} ms after the unanswered refresh`);
    assert.ok(at(plainCallerLog, 'bye') - at(plainCallerLog, 'answered') < 90_000);
    const failed = await cdrTo(DIALLED.deafCallee);
    assert.equal(failed.reason, 'Session refresh failed (callee leg): no answer');
    assert.equal(failed.hangupBy, 'system');
    assert.ok(failed.duration >= 50 && failed.duration < 90, `billed ${failed.duration} s`);
  });

  test('an interval below the minimum: 422 with Min-SE, no leg tried, a CDR', async () => {
    await caller('timer-uac-422.xml', PBX[0], DIALLED.tooSmall);
    const cdr = await cdrTo(DIALLED.tooSmall);
    assert.equal(cdr.status, 422);
    assert.equal(cdr.reason, 'Session Interval Too Small');
    assert.equal(cdr.carrier, null, 'no leg tried');
  });
});
