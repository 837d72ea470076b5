import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { SipMessage } from '../../src/sip/message.js';
import { parseUri } from '../../src/sip/uri.js';
import { digestResponse, ha1, type ChallengeAlgorithm } from '../../src/auth/digest.js';
import { NonceService } from '../../src/auth/nonce.js';
import { openStore, type Store } from '../../src/store/index.js';
import { Registrar, type RegistrarOptions } from '../../src/registrar/registrar.js';
import { Location } from '../../src/registrar/location.js';
import type { Flow } from '../../src/transport/types.js';
import { msgText } from '../helpers/sip-messages.js';

const DOMAIN = 'example.test';
const FLOW: Flow = {
  proto: 'udp',
  localHost: '127.0.0.1',
  localPort: 5060,
  remoteHost: '192.0.2.10',
  remotePort: 5062,
  connectionId: null,
};

let dir: string;
let store: Store;
let clock = 1_800_000_000_000;
const now = (): number => clock;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'registrar-test-'));
  store = await openStore({ kind: 'sqlite', file: join(dir, 'trunkline.db') }, { env: {}, now });
  await store.domains.add(DOMAIN);
  await store.domains.add('other.test');
  await store.subscribers.add('alice', DOMAIN, 'secret');
  await store.subscribers.add('bob', DOMAIN, 'hunter2');
  await store.subscribers.add('carol', DOMAIN, 'pw');
  await store.aliases.add('+15550100', 'bob', DOMAIN);
});

after(async () => {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
});

function registrar(opts: Partial<RegistrarOptions> = {}): Registrar {
  return new Registrar({ store, nonces: new NonceService({ secret: Buffer.alloc(32, 7), now }), now, ...opts });
}

let callSeq = 0;
interface RegOpts {
  user?: string;
  to?: string;
  callId?: string;
  cseq?: number;
  contacts?: string[];
  expires?: number;
  extra?: string[];
  auth?: string;
}

function register(o: RegOpts): SipMessage {
  const user = o.user ?? 'alice';
  const lines = [
    `REGISTER sip:${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/UDP 192.0.2.10:5062;branch=z9hG4bK-${++callSeq}`,
    'Max-Forwards: 70',
    `From: <sip:${user}@${DOMAIN}>;tag=f${callSeq}`,
    `To: <sip:${o.to ?? user}@${DOMAIN}>`,
    `Call-ID: ${o.callId ?? `call-${user}`}`,
    `CSeq: ${o.cseq ?? 1} REGISTER`,
    ...(o.contacts ?? ['<sip:alice@10.0.0.5:5060>']).map((c) => `Contact: ${c}`),
    ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []),
    ...(o.extra ?? []),
    ...(o.auth !== undefined ? [`Authorization: ${o.auth}`] : []),
    'Content-Length: 0',
    '',
    '',
  ];
  return msgText(lines.join('\n'));
}

function challengeOf(res: SipMessage, alg: ChallengeAlgorithm): { nonce: string; stale: boolean } {
  const v = res.getAll('WWW-Authenticate').find((x) => x.includes(`algorithm=${alg}`));
  assert.ok(v, `no ${alg} challenge in ${res.status}`);
  return { nonce: /nonce="([^"]+)"/.exec(v)![1]!, stale: /stale=true/i.test(v) };
}

function authorization(
  user: string,
  password: string,
  nonce: string,
  alg: ChallengeAlgorithm = 'SHA-256',
  nc = 1,
): string {
  const uri = `sip:${DOMAIN}`;
  const ncText = nc.toString(16).padStart(8, '0');
  const response = digestResponse({
    algorithm: alg,
    ha1: ha1(alg, user, DOMAIN, password),
    nonce,
    method: 'REGISTER',
    uri,
    qop: 'auth',
    ncText,
    cnonce: 'c0ffee',
  });
  return `Digest username="${user}", realm="${DOMAIN}", nonce="${nonce}", uri="${uri}", response="${response}", algorithm=${alg}, qop=auth, nc=${ncText}, cnonce="c0ffee"`;
}

