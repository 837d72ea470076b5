/**
 * The call policy (src/security/call-policy.ts) over a real security edge
 * and store: the access lists by direction, barred destinations and call
 * barring, each with the reason phrase the trunking stage answers 403 with;
 * a config change (SIGHUP) applies to the next call, and with the security
 * edge off every call is allowed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore } from '../../src/store/index.js';
import { AclRepo } from '../../src/store/repos/acl.js';
import { ListRepo } from '../../src/store/repos/lists.js';
import { SecurityService } from '../../src/security/service.js';
import { SecurityCallPolicy } from '../../src/security/call-policy.js';
import { securitySchema } from '../../src/security/config.js';
import { Counters } from '../../src/core/counters.js';
import { Responder } from '../../src/core/responder.js';
import { TransportLayer } from '../../src/transport/transport-layer.js';

const quiet = { info: () => undefined, warn: () => undefined };

test('call policy: ACL by direction, barred destinations, call barring; reasons as answered; SIGHUP and security off apply', async () => {
  const store = await openStore({ kind: 'sqlite', file: ':memory:' }, { env: {} });
  const counters = new Counters();
  const config = securitySchema.parse({ callBarring: [{ account: 'acme', prefixes: ['+1900'], bar: 'always' }] });
  const security = new SecurityService({
    config,
    store,
    counters,
    responder: new Responder(new TransportLayer({ listen: [] }), counters, null),
    log: quiet,
    selfAddresses: [],
    isForUs: () => false,
  });
  try {
    const acl = new AclRepo(store.ctx);
    await acl.add({
      group: 'carriers',
      action: 'allow',
      cidr: '198.51.100.0/24',
      method: 'INVITE',
      direction: 'inbound',
    });
    await acl.add({
      group: 'blocked-pbx',
      action: 'deny',
      cidr: '203.0.113.9',
      method: 'INVITE',
      direction: 'outbound',
    });
    await new ListRepo(store.ctx).add('black', 'dest', '+88');
    await security.start();
    const policy = new SecurityCallPolicy(security);

    // Inbound: only the carriers' block may call in; the reason names why (the B2BUA answers 403 Forbidden).
    assert.equal(policy.inbound('198.51.100.7'), null);
    assert.equal(policy.inbound('192.0.2.1'), 'not in an allowed address group');
    // Outbound: the deny entry, then the barred destination, then barring by rule; in that order.
    assert.equal(policy.outbound('203.0.113.9', 'acme', 'pbx', '+88212345678'), 'Forbidden');
    assert.equal(policy.outbound('203.0.113.10', 'acme', 'pbx', '+88212345678'), 'Destination barred');
    assert.equal(policy.outbound('203.0.113.10', 'acme', 'pbx', '+19005550100'), 'Call barred at this time');
    assert.equal(policy.outbound('203.0.113.10', 'other', 'pbx', '+19005550100'), null, "the rule is acme's only");
    assert.equal(policy.outbound('203.0.113.10', 'acme', 'pbx', '+33140000000'), null);
    // The inbound ACL does not apply outbound, nor the outbound one inbound.
    assert.equal(policy.outbound('192.0.2.1', 'acme', 'pbx', '+33140000000'), null);
    assert.equal(policy.inbound('203.0.113.9'), 'not in an allowed address group');

    // A reload without the ACL step and the barring rule: the same policy object follows the new config.
    security.configure(securitySchema.parse({ acl: { enabled: false } }));
    assert.equal(policy.inbound('192.0.2.1'), null);
    assert.equal(policy.outbound('203.0.113.9', 'acme', 'pbx', '+19005550100'), null);
    assert.equal(policy.outbound('203.0.113.9', 'acme', 'pbx', '+88212345678'), 'Destination barred');
    // The security edge off: nothing is refused.
    security.configure(securitySchema.parse({ enabled: false }));
    assert.equal(policy.outbound('203.0.113.9', 'acme', 'pbx', '+88212345678'), null);
  } finally {
    security.stop();
    await store.close();
  }
});
