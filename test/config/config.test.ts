import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig, parseConfig, type TrunklineConfig } from '../../src/config/load.js';
import { formatListen, parseHostPort, parseListen } from '../../src/config/address.js';
import { ensureTlsFiles } from '../../src/tls/self-signed.js';

const BASE = '/srv/trunkline';

/** The ConfigError message for this YAML (fails the test if it parses). */
function errorOf(yaml: string): string {
  try {
    parseConfig(yaml, BASE);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.ok(err.message.startsWith('config: '), err.message);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail(`expected a ConfigError for:\n${yaml}`);
}

describe('defaults', () => {
  test('an empty file gives the embedded defaults', () => {
    const c = parseConfig('', BASE);
    assert.deepEqual(c.listen, [
      { proto: 'udp', host: '127.0.0.1', port: 5060 },
      { proto: 'tcp', host: '127.0.0.1', port: 5060 },
      { proto: 'tls', host: '127.0.0.1', port: 5061 },
    ]);
    assert.equal(c.source, undefined);
    assert.equal(c.advertise, undefined);
    assert.equal(c.data, '/srv/trunkline/data');
    assert.deepEqual(c.database, { kind: 'sqlite', file: '/srv/trunkline/data/trunkline.db' });
    assert.deepEqual(c.tls, { verifyClient: false, minVersion: '1.2', maxVersion: '1.3' });
    assert.deepEqual(c.media, {
      engine: 'builtin',
      ports: { min: 10000, max: 40000 },
      timeout: 30,
      holdTimeout: 3600,
      worker: false,
    });
    assert.deepEqual(c.api, { listen: { host: '127.0.0.1', port: 8080 }, tls: false });
    assert.deepEqual(c.capture, { id: 2001, traceCalls: 200 });
    assert.deepEqual(c.routes, []);
    assert.deepEqual(c.sip, {
      timers: { t1: 500, t2: 4000, t4: 5000 },
      limits: {
        maxMessageBytes: 65536,
        maxHeaders: 100,
        maxHeaderBytes: 16384,
        maxConnectionsPerIp: 64,
        idleTimeoutMs: 300000,
      },
      serverHeader: 'Trunkline',
    });
    assert.deepEqual(c.log, { level: 'info' });
  });

  test('a file of comments, or keys without values, is the defaults too', () => {
    const expected = parseConfig('', BASE);
    assert.deepEqual(parseConfig('# nothing here\n', BASE), expected);
    assert.deepEqual(parseConfig('media:\ntls:\nadvertise:\n', BASE), expected);
  });

  test('the full example config parses', () => {
    const c = parseConfig(
      [
        'listen: [udp:127.0.0.1:5060, tcp:127.0.0.1:5060, tls:127.0.0.1:5061]',
        'advertise: 203.0.113.10',
        'data: ./data',
        'database: sqlite:./data/trunkline.db',
        'tls: {cert: cert.pem, key: key.pem, ca: ca.pem, verifyClient: false}',
        'media: {engine: builtin, address: 127.0.0.1, ports: 10000-40000, timeout: 30}',
        'api: {listen: 127.0.0.1:8080}',
        'capture: {hep: udp:127.0.0.1:9060, id: 2001}',
        'routes:',
        '  - match: {method: INVITE, user: "^\\\\+1", source: 127.0.0.0/8}',
        '    forward: sip:127.0.0.1:5090',
        '    mode: parallel',
        '  - match: {method: MESSAGE}',
        '    reply: 405',
        '  - then: location',
      ].join('\n'),
      BASE,
    );
    assert.equal(c.advertise, '203.0.113.10');
    assert.deepEqual(c.database, { kind: 'sqlite', file: '/srv/trunkline/data/trunkline.db' });
    assert.deepEqual(c.tls, {
      cert: '/srv/trunkline/cert.pem',
      key: '/srv/trunkline/key.pem',
      ca: '/srv/trunkline/ca.pem',
      verifyClient: false,
      minVersion: '1.2',
      maxVersion: '1.3',
    });
    assert.deepEqual(c.media, {
      engine: 'builtin',
      address: '127.0.0.1',
      ports: { min: 10000, max: 40000 },
      timeout: 30,
      holdTimeout: 3600,
      worker: false,
    });
    assert.deepEqual(c.capture, { hep: { proto: 'udp', host: '127.0.0.1', port: 9060 }, id: 2001, traceCalls: 200 });
    assert.deepEqual(c.routes, [
      {
        match: { method: 'INVITE', user: '^\\+1', source: '127.0.0.0/8' },
        forward: ['sip:127.0.0.1:5090'],
        mode: 'parallel',
        stateless: false,
      },
      { match: { method: 'MESSAGE' }, reply: 405, mode: 'serial', stateless: false },
      { match: {}, then: 'location', mode: 'serial', stateless: false },
    ]);
    assert.ok(new RegExp(c.routes[0]!.match.user!).test('+15551234'));
  });

  test('paths resolve against the file directory; absolute paths stay', () => {
    const c = parseConfig('data: /var/lib/trunkline\ntls: {cert: ../c.pem, key: /etc/k.pem}', BASE);
    assert.equal(c.data, '/var/lib/trunkline');
    assert.deepEqual(c.database, { kind: 'sqlite', file: '/var/lib/trunkline/trunkline.db' });
    assert.equal(c.tls.cert, '/srv/c.pem');
    assert.equal(c.tls.key, '/etc/k.pem');
  });

  test('database forms', () => {
    assert.deepEqual(parseConfig('database: sqlite:db/t.db', BASE).database, {
      kind: 'sqlite',
      file: '/srv/trunkline/db/t.db',
    });
    assert.deepEqual(parseConfig('database: "sqlite::memory:"', BASE).database, { kind: 'sqlite', file: ':memory:' });
    assert.deepEqual(parseConfig('database: sqlite:///abs/t.db', BASE).database, { kind: 'sqlite', file: '/abs/t.db' });
    assert.deepEqual(parseConfig('database: postgres://tl@127.0.0.1/tl', BASE).database, {
      kind: 'postgres',
      url: 'postgres://tl@127.0.0.1/tl',
    });
    assert.deepEqual(parseConfig('database: postgresql://h/db', BASE).database, {
      kind: 'postgres',
      url: 'postgresql://h/db',
    });
  });

  test('media: rtpengine defaults its ng address', () => {
    assert.deepEqual(parseConfig('media: {engine: rtpengine}', BASE).media.ng, {
      proto: 'udp',
      host: '127.0.0.1',
      port: 2223,
    });
    assert.deepEqual(parseConfig('media: {engine: rtpengine, ng: "udp:[::1]:22222"}', BASE).media.ng, {
      proto: 'udp',
      host: '::1',
      port: 22222,
    });
  });

  test('sip tuning, routes forward lists, advertise forms', () => {
    const c = parseConfig(
      'sip: {timers: {t1: 50, t2: 400}, limits: {maxConnectionsPerIp: 2}, serverHeader: ""}\n' +
        'routes: [{forward: [sip:a.example, "sips:b.example;transport=tls"], stateless: true}]\n' +
        'advertise: "[2001:db8::1]"',
      BASE,
    );
    assert.deepEqual(c.sip.timers, { t1: 50, t2: 400, t4: 5000 });
    assert.equal(c.sip.limits.maxConnectionsPerIp, 2);
    assert.equal(c.sip.limits.maxHeaders, 100);
    assert.equal(c.sip.serverHeader, '');
    assert.deepEqual(c.routes[0]!.forward, ['sip:a.example', 'sips:b.example;transport=tls']);
    assert.equal(c.routes[0]!.stateless, true);
    assert.equal(c.advertise, '2001:db8::1');
    assert.equal(parseConfig('advertise: sip.example.com', BASE).advertise, 'sip.example.com');
  });

  test('routes: trustRoute alone, or beside an action; absent unless true', () => {
    const c = parseConfig(
      'routes: [{match: {source: 10.0.0.0/8}, trustRoute: true}, {then: location, trustRoute: true}, {then: trunking, trustRoute: false}]',
      BASE,
    );
    assert.deepEqual(c.routes[0], {
      match: { source: '10.0.0.0/8' },
      mode: 'serial',
      stateless: false,
      trustRoute: true,
    });
    assert.equal(c.routes[1]!.trustRoute, true);
    assert.equal(c.routes[1]!.then, 'location');
    assert.equal('trustRoute' in c.routes[2]!, false);
  });
});

describe('unknown keys', () => {
  const cases: [string, string][] = [
    ['portz: 1', 'config: unknown key "portz"'],
    ['media: {portz: 1}', 'config: unknown key "media.portz"'],
    ['tls: {certificate: x}', 'config: unknown key "tls.certificate"'],
    ['api: {port: 1}', 'config: unknown key "api.port"'],
    ['capture: {hepp: x}', 'config: unknown key "capture.hepp"'],
    ['log: {lvl: debug}', 'config: unknown key "log.lvl"'],
    ['sip: {timers: {t3: 1}}', 'config: unknown key "sip.timers.t3"'],
    ['sip: {limits: {maxBytes: 1}}', 'config: unknown key "sip.limits.maxBytes"'],
    ['routes: [{then: location, match: {uri: x}}]', 'config: unknown key "routes[0].match.uri"'],
    ['routes: [{then: location}, {then: location, fwd: x}]', 'config: unknown key "routes[1].fwd"'],
  ];
  for (const [yaml, message] of cases) {
    test(message, () => assert.equal(errorOf(yaml), message));
  }

  test('every problem is named, unknown keys first', () => {
    assert.equal(
      errorOf('log: {level: loud}\nfoo: 1\nmedia: {bar: 2}'),
      'config: unknown key "media.bar"; unknown key "foo"; log.level: expected fatal|error|warn|info|debug|trace|silent, got "loud"',
    );
  });
});

describe('values', () => {
  const cases: [string, string][] = [
    ['listen: 5060', 'listen: expected a list of udp|tcp|tls|ws|wss:IP:PORT, got 5060'],
    ['listen: []', 'listen: expected a list of udp|tcp|tls|ws|wss:IP:PORT, got an empty list'],
    ['advertise: "not a host!"', 'advertise: expected an IP address or a host name, got "not a host!"'],
    ['data: 5', 'data: expected a file path, got 5'],
    ['data: ""', 'data: expected a file path, got ""'],
    ['database: mysql://x/y', 'database: expected sqlite:PATH or postgres://USER@HOST/DB, got "mysql://x/y"'],
    ['tls: {cert: a.pem}', 'tls.key: expected cert and key together (or neither, for a generated certificate)'],
    ['tls: {key: a.pem}', 'tls.cert: expected cert and key together (or neither, for a generated certificate)'],
    ['tls: {verifyClient: yes}', 'tls.verifyClient: expected true or false, got "yes"'],
    ['tls: {maxVersion: "1.1"}', 'tls.maxVersion: expected 1.2|1.3, got "1.1"'],
    ['tls: {maxVersion: 1.0}', 'tls.maxVersion: expected 1.2|1.3, got 1'],
    ['tls: {minVersion: "1.3", maxVersion: "1.2"}', 'tls.maxVersion: expected a version not below minVersion 1.3'],
    ['registrar: {algorithms: [MD4]}', 'registrar.algorithms[0]: expected SHA-256|MD5, got "MD4"'],
    [
      'registrar: {minExpires: 600, maxExpires: 60}',
      'registrar.maxExpires: expected maxExpires >= minExpires (600), got 60',
    ],
    [
      'registrar: {defaultExpires: 30}',
      'registrar.defaultExpires: expected a value from minExpires to maxExpires, got 30',
    ],
    ['registrar: {keepAlive: -1}', 'registrar.keepAlive: expected seconds 0-3600, got -1'],
    ['registrar: {keepAlive: 1.5}', 'registrar.keepAlive: expected seconds 0-3600, got 1.5'],
    ['tls: [a]', 'tls: expected a mapping of keys, got ["a"]'],
    ['media: {engine: asterisk}', 'media.engine: expected builtin|rtpengine|none, got "asterisk"'],
    ['media: {address: localhost}', 'media.address: expected an IP address, got "localhost"'],
    ['media: {ports: 40000-10000}', 'media.ports: expected a port range like 10000-40000, got "40000-10000"'],
    ['media: {ports: 10000}', 'media.ports: expected a port range like 10000-40000, got 10000'],
    ['media: {timeout: -1}', 'media.timeout: expected a number of seconds 1-86400, got -1'],
    ['media: {ng: "tcp:127.0.0.1:2223"}', 'media.ng: expected udp:IP:PORT, got "tcp:127.0.0.1:2223"'],
    ['api: {listen: 8080}', 'api.listen: expected IP:PORT, got 8080'],
    ['api: {listen: "localhost:8080"}', 'api.listen: expected IP:PORT, got "localhost:8080"'],
    ['capture: {hep: "127.0.0.1:9060"}', 'capture.hep: expected udp|tcp:IP:PORT, got "127.0.0.1:9060"'],
    ['capture: {id: 1.5}', 'capture.id: expected an integer 0-4294967295, got 1.5'],
    ['capture: {traceCalls: -1}', 'capture.traceCalls: expected an integer 0-100000, got -1'],
    ['routes: {then: location}', 'routes: expected a list, got {"then":"location"}'],
    ['routes: [{}]', 'routes[0]: expected one of forward, reply or then (or trustRoute: true)'],
    ['routes: [{trustRoute: false}]', 'routes[0]: expected one of forward, reply or then (or trustRoute: true)'],
    ['routes: [{trustRoute: 1}]', 'routes[0].trustRoute: expected true or false, got 1'],
    [
      'routes: [{reply: 404, then: location}]',
      'routes[0]: expected only one of forward, reply or then, got reply and then',
    ],
    ['routes: [{forward: http://x}]', 'routes[0].forward[0]: expected a sip: or sips: URI, got "http://x"'],
    ['routes: [{forward: []}]', 'routes[0].forward: expected a sip: URI or a list of them, got an empty list'],
    ['routes: [{forward: sip:x, mode: random}]', 'routes[0].mode: expected parallel|serial, got "random"'],
    ['routes: [{reply: 100}]', 'routes[0].reply: expected a SIP status code 200-699, got 100'],
    ['routes: [{then: voicemail}]', 'routes[0].then: expected location|trunking, got "voicemail"'],
    ['routes: [{then: location, stateless: 1}]', 'routes[0].stateless: expected true or false, got 1'],
    [
      'routes: [{then: location, match: {method: "IN VITE"}}]',
      'routes[0].match.method: expected a SIP method like INVITE, got "IN VITE"',
    ],
    [
      'routes: [{then: location, match: {user: "(+"}}]',
      'routes[0].match.user: expected a regular expression, got "(+"',
    ],
    [
      'routes: [{then: location, match: {source: 10.0.0.0/33}}]',
      'routes[0].match.source: expected an IP address or CIDR block, got "10.0.0.0/33"',
    ],
    ['sip: {timers: {t1: 0}}', 'sip.timers.t1: expected milliseconds 1-60000, got 0'],
    ['sip: {timers: {t1: 5000, t2: 4000}}', 'sip.timers.t2: expected t2 >= t1 (5000), got 4000'],
    ['sip: {timers: {t4: "5s"}}', 'sip.timers.t4: expected milliseconds 1-600000, got "5s"'],
    ['sip: {limits: {maxMessageBytes: 10}}', 'sip.limits.maxMessageBytes: expected bytes 256-16777216, got 10'],
    ['sip: {limits: {maxHeaders: 0}}', 'sip.limits.maxHeaders: expected an integer 1-10000, got 0'],
    ['sip: {limits: {maxHeaderBytes: 1}}', 'sip.limits.maxHeaderBytes: expected bytes 64-1048576, got 1'],
    ['sip: {limits: {maxConnectionsPerIp: 0}}', 'sip.limits.maxConnectionsPerIp: expected an integer 1-1000000, got 0'],
    ['sip: {limits: {idleTimeoutMs: 0}}', 'sip.limits.idleTimeoutMs: expected milliseconds 1-86400000, got 0'],
    [
      'sip: {serverHeader: "a\\r\\nb"}',
      'sip.serverHeader: expected printable text without line breaks, at most 200 characters, got "a\\r\\nb"',
    ],
    ['log: {level: loud}', 'log.level: expected fatal|error|warn|info|debug|trace|silent, got "loud"'],
    ['log: 3', 'log: expected a mapping of keys, got 3'],
    ['- listen', 'expected a mapping of keys at the top level, got ["listen"]'],
  ];
  for (const [yaml, message] of cases) {
    test(message, () => assert.equal(errorOf(yaml), `config: ${message}`));
  }
});

describe('listen', () => {
  test('entries parse into proto, host, port', () => {
    const c = parseConfig(
      'listen:\n  - udp:0.0.0.0:5060\n  - TCP:10.1.2.3:5080\n  - tls:[::1]:5061\n  - ws:127.0.0.1:8088\n  - "wss:[2001:db8::5]:443"\n  - udp:127.0.0.1:0\n',
      BASE,
    );
    assert.deepEqual(c.listen, [
      { proto: 'udp', host: '0.0.0.0', port: 5060 },
      { proto: 'tcp', host: '10.1.2.3', port: 5080 },
      { proto: 'tls', host: '::1', port: 5061 },
      { proto: 'ws', host: '127.0.0.1', port: 8088 },
      { proto: 'wss', host: '2001:db8::5', port: 443 },
      { proto: 'udp', host: '127.0.0.1', port: 0 },
    ]);
  });

  test('IPv6 in a flow list needs quotes (YAML), and then works', () => {
    assert.deepEqual(parseConfig('listen: ["udp:[::1]:5060", "tcp:[::]:5060"]', BASE).listen, [
      { proto: 'udp', host: '::1', port: 5060 },
      { proto: 'tcp', host: '::', port: 5060 },
    ]);
    assert.match(errorOf('listen: [udp:[::1]:5060]'), /^config: YAML syntax error at line 1/);
  });

  test('one entry without a list', () => {
    assert.deepEqual(parseConfig('listen: udp:127.0.0.1:5070', BASE).listen, [
      { proto: 'udp', host: '127.0.0.1', port: 5070 },
    ]);
  });

  const bad = [
    'tcp:localhost',
    'tcp:localhost:5060',
    'udp:127.0.0.1',
    'udp:127.0.0.1:65536',
    'udp:127.0.0.1:-1',
    'udp:127.0.0.1:50x',
    'sctp:127.0.0.1:5060',
    '127.0.0.1:5060',
    'udp:::1:5060',
    'udp:[::1:5060',
    'udp:[127.0.0.1]:5060',
    'udp:[::g]:5060',
    'udp:256.0.0.1:5060',
    'udp: 127.0.0.1 5060',
  ];
  for (const entry of bad) {
    test(`refuses ${entry}`, () => {
      assert.equal(
        errorOf(`listen:\n  - udp:127.0.0.1:5060\n  - ${JSON.stringify(entry)}`),
        `config: listen[1]: expected udp|tcp|tls|ws|wss:IP:PORT, got ${JSON.stringify(entry)}`,
      );
    });
  }

  test('the exact message of the brief', () => {
    assert.equal(
      errorOf('listen: [udp:127.0.0.1:5060, tcp:localhost]'),
      'config: listen[1]: expected udp|tcp|tls|ws|wss:IP:PORT, got "tcp:localhost"',
    );
  });

  test('the object form: a listener with its advertised address, media address and networks', () => {
    const c = parseConfig(
      [
        'listen:',
        '  - udp:203.0.113.5:5060',
        '  - {listen: "udp:10.0.0.5:5060", advertise: 198.51.100.10, media: 10.0.0.6, networks: [10.0.0.0/8, 172.16.0.0/12]}',
        '  - {listen: "tcp:10.0.0.5:5060", advertise: sbc.example.com, networks: 192.168.0.0/16}',
        '  - listen: "tls:[::1]:5061"',
      ].join('\n'),
      BASE,
    );
    assert.deepEqual(c.listen, [
      { proto: 'udp', host: '203.0.113.5', port: 5060 },
      {
        proto: 'udp',
        host: '10.0.0.5',
        port: 5060,
        advertise: '198.51.100.10',
        media: '10.0.0.6',
        networks: ['10.0.0.0/8', '172.16.0.0/12'],
      },
      { proto: 'tcp', host: '10.0.0.5', port: 5060, advertise: 'sbc.example.com', networks: ['192.168.0.0/16'] },
      { proto: 'tls', host: '::1', port: 5061 },
    ]);
  });

  const badObjects: Array<[string, string]> = [
    [
      '{listen: "tcp:localhost:5060"}',
      'listen[1].listen: expected udp|tcp|tls|ws|wss:IP:PORT, got "tcp:localhost:5060"',
    ],
    ['{advertise: 198.51.100.10}', 'listen[1].listen: expected udp|tcp|tls|ws|wss:IP:PORT, got nothing'],
    [
      '{listen: "udp:10.0.0.5:5060", advertise: "not a host"}',
      'listen[1].advertise: expected an IP address or a host name, got "not a host"',
    ],
    [
      '{listen: "udp:10.0.0.5:5060", media: "::1"}',
      'listen[1].media: expected an IPv4 address like the listener\'s, got "::1"',
    ],
    [
      '{listen: "udp:10.0.0.5:5060", media: media.example.com}',
      'listen[1].media: expected an IP address, got "media.example.com"',
    ],
    [
      '{listen: "udp:10.0.0.5:5060", networks: [10.0.0.0/33]}',
      'listen[1].networks[0]: expected an IP address or CIDR block, got "10.0.0.0/33"',
    ],
    [
      '{listen: "udp:10.0.0.5:5060", networks: "fd00::/8"}',
      'listen[1].networks: expected IPv4 blocks like the listener\'s, got "fd00::/8"',
    ],
    ['{listen: "udp:10.0.0.5:5060", adverstise: 198.51.100.10}', 'unknown key "listen[1].adverstise"'],
  ];
  for (const [entry, message] of badObjects) {
    test(`refuses ${entry}`, () => {
      assert.equal(errorOf(`listen:\n  - udp:127.0.0.1:5060\n  - ${entry}`), `config: ${message}`);
    });
  }

  test('helpers round-trip', () => {
    for (const text of ['udp:127.0.0.1:5060', 'tls:[::1]:5061', 'wss:[2001:db8::1]:0']) {
      assert.equal(formatListen(parseListen(text)!), text);
    }
    assert.deepEqual(parseHostPort('[::1]:8080'), { host: '::1', port: 8080 });
    assert.equal(parseHostPort('::1:8080'), undefined);
  });
});

describe('YAML syntax', () => {
  test('an error names the line', () => {
    assert.match(
      errorOf('media:\n  engine: builtin\n  ports: [1\n'),
      /^config: YAML syntax error at line 4, column 1: Flow sequence .* end with a \]$/,
    );
    assert.match(
      errorOf('listen: [udp:127.0.0.1:5060]\napi: {listen: 127.0.0.1:8080\nlog: x'),
      /^config: YAML syntax error at line 3, column 1: Flow map /,
    );
    const msg = errorOf('data: ./data\n\tlog: {level: info}\n');
    assert.match(msg, /^config: YAML syntax error at line 2, column \d+: /);
  });

  test('nested compact mapping names its line', () => {
    assert.equal(
      errorOf('data: a: b'),
      'config: YAML syntax error at line 1, column 7: Nested mappings are not allowed in compact mappings',
    );
  });

  test('duplicate keys are refused', () => {
    assert.match(
      errorOf('data: a\ndata: b\n'),
      /^config: YAML syntax error at line 2, column 1: Map keys must be unique/,
    );
  });
});

