/**
 * The trunking repositories (accounts, trunks, dids, carriers, routes, cdrs)
 * against SQLite and PostgreSQL: typed errors naming the bad field or the
 * missing object, removal refused while in use (or cascading when asked),
 * nothing half-written, passwords never listed, provisioning writes moving
 * store.changes() and CDR inserts not, CDR pages by cursor.
 */
import { test, describe, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openStore, type Store } from '../../src/store/index.js';
import { ConflictError, NotFoundError, ValidationError } from '../../src/store/errors.js';
import type { Cdr } from '../../src/trunking/model.js';
import { type Backend, postgresBackend, postgresSkip, sqliteBackend } from '../helpers/backends.js';

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

async function field(p: Promise<unknown>, name: string): Promise<void> {
  const err = await rejectsWith(p, ValidationError, new RegExp(`^${name}: `));
  assert.equal(err.field, name);
}

function cdr(sid: string, startAt: number, extra: Partial<Cdr> = {}): Cdr {
  return {
    callSid: sid,
    account: 'acme',
    trunk: 'pbx',
    carrier: 'up',
    direction: 'outbound',
    from: '+912240001234',
    to: '+14155550100',
    startAt,
    answerAt: startAt + 1000,
    endAt: startAt + 5000,
    duration: 4,
    status: 200,
    reason: 'OK',
    hangupBy: 'caller',
    extra: null,
    ...extra,
  };
}

