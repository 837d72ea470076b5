/**
 * Bindings in a cluster, on both databases: each names the node run that
 * took its REGISTER; the location repository counts a run's bindings, lists
 * the runs that hold flows, pages a run's NATed bindings for its keep-alive,
 * and drops the bindings whose flow a run held (holdsFlow: a connection or
 * a NAT mapping, no Path), leaving the others.
 */
import { test, describe, after } from 'node:test';
import assert from 'node:assert/strict';
import { postgresBackend, sqliteBackend, type Backend } from '../helpers/backends.js';
import { openStore, holdsFlow, type BindingOwner, type Store } from '../../src/store/index.js';
import { registerBindings, type BindingSet } from '../../src/registrar/bindings.js';

const A: BindingOwner = { node: 'n1', incarnation: 'run-a' };
const A2: BindingOwner = { node: 'n1', incarnation: 'run-a2' };
const B: BindingOwner = { node: 'n2', incarnation: 'run-b' };

function binding(contact: string, over: Partial<BindingSet>): BindingSet {
  return {
    contact,
    expiresAt: Date.now() + 60_000,
    proto: 'udp',
    localHost: '127.0.0.1',
    localPort: 5060,
    remoteHost: '192.0.2.10',
    remotePort: 5060,
    ...over,
  };
}

async function register(store: Store, user: string, set: BindingSet): Promise<number> {
  const r = await registerBindings(store.location, {
    aor: `${user}@example.org`,
    callId: `c-${user}`,
    cseq: 1,
    set: [set],
  });
  return r.bindings[0]!.id;
}

for (const backend of [sqliteBackend('cluster-bindings'), postgresBackend('cluster_bindings')] as Backend[]) {
  describe(`cluster bindings (${backend.label})`, async () => {
    const skip = await backend.skip();
    after(() => backend.cleanup());

    test('owners written and read; counted, listed, paged and dropped by run', { skip }, async () => {
      const store = await openStore(await backend.fresh(), { env: {} });
      try {
        const ids = {
          tcp: await register(
            store,
            'tcp',
            binding('sip:tcp@192.0.2.10:5060;transport=tcp', { proto: 'tcp', connectionId: '7', owner: A }),
          ),
          nat: await register(
            store,
            'nat',
            binding('sip:nat@10.0.0.2:5060', { received: 'sip:192.0.2.10:40000;transport=udp', owner: A }),
          ),
          direct: await register(store, 'direct', binding('sip:direct@192.0.2.10:5060', { owner: A })),
          path: await register(
            store,
            'path',
            binding('sip:path@10.0.0.3:5060;transport=tcp', {
              proto: 'tcp',
              path: ['<sip:edge.example.org;lr>'],
              owner: A,
            }),
          ),
          old: await register(
            store,
            'old',
            binding('sip:old@192.0.2.11:5060;transport=tcp', { proto: 'tcp', owner: A2 }),
          ),
          other: await register(
            store,
            'other',
            binding('sip:other@10.0.0.4:5060', { received: 'sip:192.0.2.12:40000;transport=udp', owner: B }),
          ),
          alone: await register(store, 'alone', binding('sip:alone@192.0.2.13:5060;transport=tcp', { proto: 'tcp' })),
        };
        const tcp = await store.location.get(ids.tcp);
        assert.equal(tcp?.ownerNode, 'n1');
        assert.equal(tcp?.ownerIncarnation, 'run-a');
        assert.equal((await store.location.get(ids.alone))?.ownerNode, null);
        assert.equal(await store.location.get(ids.alone + 1000), undefined);

        assert.equal(await store.location.countOwned(A), 4);
        assert.equal(await store.location.countOwned(B), 1);
        const owners = (await store.location.flowOwners()).map((o) => `${o.node}/${o.incarnation}`).sort();
        assert.deepEqual(owners, ['n1/run-a', 'n1/run-a2', 'n2/run-b']);
        // The keep-alive of run A pings its NATed binding only.
        assert.deepEqual(
          (await store.location.listLiveReceived(0, 100, undefined, A)).map((b) => b.id),
          [ids.nat],
        );
        assert.equal((await store.location.listLiveReceived(0, 100)).length, 2);

        // Another run's binding is not dropped by naming it; run A's flows go, its others stay.
        assert.equal(await store.location.removeFlowsOf(A, [ids.other]), 0);
        const before = await store.location.listLive();
        assert.equal(await store.location.removeFlowsOf(A), 2);
        const left = new Set((await store.location.listLive()).map((b) => b.id));
        assert.deepEqual(
          [...left].sort((x, y) => x - y),
          [ids.direct, ids.path, ids.old, ids.other, ids.alone],
        );
        // holdsFlow says the same as the SQL did.
        for (const b of before.filter((x) => x.ownerIncarnation === 'run-a'))
          assert.equal(holdsFlow(b), !left.has(b.id), b.contact);
        assert.equal(await store.location.countOwned(A), 2);
      } finally {
        await store.close();
      }
    });

    test('an owner too long is refused by name', { skip }, async () => {
      const store = await openStore(await backend.fresh(), { env: {} });
      try {
        await assert.rejects(
          register(store, 'x', binding('sip:x@192.0.2.10:5060', { owner: { node: 'n'.repeat(65), incarnation: 'r' } })),
          /set\[0\]\.owner\.node/,
        );
      } finally {
        await store.close();
      }
    });
  });
}