describe('loadConfig: which file', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trunkline-config-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('no file anywhere: embedded defaults, paths against cwd', async () => {
    const cwd = join(dir, 'empty');
    await mkdir(cwd);
    const c = await loadConfig({ cwd, env: {} });
    assert.equal(c.source, undefined);
    assert.equal(c.data, join(cwd, 'data'));
    assert.deepEqual(c.listen.map(formatListen), ['udp:127.0.0.1:5060', 'tcp:127.0.0.1:5060', 'tls:127.0.0.1:5061']);
  });

  test('./trunkline.yaml in cwd is read when present', async () => {
    const cwd = join(dir, 'local');
    await mkdir(cwd);
    await writeFile(join(cwd, 'trunkline.yaml'), 'log: {level: debug}\n');
    const c = await loadConfig({ cwd, env: {} });
    assert.equal(c.source, join(cwd, 'trunkline.yaml'));
    assert.equal(c.log.level, 'debug');
    assert.equal(c.data, join(cwd, 'data'));
  });

  test('TRUNKLINE_CONFIG wins over ./trunkline.yaml; paths resolve against its directory', async () => {
    const cwd = join(dir, 'local');
    const etc = join(dir, 'etc');
    await mkdir(etc);
    await writeFile(join(etc, 'tl.yaml'), 'log: {level: warn}\ndata: state\n');
    const c = await loadConfig({ cwd, env: { TRUNKLINE_CONFIG: '../etc/tl.yaml' } });
    assert.equal(c.source, join(etc, 'tl.yaml'));
    assert.equal(c.log.level, 'warn');
    assert.equal(c.data, join(etc, 'state'));
    assert.deepEqual(c.database, { kind: 'sqlite', file: join(etc, 'state', 'trunkline.db') });
  });

  test('an empty TRUNKLINE_CONFIG counts as unset', async () => {
    const c = await loadConfig({ cwd: join(dir, 'local'), env: { TRUNKLINE_CONFIG: '' } });
    assert.equal(c.log.level, 'debug');
  });

  test('--config wins over TRUNKLINE_CONFIG', async () => {
    const other = join(dir, 'other.yaml');
    await writeFile(other, 'log: {level: error}\n');
    const c = await loadConfig({
      file: other,
      cwd: join(dir, 'local'),
      env: { TRUNKLINE_CONFIG: join(dir, 'etc', 'tl.yaml') },
    });
    assert.equal(c.log.level, 'error');
    assert.equal(c.source, other);
  });

  test('a named file that is missing is an error naming it', async () => {
    await assert.rejects(loadConfig({ file: 'missing.yaml', cwd: dir, env: {} }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.equal(err.message, `config: cannot read ${join(dir, 'missing.yaml')}: no such file`);
      return true;
    });
    await assert.rejects(loadConfig({ cwd: dir, env: { TRUNKLINE_CONFIG: join(dir, 'nope.yaml') } }), ConfigError);
  });

  test('a bad file is a ConfigError from loadConfig too', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'media:\n  portz: 1\n');
    await assert.rejects(loadConfig({ file: bad, env: {} }), {
      name: 'ConfigError',
      message: 'config: unknown key "media.portz"',
    });
  });
});

