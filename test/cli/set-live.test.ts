/**
 * A `set` reaches a running server: `trunkline trunk set pbx --dest URI`
 * through the CLI while Trunkline runs on the same store, and the next call
 * from the carrier to the trunk's DID goes to the new destination (SIPp on
 * both sides; no far side listens at the old one any more).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { freePort } from '../helpers/ports.js';
import { startTrunkline } from '../helpers/server.js';
import { haveCommand, scenarioWith, sipp, sippBackground } from '../helpers/sipp.js';
import { openStore } from '../../src/store/index.js';
import { ok, run } from './helpers.js';

const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const CARRIER = '127.0.0.5';
const PBX = '127.0.0.2';
const DID = '+912240001234';

test(
  'trunk set --dest: the running server sends the next call to the new destination',
  { skip, timeout: 90_000 },
  async () => {
    const [port, oldPort, newPort] = await Promise.all([freePort(), freePort(), freePort()]);
    const server = await startTrunkline(
      [`listen: [udp:127.0.0.1:${port}]`, 'trunking: {ping: {interval: 0}}', 'media: {engine: none}', ''].join('\n'),
    );
    const store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` }, { env: {} });
    try {
      await store.accounts.add({ name: 'acme' });
      await store.trunks.add({ name: 'pbx', account: 'acme', ip: [PBX], dest: `sip:${PBX}:${oldPort}` });
      await store.dids.add(DID, 'pbx');
      await store.carriers.add({ name: 'c', gateways: [`sip:${CARRIER}:5060`] });
      const call = scenarioWith('trunk-uac-call.xml', {
        caller: '+15550001111',
        hidden: 'X-Call-Sid',
        hiddenAddr: 'xx-none',
        hold: '0',
      });
      const uas = (p: number) =>
        sippBackground(
          scenarioWith('trunk-uas-expect.xml', { must: 'X-Trunk-Sid: pbx', hidden: 'sipp@', hiddenAddr: 'xx-none' }),
          p,
          { ip: PBX, calls: 1, timeoutS: 20 },
        );
      const placeCall = async () =>
        sipp({
          scenario: call,
          target: `127.0.0.1:${port}`,
          ip: CARRIER,
          localPort: await freePort(),
          calls: 1,
          timeoutS: 15,
          extra: ['-s', DID],
        });

      // The server reloads the store about once a second.
      await new Promise((r) => setTimeout(r, 2200));
      const before = uas(oldPort);
      assert.equal((await placeCall()).code, 0, 'the first call is answered at the old destination');
      assert.equal((await before.done).code, 0);

      const out = ok(
        await run(['trunk', 'set', 'pbx', '--dest', `sip:${PBX}:${newPort}`, '--json', '--config', server.configFile]),
        'trunk set --dest',
      );
      assert.equal((JSON.parse(out) as { dest: string }).dest, `sip:${PBX}:${newPort}`);
      await new Promise((r) => setTimeout(r, 2200));
      const after = uas(newPort);
      assert.equal((await placeCall()).code, 0, 'the next call is answered at the new destination');
      assert.equal((await after.done).code, 0);
      const cdrs = (await store.cdrs.list()).cdrs;
      assert.deepEqual(
        cdrs.map((c) => [c.trunk, c.status]),
        [
          ['pbx', 200],
          ['pbx', 200],
        ],
      );
    } finally {
      await store.close();
      await server.stop();
    }
  },
);