function suite(backend: Backend, skip: () => string | false): void {
  async function open(t: TestContext): Promise<Store> {
    const s = await openStore(await backend.fresh(), { env: {} });
    t.after(() => s.close());
    return s;
  }

  /** acme with trunk pbx (127.0.0.2), DID +912240001234, carrier up, default route. */
  async function seeded(t: TestContext): Promise<Store> {
    const s = await open(t);
    await s.accounts.add({ name: 'acme' });
    await s.trunks.add({ name: 'pbx', account: 'acme', ip: ['127.0.0.2'] });
    await s.dids.add('+912240001234', 'pbx');
    await s.carriers.add({ name: 'up', gateways: ['sip:127.0.0.5:5080'] });
    await s.routes.add('+', ['up']);
    return s;
  }

  const opts = () => ({ skip: skip() });

  test(`${backend.name}: accounts: add, list, show, update; duplicates and bad values refused`, opts(), async (t) => {
    const s = await open(t);
    const a = await s.accounts.add({ name: 'acme', cpm: 100, maxCalls: 10 });
    assert.deepEqual(
      { ...a, createdAt: 0 },
      { name: 'acme', cpm: 100, maxCalls: 10, sellBelowCost: false, createdAt: 0 },
    );
    await s.accounts.add({ name: 'beta' });
    assert.deepEqual(
      (await s.accounts.list()).map((x) => [x.name, x.cpm, x.maxCalls]),
      [
        ['acme', 100, 10],
        ['beta', null, null],
      ],
    );
    await rejectsWith(s.accounts.add({ name: 'acme' }), ConflictError, 'account acme exists');
    await field(s.accounts.add({ name: 'a b' }), 'name');
    await field(s.accounts.add({ name: 'x', cpm: 0 }), 'cpm');
    await field(s.accounts.add({ name: 'x', maxCalls: 1.5 }), 'maxCalls');
    assert.equal((await s.accounts.update('beta', { cpm: 5 })).cpm, 5);
    assert.equal((await s.accounts.update('beta', { cpm: null })).cpm, null);
    await rejectsWith(s.accounts.show('ghost'), NotFoundError, 'unknown account ghost');
    await rejectsWith(s.accounts.rm('ghost'), NotFoundError, 'unknown account ghost');
  });

  test(
    `${backend.name}: trunks: static and registration trunks, defaults, every bad field named`,
    opts(),
    async (t) => {
      const s = await open(t);
      await s.accounts.add({ name: 'acme' });
      const pbx = await s.trunks.add({ name: 'pbx', account: 'acme', ip: ['127.0.0.2', '10.0.0.0/8', '::1'] });
      assert.deepEqual(pbx.ip, ['127.0.0.2/32', '10.0.0.0/8', '::1/128']);
      assert.equal(pbx.cpm, 200);
      assert.equal(pbx.media, 'any');
      assert.deepEqual(pbx.codecs, []);
      assert.equal(pbx.register, null);
      assert.equal(pbx.transport, null);
      const reg = await s.trunks.add({
        name: 'reg',
        account: 'acme',
        register: 'PBX@Example.ORG',
        transport: 'tls',
        tlsFingerprint: 'ab'.repeat(32),
        dest: 'sip:pbx@192.0.2.10:5061;transport=tls',
        cpm: 20,
        maxCalls: 3,
        media: 'srtp',
        codecs: ['PCMA', 'pcma', 'telephone-event'],
      });
      assert.equal(reg.register, 'PBX@example.org');
      assert.deepEqual(reg.ip, []);
      assert.equal(reg.tlsFingerprint, Array(32).fill('AB').join(':'));
      assert.deepEqual(reg.codecs, ['PCMA', 'telephone-event']);
      assert.deepEqual(await s.trunks.show('reg'), reg);
      assert.deepEqual(
        (await s.trunks.list()).map((x) => x.name),
        ['pbx', 'reg'],
      );
      assert.deepEqual((await s.trunks.list({ account: 'acme' })).length, 2);
      await rejectsWith(s.trunks.list({ account: 'ghost' }), NotFoundError, 'unknown account ghost');

      await rejectsWith(
        s.trunks.add({ name: 'pbx', account: 'acme', ip: ['127.0.0.9'] }),
        ConflictError,
        'trunk pbx exists',
      );
      await rejectsWith(
        s.trunks.add({ name: 'x', account: 'ghost', ip: ['127.0.0.9'] }),
        NotFoundError,
        'unknown account ghost',
      );
      await rejectsWith(
        s.trunks.add({ name: 'x', account: 'acme', register: 'PBX@EXAMPLE.org' }),
        ConflictError,
        'trunk reg already registers as PBX@example.org',
      );
      // User parts are case-sensitive (RFC 3261 19.1.4): another user.
      await s.trunks.add({ name: 'lower', account: 'acme', register: 'pbx@example.org' });
      await s.trunks.rm('lower');
      await field(s.trunks.add({ name: 'x', account: 'acme' }), 'ip');
      await field(s.trunks.add({ name: 'x', account: 'acme', ip: ['127.0.0.9'], register: 'a@b.c' }), 'ip');
      await field(s.trunks.add({ name: 'x', account: 'acme', ip: ['300.0.0.1'] }), 'ip');
      await field(s.trunks.add({ name: 'x', account: 'acme', ip: ['10.0.0.0/33'] }), 'ip');
      await field(s.trunks.add({ name: 'x', account: 'acme', register: 'nodomain' }), 'register');
      await field(
        s.trunks.add({ name: 'x', account: 'acme', ip: ['1.2.3.4'], transport: 'sctp' as never }),
        'transport',
      );
      await field(
        s.trunks.add({ name: 'x', account: 'acme', ip: ['1.2.3.4'], tlsFingerprint: 'abcd' }),
        'tlsFingerprint',
      );
      await field(s.trunks.add({ name: 'x', account: 'acme', ip: ['1.2.3.4'], dest: 'http://x' }), 'dest');
      await field(s.trunks.add({ name: 'x', account: 'acme', ip: ['1.2.3.4'], cpm: 0 }), 'cpm');
      await field(s.trunks.add({ name: 'x', account: 'acme', ip: ['1.2.3.4'], media: 'zrtp' as never }), 'media');
      await field(s.trunks.add({ name: 'x', account: 'acme', ip: ['1.2.3.4'], codecs: ['PC MA'] }), 'codecs');
      await field(s.trunks.add({ name: '', account: 'acme', ip: ['1.2.3.4'] }), 'name');
      assert.equal((await s.trunks.list()).length, 2, 'nothing added by the refusals');

      const updated = await s.trunks.update({ name: 'pbx', account: 'acme', ip: ['127.0.0.3'], transport: 'udp' });
      assert.deepEqual(updated.ip, ['127.0.0.3/32']);
      assert.equal(updated.createdAt, pbx.createdAt);
      await rejectsWith(
        s.trunks.update({ name: 'ghost', account: 'acme', ip: ['1.2.3.4'] }),
        NotFoundError,
        'unknown trunk ghost',
      );
    },
  );

  test(`${backend.name}: DIDs: unique, on an existing trunk, numbers and prefixes only`, opts(), async (t) => {
    const s = await seeded(t);
    await s.accounts.add({ name: 'beta' });
    await s.trunks.add({ name: 'bpbx', account: 'beta', ip: ['127.0.0.3'] });
    const d = await s.dids.add('+9122400012*', 'bpbx');
    assert.equal(d.account, 'beta');
    await rejectsWith(s.dids.add('+912240001234', 'bpbx'), ConflictError, 'DID +912240001234 exists (trunk pbx)');
    await rejectsWith(s.dids.add('+14155550100', 'ghost'), NotFoundError, 'unknown trunk ghost');
    for (const bad of ['912240001234', '+91-22', '+1234567890123456', '+*', '*', '+0123']) {
      await field(s.dids.add(bad, 'pbx'), 'number');
    }
    assert.deepEqual(
      (await s.dids.list()).map((x) => [x.number, x.trunk, x.account]),
      [
        ['+9122400012*', 'bpbx', 'beta'],
        ['+912240001234', 'pbx', 'acme'],
      ],
    );
    assert.deepEqual(
      (await s.dids.list({ account: 'acme' })).map((x) => x.number),
      ['+912240001234'],
    );
    assert.deepEqual(
      (await s.dids.list({ trunk: 'bpbx' })).map((x) => x.number),
      ['+9122400012*'],
    );
    await rejectsWith(s.dids.list({ trunk: 'ghost' }), NotFoundError, 'unknown trunk ghost');
    assert.equal((await s.dids.rm('+9122400012*')).trunk, 'bpbx');
    await rejectsWith(s.dids.rm('+9122400012*'), NotFoundError, 'unknown DID +9122400012*');
  });

  test(`${backend.name}: removal refused while in use, cascade when asked, counts of what went`, opts(), async (t) => {
    const s = await seeded(t);
    await s.dids.add('+14155550100', 'pbx');
    await rejectsWith(s.accounts.rm('acme'), ConflictError, /^account acme has 1 trunk \(pbx\)/);
    await rejectsWith(s.trunks.rm('pbx'), ConflictError, /^trunk pbx has 2 DIDs/);
    await rejectsWith(s.carriers.rm('up'), ConflictError, /^carrier up is used by route \+/);
    assert.equal((await s.dids.list()).length, 2, 'nothing removed by the refusals');
    assert.deepEqual(await s.trunks.rm('pbx', { cascade: true }), { name: 'pbx', account: 'acme', dids: 2 });
    await s.trunks.add({ name: 'pbx2', account: 'acme', ip: ['127.0.0.2'] });
    await s.dids.add('+14155550100', 'pbx2');
    assert.deepEqual(await s.accounts.rm('acme', { cascade: true }), { name: 'acme', trunks: 1, dids: 1 });
    assert.deepEqual(await s.dids.list(), []);
    assert.deepEqual(await s.trunks.list(), []);
    await s.routes.rm('+');
    assert.deepEqual((await s.carriers.rm('up')).gateways, ['sip:127.0.0.5:5080']);
    const left = await sql<{ n: number }>`select count(*) as n from carrier_gateways`.execute(s.db);
    assert.equal(Number(left.rows[0]!.n), 0, 'the gateways went with the carrier');
  });

  test(`${backend.name}: carriers: gateways in order, the password kept but never listed`, opts(), async (t) => {
    const s = await open(t);
    const c = await s.carriers.add({
      name: 'up',
      gateways: ['sip:127.0.0.5:5080;transport=udp', 'sip:gw2.example.com', 'sips:[::1]:5061'],
      username: 'trunk1',
      password: 's3cret',
      register: true,
      prefix: '99',
      plus: false,
      codecs: ['PCMU'],
    });
    assert.deepEqual(c.gateways, ['sip:127.0.0.5:5080;transport=udp', 'sip:gw2.example.com', 'sips:[::1]:5061']);
    assert.equal(c.password, null);
    assert.equal(c.hasPassword, true);
    assert.equal(c.plus, false);
    assert.equal(c.register, true);
    const listed = await s.carriers.list();
    assert.ok(!JSON.stringify(listed).includes('s3cret'), 'no password in list');
    assert.ok(!JSON.stringify(await s.carriers.show('up')).includes('s3cret'), 'no password in show');
    assert.equal((await s.carriers.withSecret('up')).password, 's3cret');
    assert.equal((await s.carriers.listWithSecrets())[0]!.password, 's3cret');

    await rejectsWith(s.carriers.add({ name: 'up', gateways: ['sip:127.0.0.6'] }), ConflictError, 'carrier up exists');
    await field(s.carriers.add({ name: 'x', gateways: [] }), 'gateways');
    await field(s.carriers.add({ name: 'x', gateways: ['sip:127.0.0.6', 'tel:+1555'] }), 'gateways');
    await field(s.carriers.add({ name: 'x', gateways: ['sip:127.0.0.6'], username: 'u' }), 'password');
    await field(s.carriers.add({ name: 'x', gateways: ['sip:127.0.0.6'], password: 'p' }), 'username');
    await field(s.carriers.add({ name: 'x', gateways: ['sip:127.0.0.6'], register: true }), 'register');
    await field(s.carriers.add({ name: 'x', gateways: ['sip:127.0.0.6'], prefix: '9a' }), 'prefix');
    const gw = await sql<{ n: number }>`select count(*) as n from carrier_gateways`.execute(s.db);
    assert.equal(Number(gw.rows[0]!.n), 3, 'no gateway rows from the refusals');

    // An update keeps the password when the username stays and none is given.
    const u = await s.carriers.update({ name: 'up', gateways: ['sip:127.0.0.7'], username: 'trunk1', register: true });
    assert.deepEqual(u.gateways, ['sip:127.0.0.7']);
    assert.equal((await s.carriers.withSecret('up')).password, 's3cret');
    await rejectsWith(s.carriers.show('ghost'), NotFoundError, 'unknown carrier ghost');
  });

  test(
    `${backend.name}: routes: carriers in order, unknown carriers refused with nothing written`,
    opts(),
    async (t) => {
      const s = await open(t);
      await s.carriers.add({ name: 'a', gateways: ['sip:127.0.0.5'] });
      await s.carriers.add({ name: 'b', gateways: ['sip:127.0.0.6'] });
      await s.routes.add('+', ['b', 'a']);
      await s.routes.add('+91*', ['a']);
      await rejectsWith(s.routes.add('+44', ['a', 'ghost']), NotFoundError, 'unknown carrier ghost');
      await rejectsWith(s.routes.add('+91', ['b']), ConflictError, 'route +91 exists');
      await field(s.routes.add('91', ['a']), 'prefix');
      await field(s.routes.add('+9a', ['a']), 'prefix');
      await field(s.routes.add('+44', []), 'carriers');
      await field(s.routes.add('+44', ['a', 'a']), 'carriers');
      assert.deepEqual(
        (await s.routes.list()).map((r) => [r.prefix, r.carriers]),
        [
          ['+', ['b', 'a']],
          ['+91', ['a']],
        ],
      );
      assert.deepEqual((await s.routes.update('+91', ['b', 'a'])).carriers, ['b', 'a']);
      assert.deepEqual((await s.routes.rm('+91')).carriers, ['b', 'a']);
      await rejectsWith(s.routes.rm('+91'), NotFoundError, 'unknown route +91');
      const links = await sql<{ n: number }>`select count(*) as n from route_carriers`.execute(s.db);
      assert.equal(Number(links.rows[0]!.n), 2);
    },
  );

  test(`${backend.name}: provisioning writes move changes(); CDR inserts and refusals do not`, opts(), async (t) => {
    const s = await open(t);
    let c = await s.changes();
    const moved = async (what: string, fn: () => Promise<unknown>, expect = true): Promise<void> => {
      await fn().catch(() => undefined);
      const now = await s.changes();
      assert.equal(now !== c, expect, `${what}: changes() ${expect ? 'moved' : 'stayed'}`);
      c = now;
    };
    await moved('account add', () => s.accounts.add({ name: 'acme' }));
    await moved('trunk add', () => s.trunks.add({ name: 'pbx', account: 'acme', ip: ['127.0.0.2'] }));
    await moved('did add', () => s.dids.add('+14155550100', 'pbx'));
    await moved('carrier add', () => s.carriers.add({ name: 'up', gateways: ['sip:127.0.0.5'] }));
    await moved('route add', () => s.routes.add('+', ['up']));
    await moved('a refused add', () => s.accounts.add({ name: 'acme' }), false);
    await moved('cdr insert', () => s.cdrs.insert(cdr('c1', 1000)), false);
    await moved('did rm', () => s.dids.rm('+14155550100'));
  });

  test(`${backend.name}: CDRs: one row per call, filters, newest first, pages by cursor`, opts(), async (t) => {
    const s = await open(t);
    const base = 1_800_000_000_000;
    // 25 calls, several sharing a start time (the cursor must not skip or repeat them).
    for (let i = 0; i < 25; i++) {
      await s.cdrs.insert(
        cdr(`call-${String(i).padStart(2, '0')}`, base + Math.floor(i / 3) * 1000, {
          trunk: i % 2 === 0 ? 'pbx' : 'other',
          account: i % 5 === 0 ? 'beta' : 'acme',
          direction: i % 4 === 0 ? 'inbound' : 'outbound',
          status: i % 3 === 0 ? 486 : 200,
          answerAt: i % 3 === 0 ? null : base + Math.floor(i / 3) * 1000 + 10,
          duration: i % 3 === 0 ? 0 : 4,
        }),
      );
    }
    await rejectsWith(s.cdrs.insert(cdr('call-00', base)), ConflictError, 'CDR call-00 exists');
    await field(s.cdrs.insert(cdr('bad', base, { direction: 'sideways' as never })), 'direction');
    await field(s.cdrs.insert(cdr('bad', base, { endAt: base - 1 })), 'endAt');
    await field(s.cdrs.insert(cdr('bad', base, { status: 42 })), 'status');

    const all: string[] = [];
    let cursor: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const page = await s.cdrs.list({ limit: 4, ...(cursor !== undefined && { cursor }) });
      all.push(...page.cdrs.map((x) => x.callSid));
      if (page.next === null) break;
      cursor = page.next;
    }
    assert.equal(all.length, 25);
    assert.equal(new Set(all).size, 25, 'no row twice across pages');
    const full = (await s.cdrs.list({ limit: 100 })).cdrs;
    assert.deepEqual(
      all,
      full.map((x) => x.callSid),
      'pages in the same order as one list',
    );
    for (let i = 1; i < full.length; i++) {
      const a = full[i - 1]!;
      const b = full[i]!;
      assert.ok(a.startAt > b.startAt || (a.startAt === b.startAt && a.callSid > b.callSid), 'newest first');
    }
    assert.equal((await s.cdrs.list({ limit: 100 })).next, null);

    const count = async (f: Parameters<Store['cdrs']['list']>[0]): Promise<number> =>
      (await s.cdrs.list({ limit: 100, ...f })).cdrs.length;
    assert.equal(await count({ trunk: 'pbx' }), 13);
    assert.equal(await count({ account: 'beta' }), 5);
    assert.equal(await count({ direction: 'inbound' }), 7);
    assert.equal(await count({ disposition: 'failed' }), 9);
    assert.equal(await count({ disposition: 'answered' }), 16);
    assert.equal(await count({ since: base + 4000 }), 13); // i >= 12
    assert.equal(await count({ since: base + 4000, until: base + 6000 }), 6);
    assert.equal(await count({ since: base + 4000, trunk: 'pbx' }), 7);
    await field(s.cdrs.list({ cursor: 'not a cursor' }), 'cursor');
    await field(s.cdrs.list({ limit: 0 }), 'limit');
    const one = (await s.cdrs.list({ limit: 1 })).cdrs[0]!;
    assert.equal(one.callSid, 'call-24');
    assert.equal(one.from, '+912240001234');
    assert.deepEqual(await s.cdrs.show('call-24'), one);
    await rejectsWith(s.cdrs.show('nope'), NotFoundError, 'unknown call nope');
    // 0009_cdr_quality: gateway, PDD, Q.850 cause and MOS back as written (a MOS to two decimals).
    const quality = { gateway: 'sip:198.51.100.1:5060', pddMs: 1234, q850: 16, mos: 4.409 };
    await s.cdrs.insert(cdr('call-q', base + 10_000, quality));
    const q = await s.cdrs.show('call-q');
    assert.deepEqual([q.gateway, q.pddMs, q.q850, q.mos], ['sip:198.51.100.1:5060', 1234, 16, 4.41]);
    assert.deepEqual([one.gateway, one.pddMs, one.q850, one.mos], [null, null, null, null]);
    await field(s.cdrs.insert(cdr('bad', base, { mos: 7 })), 'mos');
    await field(s.cdrs.insert(cdr('bad', base, { q850: 0 })), 'q850');
    assert.equal(await s.cdrs.purgeBefore(base + 4000), 12);
    assert.equal((await s.cdrs.list({ limit: 100 })).cdrs.length, 14, '13 and call-q');
  });
}

describe('trunking repositories', () => {
  const sqlite = sqliteBackend('trunking');
  after(() => sqlite.cleanup());
  suite(sqlite, () => false);
});

const pgSkip = await postgresSkip();

describe('trunking repositories on PostgreSQL', () => {
  const pg = postgresBackend('trunking');
  after(() => pg.cleanup());
  suite(pg, () => pgSkip);
});