describe('TLS files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'trunkline-tls-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const configIn = (sub: string, yaml = ''): TrunklineConfig => parseConfig(yaml, join(dir, sub));

  test('generates a localhost certificate once, then reuses it', async () => {
    const config = configIn('a');
    const first = await ensureTlsFiles(config);
    assert.equal(first.generated, true);
    assert.equal(first.certFile, join(dir, 'a', 'data', 'tls', 'cert.pem'));
    assert.equal(first.keyFile, join(dir, 'a', 'data', 'tls', 'key.pem'));
    assert.equal(first.ca, undefined);

    const x509 = new X509Certificate(first.cert);
    assert.match(x509.subject, /CN=localhost/);
    assert.equal(x509.subject, x509.issuer, 'self-signed');
    const san = x509.subjectAltName ?? '';
    assert.match(san, /DNS:localhost/);
    assert.match(san, /IP Address:127\.0\.0\.1/);
    assert.match(san, /IP Address:(::1|0:0:0:0:0:0:0:1)\b/);
    assert.equal(x509.checkHost('localhost'), 'localhost');
    assert.equal(x509.checkIP('127.0.0.1'), '127.0.0.1');
    const days = (Date.parse(x509.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 360 && days < 367, `valid ~1 year, got ${days} days`);
    assert.ok(x509.checkPrivateKey(createPrivateKey(first.key)));

    assert.equal((await stat(first.keyFile)).mode & 0o777, 0o600);
    assert.deepEqual(await readFile(first.certFile), first.cert);

    const second = await ensureTlsFiles(config);
    assert.equal(second.generated, false);
    assert.deepEqual(second.cert, first.cert);
    assert.deepEqual(second.key, first.key);
  });

  test('a damaged generated pair is made again', async () => {
    const config = configIn('b');
    const first = await ensureTlsFiles(config);
    await writeFile(first.keyFile, 'garbage');
    const again = await ensureTlsFiles(config);
    assert.equal(again.generated, true);
    assert.notDeepEqual(again.cert, first.cert);
  });

  test('configured files are read, not generated; ca comes along', async () => {
    const made = await ensureTlsFiles(configIn('c'));
    const own = join(dir, 'own');
    await mkdir(own);
    await writeFile(join(own, 'c.pem'), made.cert);
    await writeFile(join(own, 'k.pem'), made.key);
    await writeFile(join(own, 'ca.pem'), made.cert);
    const files = await ensureTlsFiles(parseConfig('tls: {cert: c.pem, key: k.pem, ca: ca.pem}', own));
    assert.equal(files.generated, false);
    assert.deepEqual(files.cert, made.cert);
    assert.deepEqual(files.ca, made.cert);
    await assert.rejects(stat(join(own, 'data')), 'nothing generated');
  });

  test('a missing configured file or a key of another cert is a ConfigError naming it', async () => {
    const own = join(dir, 'own');
    await assert.rejects(ensureTlsFiles(parseConfig('tls: {cert: none.pem, key: k.pem}', own)), {
      name: 'ConfigError',
      message: `config: tls.cert: cannot read ${join(own, 'none.pem')}: no such file`,
    });
    const other = await ensureTlsFiles(configIn('d'));
    await writeFile(join(own, 'other-key.pem'), other.key);
    await assert.rejects(ensureTlsFiles(parseConfig('tls: {cert: c.pem, key: other-key.pem}', own)), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /^config: tls: .*the key does not belong to the certificate$/);
      return true;
    });
  });
});

