/**
 * A carrier gateway whose URI no longer parses (a row edited by hand in the
 * store) is left out of outbound calls with one log line naming it, not one
 * per call, and not without a word: a running server, the trunking data
 * written by the CLI, the row edited with SQLite, calls from the trunk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { freePort } from '../helpers/ports.js';
import { startTrunkline } from '../helpers/server.js';
import { UdpPeer, cli } from '../security/helpers.js';
import { sleep } from '../helpers/wait.js';

const PBX = '127.0.0.62';
const BAD = 'sip:127.0.0.63:99999';

test(
  'a carrier gateway that does not parse: calls get 503 No gateway, one log line names it',
  { timeout: 60_000 },
  async () => {
    const port = await freePort();
    const server = await startTrunkline(`listen: [udp:127.0.0.1:${port}]\n`);
    const pbx = await new UdpPeer(PBX).open();
    try {
      for (const args of [
        ['account', 'add', 'acme'],
        ['trunk', 'add', 'pbx', '--account', 'acme', '--ip', PBX],
        ['did', 'add', '+15551230000', '--trunk', 'pbx'],
        ['carrier', 'add', 'main', '--gateway', 'sip:127.0.0.63:5080'],
        ['route', 'add', '+', '--carrier', 'main'],
      ]) {
        const r = await cli(server.configFile, args);
        assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      }
      const db = new Database(`${server.dir}/data/trunkline.db`);
      try {
        assert.equal(db.prepare('update carrier_gateways set uri = ? where carrier = ?').run(BAD, 'main').changes, 1);
      } finally {
        db.close();
      }
      const call = { method: 'INVITE', ruri: `sip:+4930123456@127.0.0.1:${port}`, from: `<sip:+15551230000@${PBX}>` };
      // The server reloads the trunking data within a second or so of the edit.
      let first = null;
      for (let i = 0; i < 20 && first?.status !== 503; i++) {
        await sleep(250);
        first = await pbx.ask(port, call, 2000);
      }
      assert.equal(first?.status, 503, `${first?.text}\n${server.output().slice(-3000)}`);
      assert.equal(first?.reason, 'No gateway');
      assert.equal((await pbx.ask(port, call, 2000))?.status, 503);
      assert.equal((await pbx.ask(port, call, 2000))?.status, 503);
      const lines = server
        .output()
        .split('\n')
        .filter((l) => l.includes('carrier gateway left out of calls'));
      assert.equal(lines.length, 1, server.output().slice(-3000));
      assert.match(lines[0]!, /"carrier":"main"/);
      assert.ok(lines[0]!.includes(`"gateway":"${BAD}"`), lines[0]);
    } finally {
      pbx.close();
      await server.stop();
    }
  },
);
