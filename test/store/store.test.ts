/**
 * The store, the same suite against SQLite (a temp file per test) and
 * PostgreSQL (a fresh schema per test, dropped at the end) at
 * DATABASE_URL_TEST or postgres://postgres@127.0.0.1:5432/test. When
 * PostgreSQL does not answer, its half is skipped with the reason.
 */
import { test, describe, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PG_URL } from '../helpers/postgres.js';
import { type Backend, postgresBackend, postgresSkip, sqliteBackend } from '../helpers/backends.js';
import { sql } from 'kysely';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { openStore, resolveDatabaseConfig, type Store, type StoreOptions } from '../../src/store/db.js';
import {
  ConflictError,
  NotFoundError,
  StaleRegistrationError,
  StoreError,
  ValidationError,
} from '../../src/store/errors.js';
import { migrations } from '../../src/store/migrations/index.js';
import { ha1Md5, ha1Sha256 } from '../../src/store/repos/subscribers.js';
import { registerBindings, removeBinding, upsertBinding, type BindingSet } from '../../src/registrar/bindings.js';

const execFileP = promisify(execFile);

/** The last built-in migration's name. */

/** Known vectors: computed independently (coreutils md5sum/sha256sum). */
const ALICE_MD5 = '543e1aec5d3614f03141652d6ada51b2'; // md5('alice:example.org:secret')
const ALICE_SHA256 = 'd1659fff7a501be15962adc35514ca6a5868905695f2dd1093741f931e000a1f';

/** A mutable test clock. */
function clock(start = 1_700_000_000_000): { now: () => number; set(t: number): void; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    set: (v) => {
      t = v;
    },
    advance: (ms) => {
      t += ms;
    },
  };
}