describe('registrar', () => {
  test('defaults to SHA-256 then MD5 and RFC-sensible expires bounds', () => {
    const c = parseConfig('', '/tmp');
    assert.deepEqual(c.registrar, {
      minExpires: 60,
      defaultExpires: 3600,
      maxExpires: 7200,
      algorithms: ['SHA-256', 'MD5'],
      keepAlive: 30,
      checkFromUser: true,
    });
  });
  test('takes one algorithm name or a list', () => {
    assert.deepEqual(parseConfig('registrar: {algorithms: MD5}', '/tmp').registrar.algorithms, ['MD5']);
    assert.deepEqual(parseConfig('registrar: {algorithms: [MD5, SHA-256]}', '/tmp').registrar.algorithms, [
      'MD5',
      'SHA-256',
    ]);
  });
  test('keepAlive takes seconds, 0 turning it off', () => {
    assert.equal(parseConfig('registrar: {keepAlive: 0}', '/tmp').registrar.keepAlive, 0);
    assert.equal(parseConfig('registrar: {keepAlive: 15}', '/tmp').registrar.keepAlive, 15);
  });
  test('checkFromUser takes true or false; anything else names the key', () => {
    assert.equal(parseConfig('registrar: {checkFromUser: false}', '/tmp').registrar.checkFromUser, false);
    assert.throws(() => parseConfig('registrar: {checkFromUser: maybe}', '/tmp'), /registrar\.checkFromUser/);
  });
});

