/**
 * The CDR webhook of a running Trunkline (`cdr.webhook`), calls placed with
 * SIPp (a carrier at 127.0.0.5 calls a DID of trunk pbx, whose PBX at
 * 127.0.0.2 answers): a real HTTP receiver gets each call's CDR once; the
 * receiver stopped while calls end, then started again, gets them all, none
 * twice; Trunkline stopped with a CDR still in its outbox (the receiver
 * away) and started again sends it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.js';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, scenarioWith, sipp, sippBackground } from '../helpers/sipp.js';
import { sleep, waitFor } from '../helpers/wait.js';
import { Receiver } from './receiver.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const CARRIER = '127.0.0.5';
const PBX = '127.0.0.2';
const DID = '+912240001234';

test(
  "a running server POSTs each call's CDR once, through a receiver's stop and start and its own restart",
  { skip, timeout: 150_000 },
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'trunkline-cdrhook-'));
    const [port, pbxPort, receiverPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const receiver = new Receiver(receiverPort);
    await receiver.start();
    const yaml = [
      `listen: [udp:127.0.0.1:${port}]`,
      'trunking: {ping: {interval: 0}}',
      'media: {engine: none}',
      `database: ${JSON.stringify(`sqlite:${join(dir, 'trunkline.db')}`)}`,
      `cdr: {webhook: {url: "${receiver.url}", maxBackoff: 1, timeout: 5}}`,
      '',
    ].join('\n');
    let server: RunningTrunkline | null = await startTrunkline(yaml);
    const store = await openStore({ kind: 'sqlite', file: join(dir, 'trunkline.db') }, { env: {} });
    const uac = scenarioWith('trunk-uac-call.xml', {
      caller: '+15550001111',
      hidden: 'X-Call-Sid',
      hiddenAddr: 'xx-none',
      hold: '0',
    });
    const uas = scenarioWith('trunk-uas-expect.xml', {
      must: 'X-Trunk-Sid: pbx',
      hidden: 'sipp@',
      hiddenAddr: 'xx-none',
    });
    /** `n` calls carrier -> DID -> PBX, each answered and hung up by the caller. */
    const calls = async (n: number): Promise<void> => {
      const pbx = sippBackground(uas, pbxPort, { ip: PBX, calls: n, timeoutS: 30 });
      const r = await sipp({
        scenario: uac,
        target: `127.0.0.1:${port}`,
        ip: CARRIER,
        localPort: await freePort(),
        calls: n,
        rate: 5,
        timeoutS: 20,
        extra: ['-s', DID],
      });
      assert.equal(r.code, 0, `the calls passed: ${r.stdout.slice(-500)}`);
      assert.equal((await pbx.done).code, 0);
    };
    const stored = async (): Promise<string[]> => (await store.cdrs.list()).cdrs.map((c) => c.callSid).sort();
    const detail = (): string =>
      `received ${receiver.received.map((r) => r.key).join(' ')}\n${server?.output().slice(-3000) ?? ''}`;
    try {
      await store.accounts.add({ name: 'acme' });
      await store.trunks.add({ name: 'pbx', account: 'acme', ip: [PBX], dest: `sip:${PBX}:${pbxPort}` });
      await store.dids.add(DID, 'pbx');
      await store.carriers.add({ name: 'c', gateways: [`sip:${CARRIER}:5060`] });
      await sleep(2200); // the server reloads the store about once a second

      // The receiver up: each call's CDR arrives.
      await calls(2);
      await waitFor(() => receiver.received.length >= 2, { timeoutMs: 10_000, what: '2 CDRs at the receiver', detail });
      const first = receiver.received[0]!;
      assert.equal(first.key, first.body['callSid'], 'Idempotency-Key: the call SID');
      assert.deepEqual([first.body['trunk'], first.body['account'], first.body['status']], ['pbx', 'acme', 200]);
      assert.deepEqual(receiver.taken().sort(), await stored());

      // The receiver away while calls end: they wait, and arrive once it is back.
      await receiver.stop();
      await calls(2);
      await waitFor(async () => (await stored()).length === 4, { timeoutMs: 10_000, what: '4 CDRs in the store' });
      await sleep(1500);
      assert.equal(receiver.received.length, 2, 'nothing reached a receiver that is away');
      await receiver.start();
      await waitFor(() => receiver.taken().length >= 4, { timeoutMs: 15_000, what: 'the 2 CDRs held back', detail });

      // Trunkline stopped with a CDR in its outbox, started again: it sends it.
      await receiver.stop();
      await calls(1);
      await waitFor(async () => (await stored()).length === 5, { timeoutMs: 10_000, what: '5 CDRs in the store' });
      assert.equal(await server.stop(), 0);
      server = null;
      await receiver.start();
      await sleep(1500);
      assert.equal(receiver.taken().length, 4, 'the fifth waits for Trunkline');
      server = await startTrunkline(yaml);
      await waitFor(() => receiver.taken().length >= 5, {
        timeoutMs: 15_000,
        what: 'the fifth after the restart',
        detail,
      });
      await sleep(500);
      assert.deepEqual(receiver.taken().sort(), await stored(), 'every CDR of the store reached the receiver');
      const keys = receiver.received.map((r) => r.key);
      assert.equal(new Set(keys).size, keys.length, `none twice: ${keys.join(' ')}`);
    } finally {
      await store.close();
      await server?.stop();
      await receiver.stop();
      await rm(dir, { recursive: true, force: true });
    }
  },
);