async function rejectsWith<E extends Error>(
  p: Promise<unknown>,
  type: abstract new (...args: never[]) => E,
  message: string | RegExp,
): Promise<E> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    if (typeof message === 'string') assert.equal(err.message, message);
    else assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected ${type.name} (${String(message)})`);
}

const flow = (over: Partial<BindingSet> = {}): BindingSet => ({
  contact: 'sip:alice@192.0.2.10:5060',
  expiresAt: 0,
  proto: 'udp',
  localHost: '127.0.0.1',
  localPort: 5060,
  remoteHost: '192.0.2.10',
  remotePort: 5060,
  ...over,
});

function storeSuite(backend: Backend): void {
  after(() => backend.cleanup());

  /** Opens a store on cfg (a fresh database when absent), closed after the test. */
  async function open(t: TestContext, cfg?: DatabaseConfig, opts: StoreOptions = {}): Promise<Store> {
    const s = await openStore(cfg ?? (await backend.fresh()), { env: {}, ...opts });
    t.after(() => s.close());
    return s;
  }

  /** A store with example.org and alice@example.org (password "secret"). */
  async function withAlice(t: TestContext, opts: StoreOptions = {}): Promise<Store> {
    const s = await open(t, undefined, opts);
    await s.domains.add('example.org');
    await s.subscribers.add('alice', 'example.org', 'secret');
    return s;
  }

  describe('open and migrate', () => {
    test('creates and migrates a new database; opening it again changes nothing', async (t) => {
      const cfg = await backend.fresh();
      const a = await open(t, cfg);
      assert.equal(a.dialect, backend.name);
      // Every migration of this build, in order; the last names the schema.
      const all = Object.keys(migrations(backend.name)).sort();
      assert.equal(a.schemaVersion, all.at(-1));
      await a.domains.add('example.org');
      // A second store on the same database while the first is open, then after it closed.
      const b = await open(t, cfg);
      assert.equal(b.schemaVersion, all.at(-1));
      await a.close();
      const c = await open(t, cfg);
      assert.deepEqual(
        (await c.domains.list()).map((d) => d.domain),
        ['example.org'],
      );
      const ran = await sql<{ name: string }>`select name from store_migration order by name`.execute(c.db);
      assert.deepEqual(
        ran.rows.map((r) => r.name),
        all,
      );
      if (cfg.kind === 'sqlite') {
        await stat(cfg.file); // created, directory included
        const mode = await sql<{ journal_mode: string }>`pragma journal_mode`.execute(c.db);
        assert.equal(mode.rows[0]?.journal_mode, 'wal');
      }
    });

    test('a failing migration stops the start, names itself, and leaves the database as it was', async (t) => {
      const cfg = await backend.fresh();
      const broken = (d: 'sqlite' | 'postgres') => ({
        ...migrations(d),
        '9999_broken': {
          async up(db: import('kysely').Kysely<any>) {
            await db.schema.createTable('half_done').addColumn('x', 'integer').execute();
            throw new Error('boom');
          },
        },
      });
      const err = await rejectsWith(
        openStore(cfg, { env: {}, migrations: broken }),
        StoreError,
        /migration 9999_broken failed: boom/,
      );
      assert.ok(!err.message.includes('\n'));
      // Nothing of the run stayed: a normal start migrates from scratch and finds no half_done.
      const s = await open(t, cfg);
      await s.domains.add('example.org');
      await assert.rejects(sql`select count(*) from half_done`.execute(s.db));
      await s.close();
      // On a migrated database with data, the same: refused, data intact.
      await rejectsWith(openStore(cfg, { env: {}, migrations: broken }), StoreError, /9999_broken/);
      const again = await open(t, cfg);
      assert.equal(await again.domains.exists('example.org'), true);
      await assert.rejects(sql`select count(*) from half_done`.execute(again.db));
    });

    test('a database migrated by a newer version is refused, naming the migration', async (t) => {
      const cfg = await backend.fresh();
      const newer = (d: 'sqlite' | 'postgres') => ({ ...migrations(d), '9999_future': { async up() {} } });
      const s = await openStore(cfg, { env: {}, migrations: newer });
      assert.equal(s.schemaVersion, '9999_future');
      await s.close();
      await rejectsWith(open(t, cfg), StoreError, /9999_future.*newer/);
    });

    test('ping answers while open; a closed store refuses it; close twice is fine', async (t) => {
      const s = await open(t);
      await s.ping();
      await s.close();
      await rejectsWith(s.ping(), StoreError, /closed/);
      await s.close();
    });
  });

  describe('domains', () => {
    test('add, list, exists, show; names are lowercased', async (t) => {
      const s = await open(t);
      const d = await s.domains.add('Example.ORG');
      assert.equal(d.domain, 'example.org');
      assert.equal(typeof d.createdAt, 'number');
      await s.domains.add('b.example.net.');
      await s.domains.add('192.0.2.1');
      await s.domains.add('::1');
      assert.deepEqual(
        (await s.domains.list()).map((x) => x.domain),
        ['192.0.2.1', '[::1]', 'b.example.net', 'example.org'],
      );
      assert.equal(await s.domains.exists('EXAMPLE.org'), true);
      assert.equal(await s.domains.exists('example.com'), false);
      assert.equal(await s.domains.exists('not a domain'), false);
      assert.equal((await s.domains.show('example.org')).domain, 'example.org');
      await rejectsWith(s.domains.show('example.com'), NotFoundError, 'unknown domain example.com');
    });

    test('errors: exists, malformed, unknown', async (t) => {
      const s = await open(t);
      await s.domains.add('example.org');
      await rejectsWith(s.domains.add('EXAMPLE.org'), ConflictError, 'domain example.org exists');
      for (const bad of ['', 'exa mple.org', 'a@b', '-x.org', '1.2.3']) {
        const e = await rejectsWith(s.domains.add(bad), ValidationError, /^domain: expected a host name or IP address/);
        assert.equal(e.field, 'domain');
        assert.equal(e.status, 400);
      }
      await rejectsWith(s.domains.rm('example.com'), NotFoundError, 'unknown domain example.com');
      await s.domains.rm('example.org');
      assert.deepEqual(await s.domains.list(), []);
    });

    test('rm of a domain with subscribers: conflict unless cascade, which removes them all', async (t) => {
      const c = clock();
      const s = await withAlice(t, { now: c.now });
      await s.subscribers.add('bob', 'example.org', 'pw');
      await s.domains.add('other.org');
      await s.subscribers.add('carol', 'other.org', 'pw');
      await s.aliases.add('+912240001234', 'alice', 'example.org');
      await s.aliases.add('+4930*', 'carol', 'other.org');
      await upsertBinding(s.location, {
        aor: 'alice@example.org',
        callId: 'c1',
        cseq: 1,
        ...flow({ expiresAt: c.now() + 60_000 }),
      });
      await upsertBinding(s.location, {
        aor: 'carol@other.org',
        callId: 'c2',
        cseq: 1,
        ...flow({ expiresAt: c.now() + 60_000 }),
      });

      const e = await rejectsWith(s.domains.rm('example.org'), ConflictError, /^domain example.org has 2 subscribers/);
      assert.equal(e.status, 409);
      assert.equal((await s.subscribers.list({ domain: 'example.org' })).length, 2);

      assert.deepEqual(await s.domains.rm('example.org', { cascade: true }), {
        domain: 'example.org',
        subscribers: 2,
        aliases: 1,
        bindings: 1,
      });
      assert.equal(await s.domains.exists('example.org'), false);
      assert.deepEqual(
        (await s.subscribers.list()).map((x) => x.username),
        ['carol'],
      );
      assert.deepEqual(
        (await s.aliases.list()).map((x) => x.alias),
        ['+4930*'],
      );
      assert.deepEqual(
        (await s.location.listLive()).map((b) => b.aor),
        ['carol@other.org'],
      );
      // An empty domain goes without cascade.
      await s.domains.add('empty.org');
      assert.deepEqual(await s.domains.rm('empty.org'), {
        domain: 'empty.org',
        subscribers: 0,
        aliases: 0,
        bindings: 0,
      });
    });
  });

  describe('subscribers', () => {
    test('add keeps the MD5 and SHA-256 HA1s, never the password', async (t) => {
      const s = await withAlice(t);
      const auth = await s.subscribers.get('alice', 'example.org');
      assert.ok(auth);
      assert.equal(auth.ha1Md5, ALICE_MD5);
      assert.equal(auth.ha1Sha256, ALICE_SHA256);
      assert.equal(auth.ha1Md5, createHash('md5').update('alice:example.org:secret').digest('hex'));
      // Realm is the domain as stored (lowercase), whatever case was typed.
      await s.subscribers.add('Bob', 'EXAMPLE.ORG', 'pässword');
      const bob = await s.subscribers.get('Bob', 'example.org');
      assert.equal(bob?.ha1Md5, ha1Md5('Bob', 'example.org', 'pässword'));
      assert.equal(await s.subscribers.get('bob', 'example.org'), undefined, 'user names are case-sensitive');
      assert.equal(await s.subscribers.ha1('alice', 'example.org', 'MD5'), ALICE_MD5);
      assert.equal(await s.subscribers.ha1('alice', 'Example.org', 'SHA-256'), ALICE_SHA256);
      assert.equal(await s.subscribers.ha1('nobody', 'example.org', 'MD5'), null);
      const rows = await s.db.selectFrom('subscribers').selectAll().execute();
      for (const row of rows) {
        const text = JSON.stringify(row);
        assert.ok(!text.includes('secret') && !text.includes('pässword'), text);
      }
    });

    test('add errors: unknown domain, exists, bad user name, empty password', async (t) => {
      const s = await withAlice(t);
      await rejectsWith(s.subscribers.add('alice', 'nowhere.org', 'x'), NotFoundError, 'unknown domain nowhere.org');
      await rejectsWith(
        s.subscribers.add('alice', 'example.org', 'other'),
        ConflictError,
        'subscriber alice@example.org exists',
      );
      for (const bad of ['', 'al ice', 'a@b', 'a:b', 'x'.repeat(65)]) {
        const e = await rejectsWith(s.subscribers.add(bad, 'example.org', 'x'), ValidationError, /^username: /);
        assert.equal(e.field, 'username');
      }
      const e = await rejectsWith(
        s.subscribers.add('bob', 'example.org', ''),
        ValidationError,
        'password: must not be empty',
      );
      assert.equal(e.field, 'password');
      // The failed adds left nothing behind.
      assert.deepEqual(
        (await s.subscribers.list()).map((x) => x.username),
        ['alice'],
      );
    });

    test('passwd replaces both HA1s; unknown subscriber is an error', async (t) => {
      const c = clock();
      const s = await withAlice(t, { now: c.now });
      c.advance(5000);
      const after = await s.subscribers.passwd('alice', 'example.org', 'n3w');
      assert.equal(after.updatedAt, c.now());
      assert.equal(after.createdAt, c.now() - 5000);
      const auth = await s.subscribers.get('alice', 'example.org');
      assert.equal(auth?.ha1Md5, ha1Md5('alice', 'example.org', 'n3w'));
      assert.equal(auth?.ha1Sha256, ha1Sha256('alice', 'example.org', 'n3w'));
      await rejectsWith(
        s.subscribers.passwd('bob', 'example.org', 'x'),
        NotFoundError,
        'unknown subscriber bob@example.org',
      );
    });

    test('list, show, get, rm (with the aliases and bindings)', async (t) => {
      const c = clock();
      const s = await withAlice(t, { now: c.now });
      await s.domains.add('a.org');
      await s.subscribers.add('zed', 'a.org', 'pw');
      await s.subscribers.add('bob', 'example.org', 'pw');
      const all = await s.subscribers.list();
      assert.deepEqual(
        all.map((x) => `${x.username}@${x.domain}`),
        ['zed@a.org', 'alice@example.org', 'bob@example.org'],
      );
      assert.ok(
        all.every((x) => !('ha1Md5' in x)),
        'list never returns HA1s',
      );
      assert.deepEqual(
        (await s.subscribers.list({ domain: 'a.org' })).map((x) => x.username),
        ['zed'],
      );
      await rejectsWith(s.subscribers.list({ domain: 'b.org' }), NotFoundError, 'unknown domain b.org');
      assert.equal((await s.subscribers.show('bob', 'example.org')).username, 'bob');
      assert.equal(await s.subscribers.get('nobody', 'example.org'), undefined);
      assert.equal(await s.subscribers.get('bad user', 'example.org'), undefined);

      await s.aliases.add('+912240001234', 'alice', 'example.org');
      await s.aliases.add('sales', 'alice', 'example.org');
      await s.aliases.add('+4930*', 'bob', 'example.org');
      await upsertBinding(s.location, {
        aor: 'sip:alice@example.org',
        callId: 'c',
        cseq: 1,
        ...flow({ expiresAt: c.now() + 1000 }),
      });
      assert.deepEqual(await s.subscribers.rm('alice', 'example.org'), {
        username: 'alice',
        domain: 'example.org',
        aliases: 2,
        bindings: 1,
      });
      assert.deepEqual(
        (await s.aliases.list()).map((a) => a.alias),
        ['+4930*'],
      );
      assert.deepEqual(await s.location.listForAor('alice@example.org'), []);
      await rejectsWith(
        s.subscribers.rm('alice', 'example.org'),
        NotFoundError,
        'unknown subscriber alice@example.org',
      );
      await rejectsWith(
        s.subscribers.show('alice', 'example.org'),
        NotFoundError,
        'unknown subscriber alice@example.org',
      );
    });
  });

  describe('aliases', () => {
    test('add, list, rm; many aliases to one user', async (t) => {
      const s = await withAlice(t);
      await s.subscribers.add('bob', 'example.org', 'pw');
      const a = await s.aliases.add('+912240001234', 'alice', 'example.org');
      assert.equal(a.username, 'alice');
      assert.equal(a.domain, 'example.org');
      await s.aliases.add('+912240001235', 'alice', 'example.org');
      await s.aliases.add('alice.smith', 'alice', 'example.org');
      await s.aliases.add('+9122400012*', 'bob', 'example.org');
      assert.deepEqual(
        (await s.aliases.list()).map((x) => `${x.alias}>${x.username}`),
        // Code point order on both dialects ('*' sorts before digits).
        ['+9122400012*>bob', '+912240001234>alice', '+912240001235>alice', 'alice.smith>alice'],
      );
      assert.deepEqual(
        (await s.aliases.list({ username: 'bob' })).map((x) => x.alias),
        ['+9122400012*'],
      );
      assert.equal((await s.aliases.list({ domain: 'example.org' })).length, 4);
      const removed = await s.aliases.rm('+912240001235');
      assert.equal(removed.username, 'alice');
      assert.equal((await s.aliases.list()).length, 3);
    });

    test('errors: exists, unknown subscriber, malformed, unknown alias', async (t) => {
      const s = await withAlice(t);
      await s.subscribers.add('bob', 'example.org', 'pw');
      await s.aliases.add('+912240001234', 'alice', 'example.org');
      await rejectsWith(
        s.aliases.add('+912240001234', 'bob', 'example.org'),
        ConflictError,
        'alias +912240001234 exists',
      );
      await rejectsWith(
        s.aliases.add('+15551234', 'carol', 'example.org'),
        NotFoundError,
        'unknown subscriber carol@example.org',
      );
      await rejectsWith(
        s.aliases.add('+15551234', 'alice', 'nowhere.org'),
        NotFoundError,
        'unknown subscriber alice@nowhere.org',
      );
      for (const bad of ['', '*', '+91-22', '+91a', 'a b', 'a*b', '+1234567890123456', 'x@y']) {
        const e = await rejectsWith(
          s.aliases.add(bad, 'alice', 'example.org'),
          ValidationError,
          /^alias: expected an E\.164 number/,
        );
        assert.equal(e.field, 'alias');
      }
      await rejectsWith(s.aliases.rm('+15550000'), NotFoundError, 'unknown alias +15550000');
      assert.equal((await s.aliases.list()).length, 1);
    });

    test('resolve: the exact entry first, then the longest matching prefix', async (t) => {
      const s = await withAlice(t);
      for (const u of ['bob', 'carol', 'dave']) await s.subscribers.add(u, 'example.org', 'pw');
      await s.aliases.add('+91*', 'dave', 'example.org');
      await s.aliases.add('+912240*', 'carol', 'example.org');
      await s.aliases.add('+9122400012*', 'bob', 'example.org');
      await s.aliases.add('+912240001234', 'alice', 'example.org');
      await s.aliases.add('sales', 'alice', 'example.org');

      const who = async (n: string) => {
        const m = await s.aliases.resolve(n);
        return m === undefined ? undefined : `${m.username}:${m.alias}:${m.exact ? 'exact' : 'prefix'}`;
      };
      assert.equal(await who('+912240001234'), 'alice:+912240001234:exact');
      assert.equal(await who('+912240001299'), 'bob:+9122400012*:prefix');
      assert.equal(await who('+9122400012'), 'bob:+9122400012*:prefix', 'a prefix matches its own digits');
      assert.equal(await who('+912240009999'), 'carol:+912240*:prefix');
      assert.equal(await who('+919999'), 'dave:+91*:prefix');
      assert.equal(await who('sales'), 'alice:sales:exact');
      assert.equal(await who('+4930123'), undefined);
      assert.equal(await who('912240001234'), undefined, 'no implicit +');
      assert.equal(await who(''), undefined);
      assert.equal(await who('+9'.repeat(100)), undefined);
      const m = await s.aliases.resolve('+912240001234');
      assert.equal(m?.domain, 'example.org');
      assert.equal(typeof m?.subscriberId, 'number');

      await s.aliases.rm('+9122400012*');
      assert.equal(await who('+912240001299'), 'carol:+912240*:prefix');
    });
  });

  describe('location', () => {
    const AOR = 'alice@example.org';

    test('upsert adds, refreshes in place, and lists by q; expired bindings disappear', async (t) => {
      const c = clock();
      const s = await withAlice(t, { now: c.now });
      const t0 = c.now();
      const first = await upsertBinding(s.location, {
        aor: `sip:${AOR}`,
        callId: 'call-1',
        cseq: 1,
        ...flow({
          expiresAt: t0 + 60_000,
          q: 0.5,
          received: 'sip:203.0.113.5:40000',
          path: ['<sip:edge.example.org;lr;ob>'],
          connectionId: 'tcp-17',
          proto: 'tcp',
          userAgent: 'Phone/1.0',
        }),
      });
      assert.equal(first.previous, undefined);
      const b = first.binding;
      assert.equal(b.aor, AOR);
      assert.equal(b.q, 0.5);
      assert.deepEqual(b.path, ['<sip:edge.example.org;lr;ob>']);
      assert.equal(b.received, 'sip:203.0.113.5:40000');
      assert.equal(b.connectionId, 'tcp-17');
      assert.equal(b.expiresAt, t0 + 60_000);
      assert.equal(b.userAgent, 'Phone/1.0');

      await upsertBinding(s.location, {
        aor: AOR,
        callId: 'call-2',
        cseq: 1,
        ...flow({ contact: 'sip:alice@192.0.2.20', expiresAt: t0 + 30_000, q: 0.9 }),
      });
      await upsertBinding(s.location, {
        aor: AOR,
        callId: 'call-3',
        cseq: 1,
        ...flow({ contact: 'sip:alice@192.0.2.30', expiresAt: t0 + 120_000 }),
      });
      assert.deepEqual(
        (await s.location.listForAor(AOR)).map((x) => x.contact),
        ['sip:alice@192.0.2.30', 'sip:alice@192.0.2.20', 'sip:alice@192.0.2.10:5060'],
      );

      // Refresh: same contact, next CSeq, same row.
      c.advance(10_000);
      const again = await upsertBinding(s.location, {
        aor: AOR,
        callId: 'call-1',
        cseq: 2,
        ...flow({ expiresAt: c.now() + 60_000 }),
      });
      assert.equal(again.binding.id, b.id);
      assert.equal(again.binding.cseq, 2);
      assert.equal(again.binding.q, 1);
      assert.deepEqual(again.binding.path, []);
      assert.equal(again.previous?.cseq, 1);
      // The row as stored is the refreshed binding, every column of it (a refresh writes only what changed).
      const listed = await s.location.listForAor(AOR);
      assert.equal(listed.length, 3);
      assert.deepEqual(
        listed.find((x) => x.id === b.id),
        again.binding,
      );

      // Time passes: the 30 s binding expired.
      c.advance(25_000);
      assert.deepEqual((await s.location.listForAor(AOR)).map((x) => x.contact).sort(), [
        'sip:alice@192.0.2.10:5060',
        'sip:alice@192.0.2.30',
      ]);
      assert.equal((await s.location.listLive()).length, 2);
      assert.equal(await s.location.purgeExpired(), 1);
      assert.equal(await s.location.purgeExpired(), 0);
      c.advance(1_000_000);
      assert.deepEqual(await s.location.listLive(), []);
      assert.equal(await s.location.purgeExpired(), 2);
    });

    test('RFC 5626 flows: the same instance and reg-id replace the binding, another reg-id adds one', async (t) => {
      const c = clock();
      const s = await withAlice(t, { now: c.now });
      const exp = c.now() + 3600_000;
      const inst = '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>';
      const r1 = await upsertBinding(s.location, {
        aor: AOR,
        callId: 'a',
        cseq: 1,
        ...flow({ contact: 'sip:alice@192.0.2.10:5060;ob', instance: inst, regId: 1, expiresAt: exp }),
      });
      await upsertBinding(s.location, {
        aor: AOR,
        callId: 'b',
        cseq: 1,
        ...flow({ contact: 'sip:alice@198.51.100.7:5060;ob', instance: inst, regId: 2, expiresAt: exp }),
      });
      // The phone moved: flow 1 comes back from a new address with a new Contact.
      const moved = await upsertBinding(s.location, {
        aor: AOR,
        callId: 'a2',
        cseq: 1,
        ...flow({
          contact: 'sip:alice@203.0.113.9:6000;ob',
          instance: inst,
          regId: 1,
          expiresAt: exp,
          remoteHost: '203.0.113.9',
        }),
      });
      assert.equal(moved.previous?.contact, 'sip:alice@192.0.2.10:5060;ob');
      assert.equal(moved.binding.id, r1.binding.id, 'the flow keeps its row');
      const live = await s.location.listForAor(AOR);
      assert.deepEqual(live.map((x) => `${x.regId}:${x.contact}`).sort(), [
        '1:sip:alice@203.0.113.9:6000;ob',
        '2:sip:alice@198.51.100.7:5060;ob',
      ]);
      // Instance without reg-id (RFC 5627): keyed by the instance.
      const inst2 = '<urn:uuid:11111111-0000-1000-8000-000A95A0E128>';
      await upsertBinding(s.location, {
        aor: AOR,
        callId: 'x',
        cseq: 1,
        ...flow({ contact: 'sip:a@192.0.2.50', instance: inst2, expiresAt: exp }),
      });
      await upsertBinding(s.location, {
        aor: AOR,
        callId: 'y',
        cseq: 1,
        ...flow({ contact: 'sip:a@192.0.2.51', instance: inst2, expiresAt: exp }),
      });
      assert.equal((await s.location.listForAor(AOR)).length, 3);
      // Remove by flow key.
      assert.equal(await removeBinding(s.location, AOR, { contact: 'sip:none', instance: inst, regId: 2 }), 1);
      assert.equal(await removeBinding(s.location, AOR, { contact: 'sip:a@192.0.2.51' }), 1);
      assert.equal(await removeBinding(s.location, AOR, { contact: 'sip:a@192.0.2.51' }), 0);
      assert.deepEqual(
        (await s.location.listForAor(AOR)).map((x) => x.regId),
        [1],
      );
    });

    test('register is all or nothing; a stale CSeq for the same Call-ID aborts it (RFC 3261 10.3)', async (t) => {
      const c = clock();
      const s = await withAlice(t, { now: c.now });
      const exp = c.now() + 60_000;
      await registerBindings(s.location, {
        aor: AOR,
        callId: 'reg',
        cseq: 5,
        set: [
          flow({ contact: 'sip:alice@192.0.2.1', expiresAt: exp }),
          flow({ contact: 'sip:alice@192.0.2.2', expiresAt: exp }),
        ],
      });
      await upsertBinding(s.location, {
        aor: AOR,
        callId: 'other',
        cseq: 1,
        ...flow({ contact: 'sip:alice@192.0.2.3', expiresAt: exp }),
      });
      const before = await s.location.listForAor(AOR);
      assert.equal(before.length, 3);

      // A new contact plus a refresh with a CSeq not above 5: nothing written.
      await rejectsWith(
        registerBindings(s.location, {
          aor: AOR,
          callId: 'reg',
          cseq: 5,
          set: [
            flow({ contact: 'sip:alice@192.0.2.9', expiresAt: exp }),
            flow({ contact: 'sip:alice@192.0.2.1', expiresAt: exp + 1 }),
          ],
        }),
        StaleRegistrationError,
        /binding sip:alice@192.0.2.1 of alice@example.org: CSeq 5 is not above 5/,
      );
      await rejectsWith(
        registerBindings(s.location, { aor: AOR, callId: 'reg', cseq: 4, removeAll: true }),
        ConflictError,
        /CSeq 4/,
      );
      assert.deepEqual(await s.location.listForAor(AOR), before);

      // Another Call-ID may change it whatever its CSeq; Contact: * removes all.
      const r = await registerBindings(s.location, {
        aor: AOR,
        callId: 'third',
        cseq: 1,
        remove: [{ contact: 'sip:alice@192.0.2.2' }],
        set: [flow({ contact: 'sip:alice@192.0.2.1', expiresAt: exp + 5 })],
      });
      assert.deepEqual(r.bindings.map((x) => x.contact).sort(), ['sip:alice@192.0.2.1', 'sip:alice@192.0.2.3']);
      assert.deepEqual(r.previous.map((x) => x.contact).sort(), ['sip:alice@192.0.2.1', 'sip:alice@192.0.2.2']);
      const all = await registerBindings(s.location, { aor: AOR, callId: 'third', cseq: 2, removeAll: true });
      assert.deepEqual(all.bindings, []);
      assert.equal(all.previous.length, 2);
    });

    test('validation, remove all, and AOR forms', async (t) => {
      const c = clock();
      const s = await withAlice(t, { now: c.now });
      let e = await rejectsWith(
        upsertBinding(s.location, { aor: AOR, callId: 'c', cseq: 1, ...flow({ expiresAt: c.now() }) }),
        ValidationError,
        'set[0].expiresAt: must be in the future',
      );
      assert.equal(e.field, 'set[0].expiresAt');
      e = await rejectsWith(
        upsertBinding(s.location, { aor: 'alice', callId: 'c', cseq: 1, ...flow({ expiresAt: c.now() + 1 }) }),
        ValidationError,
        /^aor: /,
      );
      assert.equal(e.field, 'aor');
      await rejectsWith(
        upsertBinding(s.location, { aor: AOR, callId: 'c', cseq: 1, ...flow({ expiresAt: c.now() + 1, q: 1.5 }) }),
        ValidationError,
        /^set\[0\]\.q: /,
      );
      await rejectsWith(
        upsertBinding(s.location, { aor: AOR, callId: 'c', cseq: -1, ...flow({ expiresAt: c.now() + 1 }) }),
        ValidationError,
        /^cseq: /,
      );
      for (let i = 0; i < 3; i++) {
        await upsertBinding(s.location, {
          aor: 'sip:alice@EXAMPLE.org',
          callId: `c${i}`,
          cseq: 1,
          ...flow({ contact: `sip:alice@192.0.2.${i}`, expiresAt: c.now() + 1000 }),
        });
      }
      assert.equal((await s.location.listForAor('alice@example.org')).length, 3);
      assert.equal(await s.location.removeAll('sips:alice@example.org'), 3);
      assert.equal(await s.location.removeAll(AOR), 0);
    });

    test('writers of one AOR from two stores at once all land', async (t) => {
      const cfg = await backend.fresh();
      const a = await open(t, cfg);
      const b = await open(t, cfg);
      const exp = Date.now() + 60_000;
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          upsertBinding((i % 2 === 0 ? a : b).location, {
            aor: AOR,
            callId: `c${i}`,
            cseq: 1,
            ...flow({ contact: `sip:alice@192.0.2.${i}`, expiresAt: exp }),
          }),
        ),
      );
      assert.equal((await a.location.listForAor(AOR)).length, 20);
    });
  });

  describe('changes() and transactions', () => {
    test('moves after a write by another Store on the same database, within 2 s', async (t) => {
      const cfg = await backend.fresh();
      const server = await open(t, cfg);
      const cli = await open(t, cfg);
      const seen = await server.changes();
      assert.equal(await server.changes(), seen, 'stable while nothing happens');
      await cli.domains.add('example.org');
      const deadline = Date.now() + 2000;
      while ((await server.changes()) === seen && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
      }
      const moved = await server.changes();
      assert.ok(moved > seen, `changes() went from ${seen} to ${moved}`);
      // And for each kind of provisioning write.
      let last = moved;
      const steps: Array<() => Promise<unknown>> = [
        () => cli.subscribers.add('alice', 'example.org', 'pw'),
        () => cli.subscribers.passwd('alice', 'example.org', 'pw2'),
        () => cli.aliases.add('+15551234', 'alice', 'example.org'),
        () => cli.aliases.rm('+15551234'),
        () => cli.subscribers.rm('alice', 'example.org'),
        () => cli.domains.rm('example.org'),
      ];
      for (const step of steps) {
        await step();
        const now = await server.changes();
        assert.ok(now > last, `changes() moved after ${step.toString()}`);
        last = now;
      }
    });

    test('moves after a write by another process (the CLI) on the same database', async (t) => {
      const cfg = await backend.fresh();
      const server = await open(t, cfg);
      const seen = await server.changes();
      const code = [
        `const { openStore } = await import(${JSON.stringify(new URL('../../src/store/db.js', import.meta.url).href)});`,
        `const s = await openStore(JSON.parse(process.env.TL_STORE_CFG), { env: {} });`,
        `await s.subscribers.add('bob', 'example.org', 'pw');`,
        `await s.close();`,
      ].join('\n');
      await server.domains.add('example.org');
      const mine = await server.changes();
      assert.ok(mine > seen);
      await execFileP(process.execPath, ['--input-type=module', '-e', code], {
        env: { ...process.env, TL_STORE_CFG: JSON.stringify(cfg) },
        timeout: 10_000,
      });
      assert.ok((await server.changes()) > mine);
      assert.equal((await server.subscribers.list()).length, 1);
    });

    test("domains.exists and subscribers.get see another store's and their own store's writes at once", async (t) => {
      const cfg = await backend.fresh();
      const server = await open(t, cfg);
      const cli = await open(t, cfg);
      // Asked twice before each write: an answer kept from before it must not survive it.
      const ask = async (): Promise<[boolean, string | undefined]> => {
        await server.domains.exists('example.org');
        await server.subscribers.get('alice', 'example.org');
        return [
          await server.domains.exists('example.org'),
          (await server.subscribers.get('alice', 'example.org'))?.ha1Md5,
        ];
      };
      assert.deepEqual(await ask(), [false, undefined]);
      await cli.domains.add('example.org');
      assert.deepEqual(await ask(), [true, undefined]);
      await cli.subscribers.add('alice', 'example.org', 'secret');
      assert.deepEqual(await ask(), [true, ALICE_MD5]);
      await cli.subscribers.passwd('alice', 'example.org', 'other');
      assert.deepEqual(await ask(), [true, ha1Md5('alice', 'example.org', 'other')]);
      await server.subscribers.passwd('alice', 'example.org', 'secret');
      assert.deepEqual(await ask(), [true, ALICE_MD5]);
      await cli.subscribers.rm('alice', 'example.org');
      assert.deepEqual(await ask(), [true, undefined]);
      await server.domains.rm('example.org');
      assert.deepEqual(await ask(), [false, undefined]);
      // A registration (a location write) leaves them as they are.
      await server.domains.add('example.org');
      await server.subscribers.add('alice', 'example.org', 'secret');
      await upsertBinding(server.location, {
        aor: 'alice@example.org',
        callId: 'c',
        cseq: 1,
        ...flow({ expiresAt: Date.now() + 60_000 }),
      });
      assert.deepEqual(await ask(), [true, ALICE_MD5]);
    });

    test("moves for this store's own writes, not for failed ones or location writes", async (t) => {
      const s = await open(t);
      const c0 = await s.changes();
      await s.domains.add('example.org');
      const c1 = await s.changes();
      assert.ok(c1 > c0);
      await assert.rejects(s.domains.add('example.org'), ConflictError);
      assert.equal(await s.changes(), c1);
      await upsertBinding(s.location, {
        aor: 'x@example.org',
        callId: 'c',
        cseq: 1,
        ...flow({ expiresAt: Date.now() + 60_000 }),
      });
      assert.equal(await s.changes(), c1);
    });

    test('a write that throws halfway leaves nothing behind', async (t) => {
      const s = await open(t);
      const before = await s.changes();
      await assert.rejects(
        s.ctx.write(async (db) => {
          await db.insertInto('domains').values({ domain: 'half.org', created_at: 1 }).execute();
          throw new Error('stop');
        }),
        /stop/,
      );
      assert.equal(await s.domains.exists('half.org'), false);
      assert.equal(await s.changes(), before);
      // The store still works afterwards (the connection is not stuck in a transaction).
      await s.domains.add('whole.org');
      assert.equal(await s.domains.exists('whole.org'), true);
    });

    test('concurrent provisioning writes from two stores all commit', async (t) => {
      const cfg = await backend.fresh();
      const a = await open(t, cfg);
      const b = await open(t, cfg);
      await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? a : b).domains.add(`d${i}.example.org`)));
      assert.equal((await a.domains.list()).length, 20);
    });
  });
}

describe('HA1 (RFC 7616 3.9.1 example)', () => {
  test('MD5 and SHA-256 HA1 give the RFC responses', () => {
    const nonce = '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v';
    const cnonce = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
    const response = (alg: 'md5' | 'sha256', ha1: string) => {
      const h = (s: string) => createHash(alg).update(s).digest('hex');
      return h([ha1, nonce, '00000001', cnonce, 'auth', h('GET:/dir/index.html')].join(':'));
    };
    const md5 = ha1Md5('Mufasa', 'http-auth@example.org', 'Circle of Life');
    const sha = ha1Sha256('Mufasa', 'http-auth@example.org', 'Circle of Life');
    assert.equal(md5, '3d78807defe7de2157e2b0b6573a855f');
    assert.equal(sha, '7987c64c30e25f1b74be53f966b49b90f2808aa92faf9a00262392d7b4794232');
    assert.equal(response('md5', md5), '8ca523f5e9506fed4657c9700eebdbec');
    assert.equal(response('sha256', sha), '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1');
    assert.equal(ha1Md5('alice', 'example.org', 'secret'), ALICE_MD5);
    assert.equal(ha1Sha256('alice', 'example.org', 'secret'), ALICE_SHA256);
  });
});

describe('which database', () => {
  const sqliteCfg: DatabaseConfig = { kind: 'sqlite', file: '/srv/data/trunkline.db' };

  test('DATABASE_URL overrides the config when set and not empty', () => {
    assert.deepEqual(resolveDatabaseConfig(sqliteCfg, {}), sqliteCfg);
    assert.deepEqual(resolveDatabaseConfig(sqliteCfg, { DATABASE_URL: '  ' }), sqliteCfg);
    assert.deepEqual(resolveDatabaseConfig(sqliteCfg, { DATABASE_URL: 'postgres://u@db/trunk' }), {
      kind: 'postgres',
      url: 'postgres://u@db/trunk',
    });
    assert.deepEqual(resolveDatabaseConfig(sqliteCfg, { DATABASE_URL: 'sqlite:///var/x.db' }), {
      kind: 'sqlite',
      file: '/var/x.db',
    });
    assert.deepEqual(resolveDatabaseConfig(sqliteCfg, { DATABASE_URL: 'sqlite::memory:' }), {
      kind: 'sqlite',
      file: ':memory:',
    });
    assert.deepEqual(resolveDatabaseConfig(sqliteCfg, { DATABASE_URL: 'sqlite:rel/x.db' }), {
      kind: 'sqlite',
      file: join(process.cwd(), 'rel/x.db'),
    });
    assert.throws(
      () => resolveDatabaseConfig(sqliteCfg, { DATABASE_URL: 'mysql://x' }),
      /^StoreError: DATABASE_URL: expected/,
    );
  });

  test('openStore follows DATABASE_URL; :memory: works', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'trunkline-store-env-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const file = join(dir, 'from-env.db');
    const s = await openStore(
      { kind: 'sqlite', file: join(dir, 'from-config.db') },
      { env: { DATABASE_URL: `sqlite:${file}` } },
    );
    t.after(() => s.close());
    assert.equal(s.target, `sqlite:${file}`);
    await stat(file);
    await assert.rejects(stat(join(dir, 'from-config.db')));
    const m = await openStore({ kind: 'sqlite', file: ':memory:' }, { env: {} });
    t.after(() => m.close());
    await m.domains.add('example.org');
    assert.equal(await m.domains.exists('example.org'), true);
  });

  test('an unreachable PostgreSQL refuses the start, naming it without the password', async () => {
    const err = await rejectsWith(
      openStore({ kind: 'postgres', url: 'postgres://u:hunter2@127.0.0.1:1/x' }, { env: {} }),
      StoreError,
      /^store: cannot connect to postgres:\/\/u:\*\*\*@127\.0\.0\.1:1\/x: /,
    );
    assert.ok(!err.message.includes('hunter2'));
  });

  test('an unopenable SQLite file refuses the start, naming it', async (t) => {
    const dir = await mkdtemp(join(tmpdir(), 'trunkline-store-bad-'));
    t.after(() => rm(dir, { recursive: true, force: true }));
    // A directory where the file should be.
    await rejectsWith(
      openStore({ kind: 'sqlite', file: dir }, { env: {} }),
      StoreError,
      new RegExp(`^store: cannot open sqlite:${dir}: `),
    );
  });
});

describe('store on SQLite', () => storeSuite(sqliteBackend('store')));

const pgSkip = await postgresSkip(PG_URL);
describe('store on PostgreSQL', { skip: pgSkip }, () => storeSuite(postgresBackend('store', PG_URL)));