/** The challenge round, then the REGISTER with credentials: the second response. */
async function authed(
  r: Registrar,
  o: RegOpts,
  password = 'secret',
  alg: ChallengeAlgorithm = 'SHA-256',
): Promise<SipMessage> {
  const first = await r.process(register(o), FLOW);
  assert.equal(first.status, 401);
  const { nonce } = challengeOf(first, alg);
  return r.process(register({ ...o, auth: authorization(o.user ?? 'alice', password, nonce, alg) }), FLOW);
}

test('no credentials: 401 with SHA-256 then MD5 challenges for realm = the domain', async () => {
  const res = await registrar().process(register({}), FLOW);
  assert.equal(res.status, 401);
  const vals = res.getAll('WWW-Authenticate');
  assert.equal(vals.length, 2);
  assert.match(vals[0]!, /realm="example\.test".*algorithm=SHA-256/);
  assert.match(vals[1]!, /algorithm=MD5/);
});

test('wrong password and unknown user: the same 401, no binding written', async () => {
  const r = registrar({ algorithms: ['MD5'] });
  const wrong = await authed(r, { user: 'carol', callId: 'c-wrong' }, 'nope', 'MD5');
  const unknown = await authed(r, { user: 'mallory', callId: 'c-unknown' }, 'secret', 'MD5');
  assert.equal(wrong.status, 401);
  assert.equal(unknown.status, 401);
  const shape = (m: SipMessage): string[] =>
    m.getAll('WWW-Authenticate').map((v) => v.replace(/nonce="[^"]+"/, 'nonce=X'));
  assert.deepEqual(shape(wrong), shape(unknown));
  assert.equal(wrong.reason, unknown.reason);
  assert.deepEqual(await store.location.listForAor(`carol@${DOMAIN}`), []);
});

test('a good REGISTER: 200 with the binding, expires (default 3600), Date; received written for a NATed contact', async () => {
  const r = registrar();
  const res = await authed(r, { callId: 'a-1', cseq: 1 });
  assert.equal(res.status, 200);
  assert.deepEqual(res.getAll('Contact'), ['<sip:alice@10.0.0.5:5060>;expires=3600']);
  assert.ok(res.get('Date')?.endsWith('GMT'));
  const [b] = await store.location.listForAor(`alice@${DOMAIN}`);
  assert.equal(b?.contact, 'sip:alice@10.0.0.5:5060');
  assert.equal(b?.received, 'sip:192.0.2.10:5062;transport=udp');
  assert.equal(b?.remotePort, 5062);
  // A second contact named exactly like the source: no received; both listed.
  const res2 = await authed(r, { callId: 'a-1', cseq: 2, contacts: ['<sip:alice@192.0.2.10:5062>;expires=600'] });
  assert.equal(res2.status, 200);
  assert.equal(res2.getAll('Contact').length, 2);
  const all = await store.location.listForAor(`alice@${DOMAIN}`);
  assert.equal(all.find((x) => x.contact === 'sip:alice@192.0.2.10:5062')?.received, null);
  // Out of order (10.3 step 7): same Call-ID, lower CSeq.
  const stale = await authed(r, { callId: 'a-1', cseq: 1 });
  assert.equal(stale.status, 400);
  assert.equal(stale.reason, 'Out of Order');
  // Expires: 0 on one contact removes it.
  const rm = await authed(r, { callId: 'a-1', cseq: 3, contacts: ['<sip:alice@192.0.2.10:5062>'], expires: 0 });
  assert.deepEqual(rm.getAll('Contact'), ['<sip:alice@10.0.0.5:5060>;expires=3600']);
});

test('To must be the authenticated user: 403', async () => {
  const res = await authed(registrar(), { user: 'alice', to: 'bob', callId: 'x-1' });
  assert.equal(res.status, 403);
  assert.deepEqual(await store.location.listForAor(`bob@${DOMAIN}`), []);
});

test('expires bounds: below min 423 with Min-Expires, above max lowered, q/Path/instance kept and echoed', async () => {
  const r = registrar({ minExpires: 120, maxExpires: 1000 });
  const short = await authed(r, { user: 'carol', callId: 'c-1', cseq: 1, expires: 30 }, 'pw');
  assert.equal(short.status, 423);
  assert.equal(short.get('Min-Expires'), '120');
  const ok = await authed(
    r,
    {
      user: 'carol',
      callId: 'c-1',
      cseq: 2,
      contacts: [
        '<sip:carol@10.0.0.7:5070;transport=tcp>;q=0.5;+sip.instance="<urn:uuid:0001>";reg-id=1;expires=99999',
      ],
      extra: ['Path: <sip:edge.example.test;lr>', 'Supported: path, outbound'],
    },
    'pw',
  );
  assert.equal(ok.status, 200);
  assert.deepEqual(ok.getAll('Contact'), [
    '<sip:carol@10.0.0.7:5070;transport=tcp>;expires=1000;q=0.5;+sip.instance="<urn:uuid:0001>";reg-id=1',
  ]);
  assert.deepEqual(ok.getAll('Path'), ['<sip:edge.example.test;lr>']);
  const [b] = await store.location.listForAor(`carol@${DOMAIN}`);
  assert.equal(b?.q, 0.5);
  assert.equal(b?.instance, '<urn:uuid:0001>');
  assert.equal(b?.regId, 1);
  assert.deepEqual(b?.path, ['<sip:edge.example.test;lr>']);
  // Same flow, new contact URI: replaces the binding (RFC 5626).
  const moved = await authed(
    r,
    {
      user: 'carol',
      callId: 'c-1',
      cseq: 3,
      contacts: ['<sip:carol@10.0.0.8:5070>;+sip.instance="<urn:uuid:0001>";reg-id=1'],
    },
    'pw',
  );
  assert.equal(moved.getAll('Contact').length, 1);
  // Contact: * needs Expires: 0.
  const star = await authed(r, { user: 'carol', callId: 'c-1', cseq: 4, contacts: ['*'], expires: 3600 }, 'pw');
  assert.equal(star.status, 400);
  const starOk = await authed(r, { user: 'carol', callId: 'c-1', cseq: 5, contacts: ['*'], expires: 0 }, 'pw');
  assert.equal(starOk.status, 200);
  assert.deepEqual(starOk.getAll('Contact'), []);
  assert.deepEqual(await store.location.listForAor(`carol@${DOMAIN}`), []);
});

test('an expired nonce with the right password: 401 with stale=true', async () => {
  const r = registrar();
  const first = await r.process(register({ user: 'bob', callId: 'b-s' }), FLOW);
  const { nonce } = challengeOf(first, 'SHA-256');
  clock += 600_000;
  const res = await r.process(
    register({ user: 'bob', callId: 'b-s', auth: authorization('bob', 'hunter2', nonce) }),
    FLOW,
  );
  assert.equal(res.status, 401);
  assert.equal(challengeOf(res, 'SHA-256').stale, true);
});

test('location: unknown 404-kind, not registered, registered (hop = received), alias, foreign domain', async () => {
  const loc = new Location(store);
  const r = registrar();
  assert.deepEqual(await loc.lookup(parseUri(`sip:nobody@${DOMAIN}`)), { kind: 'unknown' });
  assert.equal((await loc.lookup(parseUri(`sip:bob@${DOMAIN}`))).kind, 'offline');
  assert.deepEqual(await loc.lookup(parseUri('sip:bob@elsewhere.test')), { kind: 'not-local' });
  const res = await authed(
    r,
    { user: 'bob', callId: 'b-1', cseq: 1, contacts: ['<sip:bob@10.0.0.9:5080>'] },
    'hunter2',
  );
  assert.equal(res.status, 200);
  const found = await loc.lookup(parseUri(`sip:bob@${DOMAIN}`));
  assert.equal(found.kind, 'found');
  if (found.kind !== 'found') return;
  assert.equal(found.targets.length, 1);
  assert.equal(found.targets[0]!.requestUri, 'sip:bob@10.0.0.9:5080');
  assert.equal(found.targets[0]!.hop.host, '192.0.2.10');
  assert.equal(found.targets[0]!.hop.port, 5062);
  const viaAlias = await loc.lookup(parseUri(`sip:+15550100@${DOMAIN}`));
  assert.equal(viaAlias.kind, 'found');
  // A REGISTER for a domain that is not local is not the registrar's.
  assert.equal(await r.isLocalDomain(parseUri('sip:elsewhere.test') as never), false);
  assert.equal(await r.isLocalDomain(parseUri(`sip:${DOMAIN}`) as never), true);
});
