/**
 * The B2BUA's CDR sink (CdrBatch over CdrRepo.insertMany): records of calls
 * that end together are written in one go, and each write settles on its
 * own record, on both databases.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/index.js';
import { ConflictError, ValidationError } from '../../src/store/errors.js';
import { CdrOutboxRepo } from '../../src/store/repos/cdr-outbox.js';
import { CdrBatch } from '../../src/cdr/batch.js';
import type { Cdr } from '../../src/trunking/model.js';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';
import { sampleCdr } from '../helpers/sample-cdr.js';

function suite(backend: Backend): void {
  describe(`CdrBatch on ${backend.label}`, async () => {
    after(() => backend.cleanup());
    const skip = await backend.skip();

    test(
      'four writes in one turn: one batch; a duplicate and a bad record fail alone; a lone record at once',
      { skip },
      async () => {
        const store = await openStore(await backend.fresh(), { env: {} });
        try {
          const t = Date.now();
          await store.cdrs.insert(sampleCdr('CA-dup', t));
          const batches: number[] = [];
          const sink = new CdrBatch(async (cdrs: Cdr[]) => {
            batches.push(cdrs.length);
            return store.cdrs.insertMany(cdrs, { outbox: true });
          }, 30);
          const results = await Promise.allSettled([
            sink.write(sampleCdr('CA-1', t)),
            sink.write(sampleCdr('CA-dup', t)),
            sink.write(sampleCdr('CA-2', t + 1)),
            sink.write(sampleCdr('CA-bad', t, { endAt: t - 1 })),
          ]);
          assert.deepEqual(batches, [4]);
          assert.deepEqual(
            results.map((r) => r.status),
            ['fulfilled', 'rejected', 'fulfilled', 'rejected'],
          );
          assert.ok((results[1] as PromiseRejectedResult).reason instanceof ConflictError);
          assert.ok((results[3] as PromiseRejectedResult).reason instanceof ValidationError);
          const sids = (await store.cdrs.list()).cdrs.map((c) => c.callSid).sort();
          assert.deepEqual(sids, ['CA-1', 'CA-2', 'CA-dup']);
          // Each stored record of the batch has its outbox row; the refused duplicate added none.
          assert.equal((await new CdrOutboxRepo(store.ctx).counts()).depth, 2);
          // A write after the window: a batch of its own.
          await sink.write(sampleCdr('CA-3', t + 2));
          assert.deepEqual(batches, [4, 1]);

          // A lone record after a quiet spell is not held for the window; the next one within it is.
          const slow = new CdrBatch((cdrs: Cdr[]) => store.cdrs.insertMany(cdrs), 2000);
          const t0 = Date.now();
          await slow.write(sampleCdr('CA-4', t + 3));
          const lone = Date.now() - t0;
          assert.ok(lone < 1000, `a lone record took ${lone} ms`);
          await slow.write(sampleCdr('CA-5', t + 4));
          assert.ok(Date.now() - t0 >= 1900, `the next one within the window took ${Date.now() - t0} ms`);
        } finally {
          await store.close();
        }
      },
    );
  });
}

suite(sqliteBackend('cdrbatch'));
suite(postgresBackend('cdrbatch'));
