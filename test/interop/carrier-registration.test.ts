import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { CLI, startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { run, sipp, sippBackground, scenarioWith, haveCommand } from '../helpers/sipp.js';
import { waitFor } from '../helpers/wait.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * A carrier that wants Trunkline registered with it (`carrier add
 * --register`): the REGISTER goes to its gateway, its 401 is answered with
 * the carrier's credentials (SIPp verifies them), the binding is granted;
 * then the carrier's calls to that Contact, with the DID in To, reach the
 * DID's trunk. The API's event stream says when the registration is made.
 */

/** The carrier.registration events of the server's /api/v1/events stream, as they come (abort to end). */
async function registrationEvents(s: RunningTrunkline, abort: AbortSignal): Promise<Array<Record<string, unknown>>> {
  const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(s.output())?.[1];
  assert.ok(api !== undefined, 'the API address in the log');
  const made = await run(
    process.execPath,
    [CLI, 'token', 'add', 'ops', '--role', 'admin', '--config', s.configFile],
    15_000,
  );
  assert.equal(made.code, 0, made.stderr);
  const res = await fetch(`${api}/api/v1/events?types=carrier.registration`, {
    headers: { authorization: `Bearer ${made.stdout.trim()}` },
    signal: abort,
  });
  assert.equal(res.status, 200);
  const events: Array<Record<string, unknown>> = [];
  void (async () => {
    let buf = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buf += Buffer.from(chunk).toString('utf8');
        for (let end = buf.indexOf('\n\n'); end >= 0; end = buf.indexOf('\n\n')) {
          const data = /^data: (.+)$/m.exec(buf.slice(0, end))?.[1];
          buf = buf.slice(end + 2);
          if (data !== undefined) events.push(JSON.parse(data) as Record<string, unknown>);
        }
      }
    } catch {
      // aborted
    }
  })();
  return events;
}
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';
const CARRIER = '127.0.0.12';
const PBX = '127.0.0.2';
const DID = '+912240007777';

let server: RunningTrunkline;
let store: Store;
let port: number;
let gwPort: number;
let pbxPort: number;

before(async () => {
  if (skip !== false) return;
  [port, gwPort, pbxPort] = await Promise.all([freePort(), freePort(), freePort()]);
  server = await startTrunkline(
    [
      `listen: [udp:127.0.0.1:${port}]`,
      'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
      'trunking: {ping: {interval: 0}}',
      '',
    ].join('\n'),
  );
  store = await openStore({ kind: 'sqlite', file: `${server.dir}/data/trunkline.db` });
  await store.accounts.add({ name: 'acme' });
  await store.trunks.add({ name: 'pbx', account: 'acme', ip: [`${PBX}/32`], dest: `sip:${PBX}:${pbxPort}` });
  await store.dids.add(DID, 'pbx');
});

after(async () => {
  if (skip !== false) return;
  await store.close();
  assert.equal(await server.stop(), 0);
});

test(
  'Trunkline registers with a carrier (401 answered, verified by SIPp) and takes its calls to that Contact',
  { skip, timeout: 40_000 },
  async () => {
    const sse = new AbortController();
    const events = await registrationEvents(server, sse.signal);
    const registrar = sippBackground(
      scenarioWith('carrier-registrar.xml', { user: 'trunk-7', password: 'reg-secret' }),
      gwPort,
      { ip: CARRIER, timeoutS: 15 },
    );
    await store.carriers.add({
      name: 'regcarrier',
      gateways: [`sip:${CARRIER}:${gwPort}`],
      username: 'trunk-7',
      password: 'reg-secret',
      register: true,
    });
    const r = await registrar.done;
    assert.equal(
      r.code,
      0,
      `carrier registrar:\n${r.stdout.slice(-2500)}\n--- trunkline:\n${server.output().slice(-2000)}`,
    );
    for (let i = 0; i < 20 && !server.output().includes('registered with carrier'); i++)
      await new Promise((res) => setTimeout(res, 100));
    assert.match(server.output(), /"carrier":"regcarrier".*"expires":60.*registered with carrier/);
    await waitFor(() => events.some((e) => e['carrier'] === 'regcarrier' && e['registered'] === true), {
      timeoutMs: 3000,
      what: 'a carrier.registration event (registered)',
    });
    sse.abort();
    // The carrier calls our Contact (user trunk-7) with the DID in To.
    const pbx = sippBackground(
      scenarioWith('trunk-uas-expect.xml', {
        must: 'X-Trunk-Sid: pbx',
        hidden: 'X-Internal-Secret',
        hiddenAddr: '127\\.0\\.0\\.12',
      }),
      pbxPort,
      {
        ip: PBX,
        timeoutS: 20,
        extra: process.env['SIPP_DEBUG'] ? ['-trace_err', '-error_file', '/tmp/sipp-err-carrierreg.log'] : [],
      },
    );
    const scn = scenarioWith('trunk-uac-call.xml', {
      caller: '+15550001111',
      hidden: 'X-Call-Sid',
      hiddenAddr: '127\\.0\\.0\\.2',
      hold: '0',
    });
    writeFileSync(scn, readFileSync(scn, 'utf8').replace(/INVITE sip:\[service\]@/g, 'INVITE sip:trunk-7@'));
    const c = await sipp({
      scenario: scn,
      target: `127.0.0.1:${port}`,
      ip: CARRIER,
      localPort: await freePort(),
      timeoutS: 15,
      extra: ['-s', DID],
    });
    assert.equal(c.code, 0, `carrier UAC:\n${c.stdout.slice(-2500)}\n${c.stderr.slice(-1000)}`);
    const p = await pbx.done;
    assert.equal(p.code, 0, `PBX UAS:\n${p.stdout.slice(-2500)}\n${p.stderr.slice(-1000)}`);
  },
);
