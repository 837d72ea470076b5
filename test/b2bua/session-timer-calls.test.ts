/**
 * RFC 4028 session timers per leg, with real SIPp peers on both legs of
 * trunk calls through Trunkline, at the RFC's smallest interval (90 s: no
 * shortcut below the RFC's floor), with the built-in media relay and with
 * rtpengine: one Trunkline per engine (test/b2bua/media-rigs.ts), every
 * call of both running side by side to keep the file near 70 s:
 *   - a call refreshed by Trunkline on both legs at half the interval (a
 *     re-INVITE toward the caller, an UPDATE toward the callee, which
 *     allows it), the callee's own refresh answered on its leg;
 *   - a caller that is to refresh and never does, and a callee that stops
 *     answering refreshes: both calls ended with BYE on both legs, and a
 *     CDR saying why, within the interval;
 *   - an interval below the minimum refused with 422 and Min-SE.
 * Hosts of each engine's set (127.0.0.x built-in, 127.0.1.x rtpengine):
 * callers on .2-.4 (the PBX trunk), carriers on .5-.7.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { haveCommand, sipp, sippBackground, scenarioWith, type BackgroundSipp } from '../helpers/sipp.js';
import { hostOf, MEDIA_CHOICES, startRig, type MediaChoice, type MediaRig } from './media-rigs.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const CALLER = '+14155550100';
const DIALLED = {
  refreshed: '+15550001111',
  silentCaller: '+16660001111',
  deafCallee: '+17770001111',
  tooSmall: '+18880001111',
};
const logs = mkdtempSync(join(tmpdir(), 'sipp-timers-'));

after(() => rmSync(logs, { recursive: true, force: true }));

/** The peers of one engine's Trunkline: PBX addresses and carrier gateways. */
interface Peers {
  pbx: [string, string, string];
  gw: { timers: string; plain: string; deaf: string };
  gwPort: { timers: number; plain: number; deaf: number };
}

async function startTimerRig(media: MediaChoice): Promise<{ rig: MediaRig; peers: Peers }> {
  const h = (n: number): string => hostOf(media, n);
  const gw = { timers: h(5), plain: h(6), deaf: h(7) };
  const peers: Peers = {
    pbx: [h(2), h(3), h(4)],
    gw,
    gwPort: { timers: await freePort(gw.timers), plain: await freePort(gw.plain), deaf: await freePort(gw.deaf) },
  };
  const config = [
    // T1 100 ms: a refresh nobody answers times out in 6.4 s (64*T1).
    'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
    'trunking:',
    '  gatewayTimeout: 3',
    '  ping: {interval: 0}',
    '  sessionTimer: {interval: 90, minSE: 90}',
  ];
  // No RTP flows in these calls: the media timeout (600 s) must not end them first.
  const rig = await startRig(media, await freePort(), config, 600, async (store) => {
    await store.accounts.add({ name: 'acme' });
    await store.trunks.add({ name: 'pbx', account: 'acme', ip: peers.pbx.map((ip) => `${ip}/32`) });
    await store.dids.add(CALLER, 'pbx');
    for (const k of ['timers', 'plain', 'deaf'] as const)
      await store.carriers.add({ name: k, gateways: [`sip:${gw[k]}:${peers.gwPort[k]}`] });
    await store.routes.add('+', ['timers']);
    await store.routes.add('+1666', ['plain']);
    await store.routes.add('+1777', ['deaf']);
  });
  return { rig, peers };
}

/** A far side (carrier gateway) in the background, logging to its own file. */
function callee(
  rig: MediaRig,
  name: string,
  host: string,
  p: number,
  values: Record<string, string> = {},
): BackgroundSipp & { log: string } {
  const log = join(logs, `${rig.media.net}-${name}.log`);
  const b = sippBackground(scenarioWith(name, values), p, {
    ip: host,
    timeoutS: 110,
    extra: ['-trace_logs', '-log_file', log],
  });
  return { ...b, log };
}

