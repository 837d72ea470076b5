import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { freePort } from '../helpers/ports.js';
import { startTrunkline, type RunningTrunkline } from '../helpers/server.js';
import { haveCommand, run as runCommand, type RunResult } from '../helpers/sipp.js';
import { run as runCli } from '../cli/helpers.js';
import { openStore, type Store } from '../../src/store/index.js';

/**
 * The registrar with a second, independent client: sipsak 0.9.8 (usrloc mode,
 * `-U`) registers with MD5 digest (the server offers MD5 alone through
 * TRUNKLINE_DIGEST_ALGORITHMS, as for SIPp). The binding is then seen both
 * through the store's location repository and through the real CLI
 * (`trunkline location list --json`); a wrong password gets 401 again and
 * leaves no binding.
 *
 * sipsak quirks the options below work around:
 *  - it resolves the host of `-s` even with an outbound proxy (`-p`), so the
 *    domain is `localhost` (127.0.0.1 in /etc/hosts), not a made-up name;
 *  - in usrloc mode without `-u` it answers the challenge as username
 *    "alice@" (its user-number appendix scheme), so `-u` names the user;
 *  - it sends from another socket than its Contact's port unless `-S`
 *    (symmetric), which would make the registrar record a NAT `received`;
 *  - its default Expires is 15 s, below the registrar's Min-Expires (60),
 *    and it does not retry on 423: `-x 600`.
 */
const skip = !haveCommand('sipsak') && 'sipsak not installed (apt-get install sipsak, or scripts/install-deps.sh)';
const DOMAIN = 'localhost';

let dir: string;
let dbFile: string;
let store: Store;
let port: number;
let server: RunningTrunkline | null = null;

before(async () => {
  if (skip !== false) return;
  process.env.TRUNKLINE_DIGEST_ALGORITHMS = 'MD5';
  dir = mkdtempSync(join(tmpdir(), 'registrar-sipsak-'));
  dbFile = join(dir, 'trunkline.db');
  store = await openStore({ kind: 'sqlite', file: dbFile }, { env: {} });
  await store.domains.add(DOMAIN);
  await store.subscribers.add('alice', DOMAIN, 'alice-pw');
  await store.subscribers.add('carol', DOMAIN, 'carol-pw');
  port = await freePort();
  server = await startTrunkline(
    [`listen: [udp:127.0.0.1:${port}]`, `database: ${JSON.stringify(`sqlite:${dbFile}`)}`].join('\n'),
  );
});

after(async () => {
  if (skip !== false) return;
  try {
    await server?.stop();
  } finally {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

/** `sipsak -U` registering USER@localhost with PASSWORD from 127.0.0.1:localPort (bounded by a kill timer). */
function sipsak(user: string, password: string, localPort: number): Promise<RunResult> {
  return runCommand(
    'sipsak',
    [
      '-U',
      '-s',
      `sip:${user}@${DOMAIN}`,
      '-p',
      `127.0.0.1:${port}`,
      '-u',
      user,
      '-a',
      password,
      '-x',
      '600',
      '-H',
      '127.0.0.1',
      '-l',
      String(localPort),
      '-S',
      '-i',
      '-vvv',
    ],
    10_000,
  );
}

interface CliBinding {
  aor: string;
  contact: string;
  received: string | null;
  expires: number;
  userAgent: string | null;
}

async function cliBindings(): Promise<CliBinding[]> {
  const r = await runCli(['location', 'list', '--json', '--config', server!.configFile]);
  assert.equal(r.code, 0, `location list: exit ${r.code}, stderr ${r.stderr}`);
  return JSON.parse(r.stdout) as CliBinding[];
}

function explain(r: RunResult): string {
  return `sipsak exit ${r.code}:\n${r.stdout}\n${r.stderr}\n--- trunkline ---\n${server?.output() ?? ''}`;
}

test('sipsak with a wrong password: 401 to the answered challenge, no binding (store and CLI)', { skip }, async () => {
  const r = await sipsak('carol', 'not-her-password', await freePort());
  // sipsak prints the last response and its error on stderr, the rest on stdout.
  const all = `${r.stdout}${r.stderr}`;
  assert.notEqual(r.code, 0, explain(r));
  // The challenge was answered (an Authorization was sent) and the answer was 401 again.
  assert.match(r.stdout, /Authorization: Digest username="carol"/, explain(r));
  assert.match(all, /request already contains \(Proxy-\) Authorization, but received 40/, explain(r));
  assert.equal((all.match(/^SIP\/2\.0 401 Unauthorized/gm) ?? []).length, 2, explain(r));
  assert.doesNotMatch(all, /^SIP\/2\.0 200/m, explain(r));
  assert.deepEqual(await store.location.listForAor(`carol@${DOMAIN}`), []);
  assert.deepEqual(
    (await cliBindings()).filter((b) => b.aor === `carol@${DOMAIN}`),
    [],
  );
});

test(
  'sipsak registers with MD5 digest: the binding is in the store and in `location list --json`',
  { skip },
  async () => {
    const localPort = await freePort();
    const r = await sipsak('alice', 'alice-pw', localPort);
    assert.equal(r.code, 0, explain(r));
    assert.match(r.stdout, /WWW-Authenticate: Digest realm="localhost"[^\r\n]*algorithm=MD5/, explain(r));
    assert.match(r.stdout, /^SIP\/2\.0 200 OK/m, explain(r));

    const bindings = await store.location.listForAor(`alice@${DOMAIN}`);
    assert.equal(bindings.length, 1, JSON.stringify(bindings));
    const [b] = bindings;
    assert.equal(b!.contact, `sip:alice@127.0.0.1:${localPort}`);
    assert.equal(b!.received, null, 'symmetric sipsak: the contact is the source address, no NAT');
    assert.equal(b!.proto, 'udp');
    assert.match(b!.userAgent ?? '', /^sipsak /);
    const left = (b!.expiresAt - Date.now()) / 1000;
    assert.ok(left > 590 && left <= 600, `expires in ${left} s, asked 600`);

    const all = await cliBindings();
    const listed = all.filter((x) => x.aor === `alice@${DOMAIN}`);
    assert.equal(listed.length, 1, JSON.stringify(listed));
    assert.equal(listed[0]!.contact, `sip:alice@127.0.0.1:${localPort}`);
    assert.equal(listed[0]!.received, null);
    assert.ok(listed[0]!.expires > 590 && listed[0]!.expires <= 600, `CLI expires ${listed[0]!.expires}`);
    assert.match(listed[0]!.userAgent ?? '', /^sipsak /);
    // Still nothing for carol.
    assert.deepEqual(
      all.filter((x) => x.aor === `carol@${DOMAIN}`),
      [],
    );
  },
);
