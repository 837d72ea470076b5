/**
 * `trunkline NOUN set KEY [--option VALUE...]` for account, trunk, DID,
 * carrier, route and subscriber, as the real CLI (a child process) against
 * SQLite and PostgreSQL: the fields given change and the others stay,
 * `none` clears a nullable field, the object after the change is printed as
 * `show` prints it, a bad value names its option, an unknown key is one
 * line, exit 1; each change moves store.changes() (a running server
 * reloads); a refused one writes nothing.
 */
import { describe, test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { openStore, type Store } from '../../src/store/index.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';
import { failed, md5, ok, run, type RunResult } from './helpers.js';

type Json = Record<string, unknown>;

function databaseUrl(db: DatabaseConfig): string {
  return db.kind === 'sqlite' ? `sqlite:${db.file}` : db.url;
}

function suite(backend: Backend): void {
  describe(`trunkline NOUN set on ${backend.label}`, async () => {
    const skip = await backend.skip();
    let dir = '';
    let config = '';
    let store: Store;
    before(async () => {
      if (skip !== false) return;
      const db = await backend.fresh();
      dir = await mkdtemp(join(tmpdir(), 'trunkline-cliset-'));
      config = join(dir, 'trunkline.yaml');
      await writeFile(
        config,
        `data: ${JSON.stringify(join(dir, 'data'))}\ndatabase: ${JSON.stringify(databaseUrl(db))}\n`,
      );
      store = await openStore(db, { env: {} });
      await store.accounts.add({ name: 'acme', cpm: 100 });
      await store.accounts.add({ name: 'beta' });
      await store.trunks.add({ name: 'pbx', account: 'acme', ip: ['127.0.0.2'] });
      await store.trunks.add({ name: 'pbx2', account: 'beta', ip: ['127.0.0.3'] });
      await store.dids.add('+912240001234', 'pbx');
      await store.carriers.add({ name: 'up', gateways: ['sip:127.0.0.5'] });
      await store.carriers.add({ name: 'alt', gateways: ['sip:127.0.0.6'] });
      await store.routes.add('+', ['up']);
      await store.domains.add('example.org');
      await store.subscribers.add('alice', 'example.org', 'first');
    });
    after(async () => {
      if (skip !== false) return;
      await store.close();
      await rm(dir, { recursive: true, force: true });
      await backend.cleanup();
    });

    const cli = (args: string[], input?: string): Promise<RunResult> =>
      run([...args, '--config', config], input === undefined ? {} : { input });
    const json = async (args: string[], input?: string): Promise<Json> =>
      JSON.parse(ok(await cli([...args, '--json'], input), args.join(' '))) as Json;
    /** `set ... --json`, which must move the change counter and print what `show --json` prints after it. */
    const set = async (args: string[], show: string[] | null, input?: string): Promise<Json> => {
      const before = await store.changes();
      const out = await json(args, input);
      assert.ok((await store.changes()) > before, `${args.join(' ')}: store.changes() moved`);
      if (show !== null) assert.deepEqual(out, await json(show), `${args.join(' ')} prints what show prints`);
      return out;
    };
    /** A refused set: one line naming the option or the key, exit 1, nothing written. */
    const refused = async (args: string[], message: string | RegExp, input?: string): Promise<void> => {
      const before = await store.changes();
      failed(await cli(args, input), message, args.join(' '));
      assert.equal(await store.changes(), before, `${args.join(' ')}: nothing written`);
    };

    test('account set: limits changed, none clears one; errors name the option or the account', { skip }, async () => {
      let a = await set(['account', 'set', 'acme', '--max-calls', '7'], ['account', 'show', 'acme']);
      assert.deepEqual([a['cpm'], a['maxCalls'], a['trunks'], a['dids']], [100, 7, ['pbx'], ['+912240001234']]);
      a = await set(['account', 'set', 'acme', '--cpm', 'none'], ['account', 'show', 'acme']);
      assert.deepEqual([a['cpm'], a['maxCalls']], [null, 7]);
      assert.equal((await store.accounts.show('acme')).cpm, null);
      const text = ok(await cli(['account', 'set', 'acme', '--cpm', '60']), 'account set, text');
      assert.equal(text, ok(await cli(['account', 'show', 'acme']), 'account show'), 'the text is show');
      assert.match(text, /^cpm\s+60$/m);
      await refused(['account', 'set', 'acme', '--cpm', '0'], 'cpm: expected an integer from 1 to 1000000, got "0"');
      await refused(['account', 'set', 'acme', '--max-calls', 'lots'], /^max-calls: expected an integer/);
      await refused(['account', 'set', 'ghost', '--cpm', '5'], 'unknown account ghost');
      await refused(['account', 'set', 'a b', '--cpm', '5'], /^name: expected a name/);
      failed(await cli(['account', 'set', 'acme', '--name', 'x']), /unknown option '--name'/, 'the key is not set', 2);
      assert.equal((await store.accounts.show('acme')).cpm, 60, 'refusals changed nothing');
    });

    test(
      'trunk set: each field, none clears, register and ip replace each other, --force for a range',
      { skip },
      async () => {
        let t = await set(
          [
            'trunk',
            'set',
            'pbx',
            '--dest',
            'sip:127.0.0.2:5090',
            '--max-calls',
            '5',
            '--codecs',
            'pcma,PCMU',
            '--transport',
            'TCP',
            '--media',
            'rtp',
            '--cpm',
            '30',
          ],
          ['trunk', 'show', 'pbx'],
        );
        assert.deepEqual(
          [t['dest'], t['maxCalls'], t['codecs'], t['transport'], t['media'], t['cpm'], t['ip'], t['dids']],
          ['sip:127.0.0.2:5090', 5, ['PCMA', 'PCMU'], 'tcp', 'rtp', 30, ['127.0.0.2/32'], ['+912240001234']],
        );
        const fp = 'AB:'.repeat(31) + 'AB';
        t = await set(['trunk', 'set', 'pbx', '--tls-fingerprint', fp.replace(/:/g, '')], null);
        assert.equal(t['tlsFingerprint'], fp);
        t = await set(
          ['trunk', 'set', 'pbx', '--transport', 'none', '--dest', '', '--codecs', 'none', '--max-calls', 'None'],
          ['trunk', 'show', 'pbx'],
        );
        assert.deepEqual(
          [t['transport'], t['dest'], t['codecs'], t['maxCalls'], t['tlsFingerprint'], t['cpm']],
          [null, null, [], null, fp, 30],
          'none cleared those given, the rest stayed',
        );
        await refused(
          ['trunk', 'set', 'pbx', '--cpm', 'none'],
          'cpm: expected an integer from 1 to 1000000, got "none"',
        );
        await refused(['trunk', 'set', 'pbx', '--ip', 'none'], /^ip: expected an IP address or CIDR/);
        await refused(['trunk', 'set', 'pbx', '--tls-fingerprint', 'xyz'], /^tls-fingerprint: expected a SHA-256/);
        await refused(['trunk', 'set', 'pbx', '--dest', 'http://x'], /^dest: expected a SIP URI/);
        await refused(['trunk', 'set', 'pbx', '--codecs', 'G.711'], /^codecs: unknown codec "G\.711"/);
        await refused(['trunk', 'set', 'pbx', '--media', 'video'], /^media: expected one of rtp, srtp, any/);
        await refused(['trunk', 'set', 'pbx', '--account', 'ghost'], 'unknown account ghost');
        await refused(['trunk', 'set', 'ghost', '--cpm', '3'], 'unknown trunk ghost');
        await refused(
          ['trunk', 'set', 'pbx', '--ip', '127.0.0.4/31'],
          "ip: 127.0.0.4/31 holds 127.0.0.5, the address of carrier up's gateway sip:127.0.0.5 (its requests stay the carrier's); --force adds it anyway",
        );
        t = await set(['trunk', 'set', 'pbx', '--ip', '127.0.0.4/31', '--force'], null);
        assert.deepEqual(t['ip'], ['127.0.0.4/31']);
        // A registering PBX instead of a static peer, and back; the account moves.
        t = await set(['trunk', 'set', 'pbx', '--register', 'pbx@Example.ORG', '--account', 'beta'], null);
        assert.deepEqual([t['register'], t['ip'], t['account']], ['pbx@example.org', [], 'beta']);
        await refused(['trunk', 'set', 'pbx', '--register', 'none'], /^ip: a trunk is either a static peer/);
        await refused(
          ['trunk', 'set', 'pbx2', '--register', 'pbx@example.org'],
          /already registers as pbx@example\.org/,
        );
        t = await set(['trunk', 'set', 'pbx', '--ip', '127.0.0.2', '--account', 'acme'], ['trunk', 'show', 'pbx']);
        assert.deepEqual([t['register'], t['ip'], t['account']], [null, ['127.0.0.2/32'], 'acme']);
      },
    );

    test('did set: moves the DID to another trunk and account; errors', { skip }, async () => {
      const d = await set(['did', 'set', '+912240001234', '--trunk', 'pbx2'], null);
      assert.deepEqual([d['number'], d['trunk'], d['account']], ['+912240001234', 'pbx2', 'beta']);
      assert.deepEqual((await store.dids.show('+912240001234')).account, 'beta');
      await refused(['did', 'set', '+912240001234', '--trunk', 'ghost'], 'unknown trunk ghost');
      await refused(['did', 'set', '+4930123', '--trunk', 'pbx'], 'unknown DID +4930123');
      await refused(['did', 'set', '12ab', '--trunk', 'pbx'], /^number: expected an E\.164 number/);
      await refused(['did', 'set', '+912240001234', '--trunk', 'a b'], /^trunk: expected a name/);
      await set(['did', 'set', '+912240001234', '--trunk', 'pbx'], null);
    });

    test(
      'carrier set: gateways, prefix, plus, credentials (the password from stdin, kept while the username stays)',
      { skip },
      async () => {
        let c = await set(
          ['carrier', 'set', 'up', '--gateway', 'sip:127.0.0.7:5080,sip:127.0.0.5', '--prefix', '00', '--no-plus'],
          ['carrier', 'show', 'up'],
        );
        assert.deepEqual(
          [c['gateways'], c['prefix'], c['plus'], c['routes'], c['hasPassword']],
          [['sip:127.0.0.7:5080', 'sip:127.0.0.5'], '00', false, ['+'], false],
        );
        c = await set(
          ['carrier', 'set', 'up', '--username', 'bob', '--password-stdin', '--register'],
          null,
          's3cret\n',
        );
        assert.deepEqual([c['username'], c['hasPassword'], c['register']], ['bob', true, true]);
        assert.ok(!JSON.stringify(c).includes('s3cret'), 'the password is never printed');
        assert.equal((await store.carriers.withSecret('up')).password, 's3cret');
        c = await set(['carrier', 'set', 'up', '--prefix', 'none', '--plus', '--media', 'srtp'], null);
        assert.deepEqual([c['prefix'], c['plus'], c['media'], c['hasPassword']], [null, true, 'srtp', true]);
        assert.equal((await store.carriers.withSecret('up')).password, 's3cret', 'kept while the username stays');
        await set(['carrier', 'set', 'up', '--password-stdin'], null, 'other\n');
        assert.equal((await store.carriers.withSecret('up')).password, 'other');
        await refused(['carrier', 'set', 'up', '--username', 'none'], /^register: registering needs a username/);
        await refused(['carrier', 'set', 'up', '--username', 'carol'], /^password: --username needs --password-stdin/);
        await refused(['carrier', 'set', 'up', '--gateway', 'http://x'], /^gateway: expected a SIP URI/);
        await refused(['carrier', 'set', 'up', '--prefix', '12a'], /^prefix: expected up to 16 digits/);
        await refused(['carrier', 'set', 'ghost', '--prefix', '1'], 'unknown carrier ghost');
        c = await set(['carrier', 'set', 'up', '--username', 'none', '--no-register', '--codecs', 'PCMA'], null);
        assert.deepEqual([c['username'], c['hasPassword'], c['register'], c['codecs']], [null, false, false, ['PCMA']]);
        assert.equal((await store.carriers.withSecret('up')).password, null);
      },
    );

    test('route set: the carriers replaced, in order; errors', { skip }, async () => {
      const r = await set(['route', 'set', '+', '--carrier', 'alt,up'], null);
      assert.deepEqual([r['prefix'], r['carriers']], ['+', ['alt', 'up']]);
      assert.deepEqual((await store.routes.list())[0]!.carriers, ['alt', 'up']);
      await refused(['route', 'set', '+44', '--carrier', 'up'], 'unknown route +44');
      await refused(['route', 'set', '+', '--carrier', 'ghost'], /^unknown carrier/);
      await refused(['route', 'set', '+', '--carrier', 'a b'], /^carrier: expected a name/);
      await refused(['route', 'set', 'x1', '--carrier', 'up'], /^prefix: expected \+/);
      assert.deepEqual(
        await json(['route', 'set', '+']),
        { prefix: '+', carriers: ['alt', 'up'], mode: 'priority', weights: null, createdAt: r['createdAt'] },
        'no option: the route as it is',
      );
      // The mode alone keeps the carriers; weights with a weighted route.
      let m = await json(['route', 'set', '+', '--mode', 'lcr']);
      assert.deepEqual([m['mode'], m['carriers']], ['lcr', ['alt', 'up']]);
      m = await json(['route', 'set', '+', '--carrier', 'alt:3,up', '--mode', 'weighted']);
      assert.deepEqual([m['mode'], m['weights']], ['weighted', [3, 1]]);
      await refused(['route', 'set', '+', '--mode', 'cheapest'], /^mode: expected one of priority, lcr, weighted/);
      m = await json(['route', 'set', '+', '--mode', 'priority']);
      assert.deepEqual([m['mode'], m['weights'], m['carriers']], ['priority', null, ['alt', 'up']]);
      await refused(['route', 'set', '+', '--carrier', 'alt:2'], /^weights: weights go with mode weighted/);
    });

    test('subscriber set: a new password from stdin; errors', { skip }, async () => {
      const s = await set(['subscriber', 'set', 'alice@example.org', '--password-stdin'], null, 'n3w\n');
      assert.deepEqual([s['subscriber'], s['username'], s['domain']], ['alice@example.org', 'alice', 'example.org']);
      assert.equal((await store.subscribers.get('alice', 'example.org'))?.ha1Md5, md5('alice:example.org:n3w'));
      await refused(
        ['subscriber', 'set', 'ghost@example.org', '--password-stdin'],
        'unknown subscriber ghost@example.org',
        'x\n',
      );
      await refused(['subscriber', 'set', 'alice@example.org', '--password-stdin'], /^password: no password/, '\n');
      await refused(['subscriber', 'set', 'nobody', '--password-stdin'], /^subscriber: expected USER@DOMAIN/, 'x\n');
      assert.equal((await store.subscribers.get('alice', 'example.org'))?.ha1Md5, md5('alice:example.org:n3w'));
    });
  });
}

suite(sqliteBackend('cliset'));
suite(postgresBackend('cliset'));