/** A caller from one of the PBX's addresses, run to its end; its log file. */
async function caller(
  rig: MediaRig,
  name: string,
  ip: string,
  dialled: string,
  values: Record<string, string> = {},
): Promise<string> {
  const log = join(logs, `${rig.media.net}-${name}.log`);
  const r = await sipp({
    scenario: scenarioWith(name, { caller: CALLER, ...values }),
    target: `127.0.0.1:${rig.port}`,
    ip,
    localPort: await freePort(ip),
    timeoutS: 110,
    extra: ['-s', dialled, '-trace_logs', '-log_file', log],
  });
  assert.equal(
    r.code,
    0,
    `caller ${name} failed:\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-1500)}\nlog:\n${read(log)}\nserver:\n${rig.server.output().slice(-4000)}`,
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

describe('session timers (RFC 4028) with SIPp on both legs', { concurrency: true, skip }, () => {
  for (const media of MEDIA_CHOICES) sessionTimerCalls(media);
});

function sessionTimerCalls(media: MediaChoice): void {
  describe(media.label, { concurrency: true, skip: media.skip }, () => {
    let rig: MediaRig;
    let peers: Peers;
    before(async () => {
      if (skip !== false || media.skip !== false) return;
      ({ rig, peers } = await startTimerRig(media));
    });
    after(async () => {
      if (skip !== false || media.skip !== false) return;
      assert.equal(await rig.stop(), 0);
    });

    test('refreshed by Trunkline on each leg at half the interval; the callee refresh answered on its leg', async () => {
      const far = callee(rig, 'timer-uas-refresh.xml', peers.gw.timers, peers.gwPort.timers);
      const near = await caller(rig, 'timer-uac-refresh.xml', peers.pbx[0], DIALLED.refreshed, { hold: '8000' });
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
      assert.doesNotMatch(rig.server.output(), /changed the SDP/);

      const cdr = await rig.cdrTo(DIALLED.refreshed);
      assert.equal(cdr.status, 200);
      assert.equal(cdr.hangupBy, 'caller');
      assert.equal(cdr.reason, 'Normal Clearing');
      assert.ok(cdr.duration >= 50, `lasted ${cdr.duration} s`);
    });

    test('a caller that never refreshes, a callee that stops answering: BYE on both legs and a CDR within the interval', async () => {
      // Call 1: the caller is to refresh (refresher=uac) and never does; the callee (no timer support) is refreshed by us.
      const plain = callee(rig, 'timer-uas-plain.xml', peers.gw.plain, peers.gwPort.plain, {
        reason: 'Session timer expired',
      });
      // Call 2: the callee allows UPDATE and then answers nothing; the caller (no timer support) is refreshed by us.
      const deaf = callee(rig, 'timer-uas-deaf.xml', peers.gw.deaf, peers.gwPort.deaf);
      const [silentLog, plainCallerLog] = await Promise.all([
        caller(rig, 'timer-uac-silent.xml', peers.pbx[1], DIALLED.silentCaller),
        caller(rig, 'timer-uac-plain.xml', peers.pbx[2], DIALLED.deafCallee, { reason: 'Session refresh failed' }),
      ]);
      const plainLog = await done(plain, 'callee of call 1');
      const deafLog = await done(deaf, 'callee of call 2');

      // Call 1: no refresh from the caller by 90 - min(32, 90/3) = 60 s: BYE to both legs.
      const silentFor = at(silentLog, 'bye') - at(silentLog, 'answered');
      assert.ok(
        silentFor >= 59_500 && silentFor < 90_000,
        `caller BYE ${silentFor} ms after the answer, expected ~60 s`,
      );
      assert.ok(at(plainLog, 'bye') - at(plainLog, 'answered') < 90_000);
      const expired = await rig.cdrTo(DIALLED.silentCaller);
      assert.equal(expired.reason, 'Session timer expired (caller leg)');
      assert.equal(expired.hangupBy, 'system');
      assert.equal(expired.status, 200, 'answered, then ended');
      assert.ok(expired.duration >= 59 && expired.duration < 90, `billed ${expired.duration} s`);

      // Call 2: our UPDATE at ~45 s times out (64*T1 = 6.4 s): BYE to both legs.
      const deafFor = at(deafLog, 'bye') - at(deafLog, 'refresh');
      assert.ok(deafFor >= 6_000 && deafFor < 12_000, `BYE ${deafFor} ms after the unanswered refresh`);
      assert.ok(at(plainCallerLog, 'bye') - at(plainCallerLog, 'answered') < 90_000);
      const failed = await rig.cdrTo(DIALLED.deafCallee);
      assert.equal(failed.reason, 'Session refresh failed (callee leg): no answer');
      assert.equal(failed.hangupBy, 'system');
      assert.ok(failed.duration >= 50 && failed.duration < 90, `billed ${failed.duration} s`);
    });

    test('an interval below the minimum: 422 with Min-SE, no leg tried, a CDR', async () => {
      await caller(rig, 'timer-uac-422.xml', peers.pbx[0], DIALLED.tooSmall);
      const cdr = await rig.cdrTo(DIALLED.tooSmall);
      assert.equal(cdr.status, 422);
      assert.equal(cdr.reason, 'Session Interval Too Small');
      assert.equal(cdr.carrier, null, 'no leg tried');
    });
  });
}
