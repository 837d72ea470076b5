/**
 * The Trunkline of the transfer calls (test/b2bua/transfer-calls.test.ts),
 * one per media engine (test/b2bua/media-rigs.ts), and its SIPp peers: PBX
 * trunks on .2 (policy refuse), .3 (relay) and .4 (perform, the global
 * policy) of the engine's loopback set; carriers on .5, transfer targets on
 * .6, the transferee of a relayed attended transfer on .7. Each carrier has
 * a route prefix of its own.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { portBound, sipp, sippBackground, scenarioWith, type BackgroundSipp } from '../helpers/sipp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import type { Cdr } from '../../src/trunking/model.js';
import { hostOf, startRig, type MediaChoice, type MediaRig } from './media-rigs.js';

export const DID = { refuse: '+14155550101', relay: '+14155550102', perform: '+14155550103' } as const;
/**
 * Each carrier: whether it stands at the carrier address, the transfer
 * target's, or one of its own (.7: the only carrier there, so that what it
 * sends is known to be its own), and its route prefix.
 */
const CARRIERS = {
  'c-refuse': { at: 'carrier', prefix: '+1555100' },
  'c-relay': { at: 'carrier', prefix: '+1555200' },
  'c-transferee': { at: 'carrier', prefix: '+1555300' },
  'c-target': { at: 'target', prefix: '+1666300' },
  'c-stay': { at: 'carrier', prefix: '+1555400' },
  'c-busy': { at: 'target', prefix: '+1666400' },
  'c-replace': { at: 'carrier', prefix: '+1555500' },
  'c-attended-a': { at: 'carrier', prefix: '+1555600' },
  'c-attended-b': { at: 'target', prefix: '+1666600' },
  'c-relay-a': { at: 'own', prefix: '+1555700' },
  'c-relay-b': { at: 'target', prefix: '+1666700' },
} as const;
export type CarrierName = keyof typeof CARRIERS;

/** A SIPp regexp for a literal (a `+` or `.` matched as itself). */
export const re = (s: string): string => s.replace(/[+.]/g, (c) => `\\${c}`);

export interface SippRun {
  code: number | null;
  log: string;
  out: string;
}

export class TransferRig {
  readonly pbx: { refuse: string; relay: string; perform: string };
  readonly carrierHost: string;
  readonly targetHost: string;
  /** The host of carrier c-relay-a alone. */
  readonly ownHost: string;

  private constructor(
    readonly rig: MediaRig,
    private readonly gwPort: Record<CarrierName, number>,
    private readonly logs: string,
  ) {
    const h = (n: number): string => hostOf(rig.media, n);
    this.pbx = { refuse: h(2), relay: h(3), perform: h(4) };
    this.carrierHost = h(5);
    this.targetHost = h(6);
    this.ownHost = h(7);
  }

  /** The address of a carrier's gateway. */
  hostOf(name: CarrierName): string {
    const at = CARRIERS[name].at;
    return at === 'carrier' ? this.carrierHost : at === 'target' ? this.targetHost : this.ownHost;
  }

