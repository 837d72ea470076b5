import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { reservePortRange } from '../helpers/port-ranges.js';
import { startTrunkline } from '../helpers/server.js';
import { haveCommand, scenarioWith, sipp, sippBackground } from '../helpers/sipp.js';
import { openStore } from '../../src/store/index.js';

/**
 * A node out of media ports refuses the next call with 503 (RFC 3261
 * 21.5.4: this node is out of a resource, the caller may try another) and a
 * Warning naming the range, not the 500 a downstream 503 becomes (16.7).
 * The range here holds one call (4 ports): the first call is answered and
 * kept, the second is refused.
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const PBX = '127.0.0.2';
const GATEWAY = '127.0.0.6';
const DID = '+912240005555';
const DIALLED = '+4930123456';

/** The first even port of `r` from which four ports bind now (other processes on the machine may hold some). */
async function fourFreePorts(r: { min: number; max: number }): Promise<number> {
  const binds = (port: number) =>
    new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  for (let p = r.min + (r.min & 1); p + 3 <= r.max; p += 4) {
    const ok = await Promise.all([0, 1, 2, 3].map((i) => binds(p + i)));
    if (ok.every(Boolean)) return p;
  }
  throw new Error(`no four free ports in ${r.min}-${r.max}`);
}

test(
  'media ports exhausted: the next call gets 503 with a Warning naming the range',
  { skip, timeout: 40_000 },
  async () => {
    const first4 = await fourFreePorts(reservePortRange(200));
    const range = `${first4}-${first4 + 3}`;
    const [port, gwPort] = [await freePort(), await freePort()];
    const server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${port}]`,
        'trunking: {ping: {interval: 0}}',
        `media: {engine: builtin, address: 127.0.0.1, ports: ${range}, timeout: 30}`,
        '',
      ].join('\n'),
    );
    const store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
    const uas = sippBackground(
      scenarioWith('media-uas.xml', {
        mport: '30000',
        pts: '8 101',
        rtpmaps: 'a=rtpmap:8 PCMA/8000\na=rtpmap:101 telephone-event/8000',
      }),
      gwPort,
      {
        ip: GATEWAY,
        timeoutS: 20,
      },
    );
    try {
      await store.accounts.add({ name: 'acme' });
      await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:5060` });
      await store.dids.add(DID, 'pbx');
      await store.carriers.add({ name: 'carrier', gateways: [`sip:${GATEWAY}:${gwPort}`] });
      await store.routes.add('+', ['carrier']);
      // The directory reads the store again within its poll (1 s).
      await new Promise((res) => setTimeout(res, 1200));
      const call = async (expect: string, messages: string) =>
        sipp({
          scenario: scenarioWith('media-uac-expect.xml', { caller: DID, expect }),
          target: `127.0.0.1:${port}`,
          ip: PBX,
          localPort: await freePort(),
          timeoutS: 10,
          extra: ['-s', DIALLED, '-trace_msg', '-message_file', messages],
        });
      // On a loaded machine the reload may come later: a first call refused as unknown is tried again.
      let first = await call('200', join(server.dir, 'first.msg'));
      for (
        let i = 0;
        i < 10 && first.code !== 0 && /403|404/.test(readFileSync(join(server.dir, 'first.msg'), 'latin1'));
        i++
      ) {
        await new Promise((res) => setTimeout(res, 300));
        first = await call('200', join(server.dir, 'first.msg'));
      }
      assert.equal(
        first.code,
        0,
        `first call answered:\n${first.stdout.slice(-2000)}\n${server.output().slice(-2000)}`,
      );
      const second = await call('503', join(server.dir, 'second.msg'));
      const msgs = readFileSync(join(server.dir, 'second.msg'), 'latin1');
      assert.equal(second.code, 0, `second call refused with 503:\n${msgs.slice(-2500)}`);
      assert.match(msgs, new RegExp(`Warning: 399 \\S+ "no free media port in ${range}"`));
    } finally {
      await uas.stop();
      await store.close();
      await server.stop();
    }
  },
);
