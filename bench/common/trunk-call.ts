/**
 * The trunk call of the B2BUA benchmarks (bench/b2bua, bench/cluster): the
 * dialog-correct SIPp scenarios, the numbers, and the provisioning:
 * account `bench`, trunk `pbx` (static IP 127.0.0.2, limits far above any
 * ladder), its DID, carrier `carrier` (the gateways given: the first is the
 * SIPp UAS), route `+` to it.
 *
 *   outbound: SIPp 127.0.0.2 -s OUTBOUND_NUMBER -key caller DID -> B2BUA -> carrier gateway (SIPp UAS)
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Store } from '../../src/store/index.js';

/** The checkout (this file is dist/bench/common/trunk-call.js; tsc copies no XML). */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** INVITE (caller number from `-key caller`), 200, ACK and BYE along the route set. */
export const UAC_TRUNK = join(ROOT, 'bench', 'b2bua', 'uac-trunk.xml');
/** 180, 200 with Record-Route echoed, the BYE answered, 4 s timewait. */
export const UAS_RR = join(ROOT, 'bench', 'proxy', 'uas-rr.xml');
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

/** The trunk's number: the caller ID of outbound calls, the dialled number of inbound ones. */
export const DID = '+912240001234';
/** What the trunk dials out. */
export const OUTBOUND_NUMBER = '+4930123456';
/** The trunk's static address (the outbound UAC binds it). */
export const TRUNK_IP = '127.0.0.2';
/** The carrier gateway's address (the outbound UAS binds it). */
export const GATEWAY_IP = '127.0.0.6';

/** SIPp arguments of an outbound trunk call (with UAC_TRUNK). */
export function outboundUacArgs(): string[] {
  return ['-s', OUTBOUND_NUMBER, '-key', 'caller', DID];
}

export async function provisionTrunkCalls(store: Store, o: { trunkDest: string; gateways: string[] }): Promise<void> {
  await store.accounts.add({ name: 'bench' });
  // Limits far above the ladder: the benchmark measures calls, not refusals.
  await store.trunks.add({ name: 'pbx', account: 'bench', ip: [`${TRUNK_IP}/32`], dest: o.trunkDest, cpm: 1_000_000 });
  await store.dids.add(DID, 'pbx');
  await store.carriers.add({ name: 'carrier', gateways: o.gateways });
  await store.routes.add('+', ['carrier']);
}