  static async start(media: MediaChoice, logs: string): Promise<TransferRig> {
    const h = (n: number): string => hostOf(media, n);
    const ipOf = (name: CarrierName): string => {
      const at = CARRIERS[name].at;
      return at === 'carrier' ? h(5) : at === 'target' ? h(6) : h(7);
    };
    const gwPort = {} as Record<CarrierName, number>;
    for (const name of Object.keys(CARRIERS) as CarrierName[]) gwPort[name] = await freePort(ipOf(name));
    const config = [
      // T1 500 ms (the RFC's): with every call side by side on a loaded machine, a peer's answer may
      // take longer than a shorter T1, and SIPp takes a retransmitted INVITE for an unexpected message.
      'sip: {timers: {t1: 500, t2: 4000, t4: 5000}}',
      'trunking:',
      '  gatewayTimeout: 3',
      '  ping: {interval: 0}',
      '  transfer:',
      '    policy: perform',
      '    overrides: [{trunk: pbx-refuse, policy: refuse}, {trunk: pbx-relay, policy: relay}]',
    ];
    // No RTP flows in these calls: the media timeout (600 s) must not end them.
    const rig = await startRig(media, await freePort(), config, 600, async (store) => {
      await store.accounts.add({ name: 'acme' });
      await store.trunks.add({ name: 'pbx-refuse', account: 'acme', ip: [`${h(2)}/32`] });
      await store.trunks.add({ name: 'pbx-relay', account: 'acme', ip: [`${h(3)}/32`] });
      await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${h(4)}/32`] });
      await store.dids.add(DID.refuse, 'pbx-refuse');
      await store.dids.add(DID.relay, 'pbx-relay');
      await store.dids.add(DID.perform, 'pbx');
      for (const name of Object.keys(CARRIERS) as CarrierName[]) {
        await store.carriers.add({ name, gateways: [`sip:${ipOf(name)}:${gwPort[name]}`] });
        await store.routes.add(CARRIERS[name].prefix, [name]);
      }
    });
    return new TransferRig(rig, gwPort, logs);
  }

  /** A carrier's gateway (or a transfer target) in the background, logging its messages; resolves once it listens. */
  async carrier(
    scenario: string,
    name: CarrierName,
    values: Record<string, string> = {},
  ): Promise<BackgroundSipp & { log: string }> {
    const log = join(this.logs, `${this.rig.media.net}-${name}.log`);
    const ip = this.hostOf(name);
    const p = this.gwPort[name];
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
  async pbxCall(scenario: string, ip: string, dialled: string, values: Record<string, string>): Promise<SippRun> {
    const log = join(this.logs, `${this.rig.media.net}-${scenario}-${dialled}.log`);
    const r = await sipp({
      scenario: scenarioWith(scenario, values),
      target: `127.0.0.1:${this.rig.port}`,
      ip,
      localPort: await freePort(ip),
      timeoutS: 30,
      extra: ['-s', dialled, '-trace_msg', '-message_file', log],
    });
    return { code: r.code, log, out: `${r.stdout.slice(-2000)}\n${r.stderr.slice(-1000)}` };
  }

  /** The dialog a PBX phone wrote to `file` once answered (xfer-pbx-replaced.xml: "Call-ID its-tag our-tag"). */
  async dialogWritten(
    file: string,
    phone: Promise<SippRun>,
  ): Promise<{ callId: string; fromTag: string; toTag: string }> {
    const words = await waitFor(
      () => {
        const w = read(file).trim().split(/\s+/);
        return w.length === 3 ? w : undefined;
      },
      { timeoutMs: 10_000, what: `the dialog of the phone (${this.rig.media.label})` },
    ).catch(async (err: unknown) => {
      const r = await phone;
      assert.fail(`${String(err)}: ${read(file)}\n${r.out}\n${read(r.log)}`);
    });
    return { callId: words[0]!, fromTag: words[1]!, toTag: words[2]! };
  }

  passes(r: SippRun, what: string): void {
    assert.equal(
      r.code,
      0,
      `${what} (${this.rig.media.label}) failed:\n${r.out}\nmessages:\n${read(r.log)}\nserver:\n${this.rig.server.output().slice(-4000)}`,
    );
  }

  async done(c: BackgroundSipp & { log: string }, what: string): Promise<void> {
    const r = await c.done;
    this.passes({ code: r.code, log: c.log, out: `${r.stdout.slice(-2000)}\n${r.stderr.slice(-1000)}` }, what);
  }
}

export function read(file: string): string {
  try {
    return readFileSync(file, 'utf8').slice(-6000);
  } catch {
    return '(no log)';
  }
}

export function extraOf(cdr: Cdr): Record<string, unknown> {
  return cdr.extra === null ? {} : (JSON.parse(cdr.extra) as Record<string, unknown>);
}
