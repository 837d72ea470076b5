import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenarioWith, haveCommand } from '../helpers/sipp.js';
import { openStore } from '../../src/store/index.js';

/**
 * The calls-per-minute window moves in real time: a trunk limited to 3 calls
 * per minute takes 3, refuses the 4th with 503 and Retry-After, and takes
 * calls again once the first has left the minute (about 60 s: this test
 * waits for it).
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const CARRIER = '127.0.0.5';
const PBX = '127.0.0.2';

test(
  'CPM 3: the 4th call within the minute gets 503; once the window moves, calls pass again',
  { skip, timeout: 120_000 },
  async () => {
    const [port, pbxPort] = await Promise.all([freePort(), freePort()]);
    const server = await startTrunkline(
      [`listen: [udp:127.0.0.1:${port}]`, 'trunking: {ping: {interval: 0}}', 'media: {engine: none}', ''].join('\n'),
    );
    const store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
    try {
      await store.accounts.add({ name: 'acme' });
      await store.trunks.add({
        name: 'small',
        account: 'acme',
        ip: [`${PBX}/32`],
        dest: `sip:${PBX}:${pbxPort}`,
        cpm: 3,
      });
      await store.dids.add('+912240001234', 'small');
      await store.carriers.add({ name: 'c', gateways: [`sip:${CARRIER}:5060`] });
      await new Promise((r) => setTimeout(r, 2200));
      const call = scenarioWith('trunk-uac-call.xml', {
        caller: '+15550001111',
        hidden: 'X-Call-Sid',
        hiddenAddr: 'xx-none',
        hold: '0',
      });
      const refused = scenarioWith('trunk-uac-expect.xml', { caller: '+15550001111', expect: '503' });
      const uac = async (scn: string, calls: number) =>
        sipp({
          scenario: scn,
          target: `127.0.0.1:${port}`,
          ip: CARRIER,
          localPort: await freePort(),
          calls,
          rate: 10,
          timeoutS: 15,
          extra: ['-s', '+912240001234'],
        });
      const first = Date.now();
      const pbx = sippBackground(
        scenarioWith('trunk-uas-expect.xml', { must: 'X-Trunk-Sid: small', hidden: 'sipp@', hiddenAddr: 'xx-none' }),
        pbxPort,
        { ip: PBX, calls: 3, timeoutS: 20 },
      );
      assert.equal((await uac(call, 3)).code, 0);
      assert.equal((await pbx.done).code, 0);
      assert.equal((await uac(refused, 1)).code, 0, 'the 4th call within the minute is refused 503');
      // The first call leaves the window 60 s after it started.
      await new Promise((r) => setTimeout(r, Math.max(0, first + 61_000 - Date.now())));
      const again = sippBackground(
        scenarioWith('trunk-uas-expect.xml', { must: 'X-Trunk-Sid: small', hidden: 'sipp@', hiddenAddr: 'xx-none' }),
        pbxPort,
        { ip: PBX, calls: 1, timeoutS: 20 },
      );
      assert.equal((await uac(call, 1)).code, 0, 'a call passes once the window moved');
      assert.equal((await again.done).code, 0);
    } finally {
      await store.close();
      await server.stop();
    }
  },
);
