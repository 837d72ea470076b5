import { reservePortRange } from '../helpers/port-ranges.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { freePort } from '../helpers/ports.js';
import { startTrunkline } from '../helpers/server.js';
import { sipp, sippBackground, scenarioWith, haveCommand } from '../helpers/sipp.js';
import { run as runCli } from '../cli/helpers.js';

/**
 * Secrets never reach the logs: a server at log level debug goes
 * through registrations with right and wrong passwords, an API token in use,
 * a carrier's 407 answered with its password, and an SRTP leg whose offer
 * carries a fresh key; then its whole output, and every CLI command's, is
 * searched for the passwords, their HA1s (MD5 and SHA-256), the token and
 * any SDES key (`inline:`).
 */
const skip = !haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)';

const USER_PW = 'Alice-Secret-9f3e';
const CARRIER_PW = 'Carrier-Secret-7d1c';
const md5 = (s: string): string => createHash('md5').update(s).digest('hex');
const sha256 = (s: string): string => createHash('sha256').update(s).digest('hex');

test(
  'no password, HA1, token or SRTP key in the logs of a server at debug level, nor in CLI output',
  { skip, timeout: 90_000 },
  async () => {
    const [port, apiPort, gwPort, pbxPort, regPort] = await Promise.all([
      freePort(),
      freePort(),
      freePort(),
      freePort(),
      freePort(),
    ]);
    const media = reservePortRange(1000);
    const server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${port}]`,
        `api: {listen: "127.0.0.1:${apiPort}"}`,
        'log: {level: debug}',
        'registrar: {algorithms: MD5}',
        'sip: {timers: {t1: 100, t2: 4000, t4: 5000}}',
        'trunking: {gatewayTimeout: 3, ping: {interval: 0}}',
        `media: {ports: ${media.min}-${media.max}}`,
        '',
      ].join('\n'),
    );
    const outputs: string[] = [];
    let tokenSeen = '\u0000';
    const cli = async (args: string[], input?: string): Promise<string> => {
      const r = await runCli([...args, '--config', server.configFile], input === undefined ? {} : { input });
      outputs.push(r.stdout, r.stderr);
      assert.equal(r.code, 0, `${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    try {
      await cli(['domain', 'add', 'example.test']);
      await cli(['subscriber', 'add', 'alice@example.test', '--password-stdin'], `${USER_PW}\n`);
      const token = (await cli(['token', 'add', 'ops', '--role', 'admin'])).trim().split(/\s+/).at(-1)!;
      assert.ok(token.length >= 20, `token printed: ${token}`);
      tokenSeen = token;
      await cli(['account', 'add', 'acme']);
      await cli([
        'trunk',
        'add',
        'pbx',
        '--account',
        'acme',
        '--ip',
        '127.0.0.2/32',
        '--dest',
        `sip:127.0.0.2:${pbxPort}`,
        '--media',
        'srtp',
      ]);
      await cli(['did', 'add', '+912240001234', '--trunk', 'pbx']);
      await cli(
        [
          'carrier',
          'add',
          'secured',
          '--gateway',
          `sip:127.0.0.7:${gwPort}`,
          '--username',
          'acme-trunk',
          '--password-stdin',
        ],
        `${CARRIER_PW}\n`,
      );
      await cli(['route', 'add', '+', '--carrier', 'secured']);
      await cli(['carrier', 'list', '--json']);
      await cli(['carrier', 'show', 'secured', '--json']);
      await new Promise((r) => setTimeout(r, 2200));

      // Registrations: a wrong password, then the right one.
      const reg = (expect: string, pw: string) =>
        sipp({
          scenario: scenarioWith('registrar-register.xml', { domain: 'example.test', expect }),
          target: `127.0.0.1:${port}`,
          ip: '127.0.0.10',
          localPort: regPort,
          extra: ['-s', 'alice', '-au', 'alice', '-ap', pw, '-auth_uri', 'example.test'],
        });
      assert.equal((await reg('401', 'wrong-password')).code, 0);
      assert.equal((await reg('200', USER_PW)).code, 0);

      // The API with the token.
      const res = await fetch(`http://127.0.0.1:${apiPort}/api/v1/domains`, {
        headers: { authorization: `Bearer ${token}` },
      });
      assert.equal(res.status, 200);

      // An outbound call: the carrier challenges (its password answers); an inbound one to the SRTP trunk (a fresh key in its offer).
      const gw = sippBackground(scenarioWith('trunk-uas-challenge-407.xml', {}), gwPort, {
        ip: '127.0.0.7',
        timeoutS: 20,
      });
      const out = await sipp({
        scenario: scenarioWith('trunk-uac-call.xml', {
          caller: '+912240001234',
          hidden: 'X-Call-Sid',
          hiddenAddr: '127\\.0\\.0\\.7',
          hold: '0',
        }),
        target: `127.0.0.1:${port}`,
        ip: '127.0.0.2',
        localPort: await freePort(),
        timeoutS: 20,
        extra: ['-s', '+442071234567'],
      });
      assert.equal(out.code, 0, out.stdout.slice(-1500));
      assert.equal((await gw.done).code, 0);
      const pbx = sippBackground(
        scenarioWith('trunk-uas-expect.xml', {
          must: 'a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:',
          hidden: 'X-Internal-Secret',
          hiddenAddr: '127\\.0\\.0\\.7',
        }),
        pbxPort,
        { ip: '127.0.0.2', timeoutS: 20 },
      );
      // The carrier (127.0.0.7 is a gateway of `secured`) calls the DID; the PBX's RTP/AVP answer to an SRTP offer may be refused: only the offer matters here.
      await sipp({
        scenario: scenarioWith('trunk-uac-call.xml', {
          caller: '+15550001111',
          hidden: 'X-Call-Sid',
          hiddenAddr: '127\\.0\\.0\\.2',
          hold: '0',
        }),
        target: `127.0.0.1:${port}`,
        ip: '127.0.0.7',
        localPort: await freePort(),
        timeoutS: 10,
        extra: ['-s', '+912240001234'],
      });
      await pbx.stop();
      await cli(['cdr', 'list', '--json']);
      await cli(['calls', '--json']);
    } finally {
      await server.stop();
    }
    const all = [server.output(), ...outputs].join('\n');
    const secrets: Array<[string, string]> = [
      ['subscriber password', USER_PW],
      ['carrier password', CARRIER_PW],
      ['HA1 MD5', md5(`alice:example.test:${USER_PW}`)],
      ['HA1 SHA-256', sha256(`alice:example.test:${USER_PW}`)],
      ['SDES key', 'inline:'],
    ];
    for (const [what, value] of secrets) assert.ok(!all.includes(value), `${what} found in the logs`);
    // The token itself: printed once by `token add` (that is its purpose), never by the server.
    assert.ok(!server.output().includes(tokenSeen), 'the API token found in the server log');
    assert.ok(server.output().length > 1000, 'the server logged (debug) as it worked');
  },
);
