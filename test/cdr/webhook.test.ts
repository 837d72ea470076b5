/**
 * The CDR webhook's sender (src/cdr/webhook.ts) over a real store (SQLite
 * and PostgreSQL) and a real HTTP receiver on loopback: every CDR written
 * through its sink reaches the receiver once, as JSON with its
 * Idempotency-Key; a receiver stopped and started again gets the CDRs
 * written meanwhile, none twice; a CDR the receiver refuses is parked after
 * `retries` and sent again at the next start; a sender stopped with CDRs
 * waiting leaves them to the next one; two senders on one outbox (two
 * nodes) send each CDR once; the CDR and its outbox row are written
 * together or not at all; the config is checked, naming the key.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import type { CdrWebhookConfig } from '../../src/config/schema.js';
import { openStore, type Store } from '../../src/store/index.js';
import { cdrJson } from '../../src/store/json.js';
import { CdrWebhook } from '../../src/cdr/webhook.js';
import { registerWebhookMetrics } from '../../src/cdr/metrics.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { Counters } from '../../src/core/counters.js';
import type { Cdr } from '../../src/trunking/model.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';
import { freePort } from '../helpers/ports.js';
import { waitFor } from '../helpers/wait.js';
import { Receiver } from './receiver.js';
import { sampleCdr } from '../helpers/sample-cdr.js';

class RecordingLog {
  readonly lines: Array<{ level: string; obj: object; msg: string }> = [];
  info(obj: object, msg: string): void {
    this.lines.push({ level: 'info', obj, msg });
  }
  warn(obj: object, msg: string): void {
    this.lines.push({ level: 'warn', obj, msg });
  }
  debug(): void {}
}

function webhookConfig(url: string, extra = ''): CdrWebhookConfig {
  return parseConfig(`cdr: {webhook: {url: "${url}", maxBackoff: 1${extra}}}`, '/tmp').cdr.webhook!;
}

let seq = 0;
function cdr(sid: string): Cdr {
  return sampleCdr(sid, Date.parse('2026-03-01T10:00:00Z') + seq++ * 1000, { extra: '{"codec":"PCMA"}' });
}

function noDuplicates(r: Receiver): void {
  const keys = r.received.map((x) => x.key);
  assert.equal(new Set(keys).size, keys.length, `each CDR POSTed once, got ${keys.join(' ')}`);
}

function suite(backend: Backend): void {
  describe(`CDR webhook on ${backend.label}`, async () => {
    const skip = await backend.skip();
    const opened: Store[] = [];
    const open = async (db?: Awaited<ReturnType<Backend['fresh']>>) => {
      const s = await openStore(db ?? (await backend.fresh()), { env: {} });
      opened.push(s);
      return s;
    };
    after(async () => {
      for (const s of opened.splice(0)) await s.close();
      await backend.cleanup();
    });

    test(
      'every CDR once, as JSON with its Idempotency-Key; a receiver stopped and started gets the rest',
      { skip, timeout: 60_000 },
      async () => {
        const store = await open();
        const receiver = new Receiver(await freePort());
        await receiver.start();
        const log = new RecordingLog();
        const w = new CdrWebhook({
          store,
          config: webhookConfig(receiver.url, ', headers: {Authorization: "Bearer t0ken"}'),
          log,
          node: 'n1',
          shared: false,
        });
        try {
          await w.start();
          const first = Array.from({ length: 10 }, (_, i) => cdr(`CA-a${i}`));
          for (const c of first) await w.sink.write(c);
          await waitFor(() => receiver.received.length >= 10, { timeoutMs: 10_000, what: '10 CDRs at the receiver' });
          const got = receiver.received.find((r) => r.key === 'CA-a3')!;
          assert.deepEqual(got.body, cdrJson(first[3]!), 'the body is the CDR as cdr list --json prints it');
          assert.match(String(got.headers['content-type']), /^application\/json/);
          assert.equal(got.headers['authorization'], 'Bearer t0ken', 'the configured headers');
          assert.match(String(got.headers['user-agent']), /^Trunkline\//);
          await waitFor(async () => (await w.counts()).depth === 0, { timeoutMs: 5000, what: 'an empty outbox' });
          assert.equal(w.figures.sent, 10);

          // The receiver goes away: CDRs wait in the outbox, and arrive once it is back.
          await receiver.stop();
          const second = Array.from({ length: 10 }, (_, i) => cdr(`CA-b${i}`));
          for (const c of second) await w.sink.write(c);
          await waitFor(() => w.figures.failures.unavailable > 0, { timeoutMs: 5000, what: 'a failed POST' });
          assert.equal((await w.counts()).depth, 10, 'the 10 wait in the outbox');
          const metrics = new Metrics(new Counters());
          registerWebhookMetrics(metrics, w);
          let text = await metrics.registry.metrics();
          assert.match(text, /^trunkline_cdr_webhook_outbox_depth 10$/m);
          assert.match(text, /^trunkline_cdr_webhook_outbox_parked 0$/m);
          assert.match(text, /^trunkline_cdr_webhook_sent_total 10$/m);
          assert.match(text, /^trunkline_cdr_webhook_failures_total\{reason="unavailable"\} [1-9]/m);
          assert.ok(
            log.lines.some((l) => l.msg === 'cdr webhook: POST failed'),
            'the failure is logged',
          );
          await receiver.start();
          await waitFor(() => receiver.received.length >= 20, {
            timeoutMs: 15_000,
            what: 'the 10 written while the receiver was away',
          });
          await waitFor(async () => (await w.counts()).depth === 0, { timeoutMs: 5000, what: 'an empty outbox' });
          assert.deepEqual(receiver.taken().sort(), [...first, ...second].map((c) => c.callSid).sort());
          noDuplicates(receiver);
          assert.ok(log.lines.some((l) => l.msg === 'cdr webhook: the receiver takes CDRs again'));
          text = await metrics.registry.metrics();
          assert.match(text, /^trunkline_cdr_webhook_outbox_depth 0$/m);
          assert.match(text, /^trunkline_cdr_webhook_sent_total 20$/m);
          assert.match(text, /^trunkline_cdr_webhook_failures_total\{reason="refused"\} 0$/m);
        } finally {
          await w.stop();
          await receiver.stop();
        }
      },
    );

    test(
      'a CDR the receiver refuses is parked after `retries`, the others go on; the next start sends it again',
      { skip, timeout: 60_000 },
      async () => {
        const store = await open();
        const receiver = new Receiver(await freePort());
        receiver.answer = (sid) => (sid === 'CA-bad' ? 422 : undefined);
        await receiver.start();
        const log = new RecordingLog();
        const cfg = webhookConfig(receiver.url, ', retries: 1');
        let w = new CdrWebhook({ store, config: cfg, log, node: 'n1', shared: false });
        try {
          await w.start();
          await w.sink.write(cdr('CA-bad'));
          for (let i = 0; i < 3; i++) await w.sink.write(cdr(`CA-ok${i}`));
          await waitFor(async () => (await w.counts()).parked === 1, { timeoutMs: 15_000, what: 'CA-bad parked' });
          await waitFor(() => receiver.taken().length === 3, { timeoutMs: 10_000, what: 'the 3 others taken' });
          assert.equal(receiver.received.filter((r) => r.key === 'CA-bad').length, 2, 'sent, then retried once');
          assert.deepEqual(receiver.taken().sort(), ['CA-ok0', 'CA-ok1', 'CA-ok2']);
          await waitFor(async () => (await w.counts()).depth === 1, { timeoutMs: 5000, what: 'CA-bad alone left' });
          assert.deepEqual(await w.counts(), { depth: 1, parked: 1 });
          assert.ok(log.lines.some((l) => l.level === 'warn' && /parked/.test(l.msg)));
          assert.equal(w.figures.failures.refused, 2);
          await w.stop();
          // Trunkline starts again and the receiver now takes it.
          receiver.answer = () => undefined;
          w = new CdrWebhook({ store, config: cfg, log, node: 'n1', shared: false });
          await w.start();
          await waitFor(() => receiver.taken().includes('CA-bad'), { timeoutMs: 10_000, what: 'CA-bad sent again' });
          await waitFor(async () => (await w.counts()).depth === 0, { timeoutMs: 5000, what: 'an empty outbox' });
        } finally {
          await w.stop();
          await receiver.stop();
        }
      },
    );

    test(
      'a sender stopped with CDRs waiting leaves them to the next start; CDR and outbox row are written together',
      { skip, timeout: 60_000 },
      async () => {
        const db = await backend.fresh();
        const store = await open(db);
        const receiver = new Receiver(await freePort());
        const cfg = webhookConfig(receiver.url);
        const w = new CdrWebhook({ store, config: cfg, log: new RecordingLog(), node: 'n1', shared: false });
        await w.start();
        for (let i = 0; i < 5; i++) await w.sink.write(cdr(`CA-r${i}`));
        await waitFor(() => w.figures.failures.unavailable > 0, {
          timeoutMs: 5000,
          what: 'a failed POST (no receiver)',
        });
        await w.stop();
        assert.equal((await w.counts()).depth, 5);
        // A duplicate call SID: the CDR is refused and no second outbox row is written.
        await assert.rejects(store.cdrs.insert(cdr('CA-r0'), { outbox: true }), /CDR CA-r0 exists/);
        assert.equal((await w.counts()).depth, 5);
        await store.close();
        opened.splice(opened.indexOf(store), 1);

        // Another process (Trunkline started again) on the same database.
        await receiver.start();
        const again = await open(db);
        const w2 = new CdrWebhook({ store: again, config: cfg, log: new RecordingLog(), node: 'n1', shared: false });
        try {
          await w2.start();
          await waitFor(() => receiver.received.length >= 5, { timeoutMs: 10_000, what: 'the 5 left in the outbox' });
          await waitFor(async () => (await w2.counts()).depth === 0, { timeoutMs: 5000, what: 'an empty outbox' });
          assert.deepEqual(receiver.taken().sort(), ['CA-r0', 'CA-r1', 'CA-r2', 'CA-r3', 'CA-r4']);
          noDuplicates(receiver);
        } finally {
          await w2.stop();
          await receiver.stop();
        }
      },
    );

    test('two senders on one outbox (two nodes of a cluster): every CDR once', { skip, timeout: 60_000 }, async () => {
      const db = await backend.fresh();
      const receiver = new Receiver(await freePort());
      await receiver.start();
      const cfg = webhookConfig(receiver.url, ', concurrency: 3');
      const a = new CdrWebhook({
        store: await open(db),
        config: cfg,
        log: new RecordingLog(),
        node: 'a',
        shared: true,
      });
      const b = new CdrWebhook({
        store: await open(db),
        config: cfg,
        log: new RecordingLog(),
        node: 'b',
        shared: true,
      });
      try {
        await a.start();
        await b.start();
        const N = 150;
        for (let i = 0; i < N; i++) await (i % 2 === 0 ? a : b).sink.write(cdr(`CA-n${i}`));
        await waitFor(() => receiver.received.length >= N, { timeoutMs: 20_000, what: `${N} CDRs at the receiver` });
        await waitFor(async () => (await a.counts()).depth === 0, { timeoutMs: 5000, what: 'an empty outbox' });
        noDuplicates(receiver);
        assert.equal(receiver.received.length, N);
        assert.ok(a.figures.sent > 0 && b.figures.sent > 0, `both sent (${a.figures.sent}, ${b.figures.sent})`);
      } finally {
        await a.stop();
        await b.stop();
        await receiver.stop();
      }
    });
  });
}

suite(sqliteBackend('cdrwebhook'));
suite(postgresBackend('cdrwebhook'));

test('cdr.webhook in the config: checked, each error naming its key', () => {
  const bad = (yaml: string): string => {
    try {
      parseConfig(yaml, '/tmp');
    } catch (err) {
      assert.ok(err instanceof ConfigError);
      return err.message;
    }
    return assert.fail(`accepted: ${yaml}`);
  };
  assert.match(bad('cdr: {webhook: {url: "ftp://x"}}'), /cdr\.webhook\.url: expected an http:\/\/ or https:\/\/ URL/);
  assert.match(bad('cdr: {webhook: {timeout: 3}}'), /cdr\.webhook\.url: expected an http/);
  assert.match(bad('cdr: {webhook: {url: "http://x", timeout: 0}}'), /cdr\.webhook\.timeout: expected seconds 1-300/);
  assert.match(bad('cdr: {webhook: {url: "http://x", retries: -1}}'), /cdr\.webhook\.retries: /);
  assert.match(bad('cdr: {webhook: {url: "http://x", headers: {"a b": x}}}'), /cdr\.webhook\.headers: /);
  assert.match(bad('cdr: {webhook: {url: "http://x", hook: 1}}'), /unknown key "cdr\.webhook\.hook"/);
  assert.deepEqual(parseConfig('cdr: {webhook: {url: "https://b.example/cdr"}}', '/tmp').cdr.webhook, {
    url: 'https://b.example/cdr',
    timeout: 10,
    retries: 10,
    maxBackoff: 300,
    concurrency: 4,
    headers: {},
  });
  assert.equal(parseConfig('', '/tmp').cdr.webhook, undefined, 'absent: no webhook');
});
