/**
 * The security repositories (0003_security) on SQLite and on PostgreSQL
 * (a schema of the test's own; skipped with the reason when PostgreSQL
 * does not answer): bans with expiry, access-list entries, list entries,
 * their errors, and the change counter a running server polls.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { openStore, type Store, NotFoundError, ConflictError, ValidationError } from '../../src/store/index.js';
import { BanRepo } from '../../src/store/repos/bans.js';
import { AclRepo } from '../../src/store/repos/acl.js';
import { ListRepo } from '../../src/store/repos/lists.js';
import { connectPostgres, schemaUrl } from '../helpers/postgres.js';

const pg = await connectPostgres();
const schemas: string[] = [];
after(async () => {
  if (typeof pg !== 'string') {
    for (const s of schemas) await pg.query(`drop schema if exists ${s} cascade`);
    await pg.end();
  }
});

async function open(kind: 'sqlite' | 'postgres', now: () => number): Promise<Store> {
  if (kind === 'sqlite') return openStore({ kind: 'sqlite', file: ':memory:' }, { env: {}, now });
  if (typeof pg === 'string') throw new Error(pg);
  const schema = `sec_${randomBytes(4).toString('hex')}`;
  schemas.push(schema);
  await pg.query(`create schema ${schema}`);
  return openStore({ kind: 'postgres', url: schemaUrl(schema) }, { env: {}, now });
}

for (const kind of ['sqlite', 'postgres'] as const) {
  const skip = kind === 'postgres' && typeof pg === 'string' ? pg : false;

  test(
    `${kind}: bans with expiry; rm of a missing or expired ban is NotFound; the change counter moves`,
    { skip },
    async () => {
      let t = 1_700_000_000_000;
      const store = await open(kind, () => t);
      try {
        // The security tables came with 0003_security; later migrations may follow.
        assert.ok(store.schemaVersion >= '0003_security', store.schemaVersion);
        const bans = new BanRepo(store.ctx);
        const c0 = await store.changes();
        const b = await bans.add('::FFFF:192.0.2.1', { seconds: 60, reason: 'test', source: 'flood' });
        assert.deepEqual(b, { ip: '192.0.2.1', reason: 'test', source: 'flood', expiresAt: t + 60_000, createdAt: t });
        assert.notEqual(await store.changes(), c0);
        await bans.add('[2001:DB8::7]');
        assert.deepEqual(
          (await bans.list()).map((x) => [x.ip, x.expiresAt]),
          [
            ['192.0.2.1', t + 60_000],
            ['2001:db8::7', null],
          ],
        );
        // Adding again replaces (a longer ban, a new reason).
        await bans.add('192.0.2.1', { seconds: 600, reason: 'again' });
        assert.equal((await bans.list())[0]!.reason, 'again');
        t += 600_000;
        assert.deepEqual(
          (await bans.list()).map((x) => x.ip),
          ['2001:db8::7'],
        );
        await assert.rejects(bans.rm('192.0.2.1'), NotFoundError);
        assert.equal(await bans.purgeExpired(), 1); // the expired row of 192.0.2.1
        await bans.add('192.0.2.2', { seconds: 1 });
        t += 1000;
        assert.equal(await bans.purgeExpired(), 1);
        await bans.rm('2001:db8::7');
        assert.deepEqual(await bans.list(), []);
        await assert.rejects(bans.add('example.org'), ValidationError);
        await assert.rejects(bans.add('192.0.2.9', { seconds: 0 }), ValidationError);
      } finally {
        await store.close();
      }
    },
  );

  test(`${kind}: acl entries and list entries: add, duplicates refused, rm, list`, { skip }, async () => {
    const store = await open(kind, () => 1_700_000_000_000);
    try {
      const acl = new AclRepo(store.ctx);
      const a = await acl.add({
        group: 'carriers',
        action: 'allow',
        cidr: '198.51.100.0/24',
        method: 'invite',
        direction: 'inbound',
      });
      assert.equal(a.method, 'INVITE');
      await acl.add({ group: 'carriers', action: 'allow', cidr: '203.0.113.7' });
      await assert.rejects(
        acl.add({
          group: 'carriers',
          action: 'allow',
          cidr: '198.51.100.0/24',
          method: 'INVITE',
          direction: 'inbound',
        }),
        ConflictError,
      );
      await assert.rejects(acl.add({ group: 'x', action: 'allow', cidr: '10.0.0.0/40' }), ValidationError);
      await assert.rejects(acl.add({ group: 'bad name', action: 'deny', cidr: '10.0.0.1' }), ValidationError);
      assert.deepEqual(
        (await acl.list()).map((e) => [e.group, e.cidr, e.method, e.direction]),
        [
          ['carriers', '198.51.100.0/24', 'INVITE', 'inbound'],
          ['carriers', '203.0.113.7', '*', 'any'],
        ],
      );
      assert.equal(await acl.rm('carriers', '203.0.113.7'), 1);
      assert.equal(await acl.rm('carriers'), 1);
      await assert.rejects(acl.rm('carriers'), NotFoundError);

      const lists = new ListRepo(store.ctx);
      await lists.add('black', 'UA', 'FriendlyPhone');
      await lists.add('black', 'dest', '+1900');
      await lists.add('white', 'ip', '192.0.2.0/24');
      await assert.rejects(lists.add('black', 'ua', 'friendlyphone'), ConflictError);
      await assert.rejects(lists.add('black', 'color', 'red'), ValidationError);
      await assert.rejects(lists.add('black', 'ip', 'nope'), ValidationError);
      assert.deepEqual(
        (await lists.list()).map((e) => [e.list, e.kind, e.value]),
        [
          ['black', 'dest', '+1900'],
          ['black', 'ua', 'friendlyphone'],
          ['white', 'ip', '192.0.2.0/24'],
        ],
      );
      await lists.rm('black', 'ua', 'FRIENDLYPHONE');
      await assert.rejects(lists.rm('black', 'ua', 'friendlyphone'), NotFoundError);
    } finally {
      await store.close();
    }
  });
}