describe('routing: carrier quality and gateway load', () => {
  test('defaults: figures kept, no threshold, no carrier settings', () => {
    const c = parseConfig('', BASE);
    assert.deepEqual(c.routing.quality, {
      window: 100,
      windowMinutes: 60,
      minCalls: 20,
      minAsr: 0,
      minNer: 0,
      maxPdd: 0,
      minMos: 0,
      coolDown: 300,
    });
    assert.deepEqual(c.routing.carriers, []);
    assert.deepEqual([c.routing.module, c.routing.moduleBudgetMs], [undefined, 50]);
    // The routing module's file: relative to the config file's directory.
    const m = parseConfig('routing: {module: lib/route.mjs, moduleBudgetMs: 20}', '/etc/trunkline');
    assert.deepEqual([m.routing.module, m.routing.moduleBudgetMs], ['/etc/trunkline/lib/route.mjs', 20]);
    const g = parseConfig('routing: {carriers: [{carrier: up, gateways: [{uri: "sip:a", weight: 3}]}]}', BASE);
    assert.deepEqual(g.routing.carriers[0], {
      carrier: 'up',
      balance: 'weighted',
      gateways: [{ uri: 'sip:a', priority: 1, weight: 3 }],
    });
  });

  const cases: [string, string][] = [
    ['routing: {quality: {minMos: 7}}', 'config: routing.quality.minMos: expected 0 or a MOS 1-5, got 7'],
    ['routing: {quality: {minAsr: 120}}', 'config: routing.quality.minAsr: expected a percent 0-100, got 120'],
    ['routing: {quality: {coolDown: 0}}', 'config: routing.quality.coolDown: expected seconds 1-86400, got 0'],
    ['routing: {quality: {minAsrr: 1}}', 'config: unknown key "routing.quality.minAsrr"'],
    ['routing: {moduleBudgetMs: 0}', 'config: routing.moduleBudgetMs: expected ms 1-10000, got 0'],
    [
      'routing: {carriers: [{carrier: up, balance: random}]}',
      'config: routing.carriers[0].balance: expected weighted|hash, got "random"',
    ],
    [
      'routing: {carriers: [{carrier: up, gateways: [{uri: "sip:a", weight: 0}]}]}',
      'config: routing.carriers[0].gateways[0].weight: expected an integer 1-1000000, got 0',
    ],
    [
      'routing: {carriers: [{carrier: up}, {carrier: up}]}',
      'config: routing.carriers[1].carrier: carrier up given twice',
    ],
  ];
  for (const [yaml, message] of cases) {
    test(message, () => assert.equal(errorOf(yaml), message));
  }
});
