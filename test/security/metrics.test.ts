/**
 * /metrics of a running server after each kind of attack, each from a host
 * of its own: trunkline_security_drops_total{reason} and
 * trunkline_security_bans_total{reason} count what happened and nothing
 * else, with label values from their fixed sets, and the counters they
 * sum are not exported again one by one.
 *
 *   scanner      svmap (Debian's sipvicious: its friendly-scanner UA)
 *   flood        SIPp, OPTIONS at 400/s (the default density is 20 per 2 s);
 *                then banned: its later requests are drops{banned}
 *   auth         SIPp REGISTERs with a wrong password (3 failures ban)
 *   manual       `trunkline ban add` (the real CLI, through the store)
 *   maxforwards, sanity, sqli, acl, lists, foreign-route, forged-dialog:
 *                one request each from a socket of the test, counted exactly
 *
 * svmap sends from 127.0.0.1 whatever it is told, the server's own
 * address: the server runs with `trustSelf: false` (see sipvicious.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { freePort } from '../helpers/ports.js';
import { startTrunkline } from '../helpers/server.js';
import { haveCommand, run, scenarioWith, sipp } from '../helpers/sipp.js';
import { UdpPeer, cli, securityScenario, sleep } from './helpers.js';
import { elapsedUntil } from '../helpers/wait.js';

const skip =
  (!haveCommand('sipp') && 'sipp not installed (scripts/install-deps.sh)') ||
  (!haveCommand('svmap') && 'sipvicious not installed (scripts/install-deps.sh)');

const DROPS = [
  'banned',
  'scanner',
  'maxforwards',
  'sanity',
  'acl',
  'lists',
  'sqli',
  'foreign-route',
  'forged-dialog',
  'other',
];
const BANS = ['flood', 'auth', 'manual'];

/** Every sample of `name` as label value of `label` -> value. */
function samples(text: string, name: string, label: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)\{([^}]*)\} (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const v = new RegExp(`(?:^|,)${label}="([^"]*)"`).exec(m[2]!)?.[1];
    if (v !== undefined) out.set(v, Number(m[3]));
  }
  return out;
}

test(
  'security drops and bans by reason on /metrics, each caused by a real peer or request',
  { skip, timeout: 120_000 },
  async () => {
    const port = await freePort();
    const server = await startTrunkline(
      `listen: [udp:127.0.0.1:${port}]\nregistrar: {algorithms: MD5}\nsecurity: {trustSelf: false}\n`,
    );
    const peers: UdpPeer[] = [];
    const peer = async (host: string): Promise<UdpPeer> => {
      const p = await new UdpPeer(host).open();
      peers.push(p);
      return p;
    };
    try {
      const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())?.[1];
      assert.ok(api, `no API address in the log:\n${server.output()}`);
      const scrape = async () => {
        const text = await (await fetch(`${api}/metrics`)).text();
        return {
          text,
          drops: samples(text, 'trunkline_security_drops_total', 'reason'),
          bans: samples(text, 'trunkline_security_bans_total', 'reason'),
        };
      };
      for (const args of [
        ['domain', 'add', '127.0.0.1'],
        ['subscriber', 'add', '1000@127.0.0.1', '--password-stdin'],
      ]) {
        const r = await cli(server.configFile, args, args[0] === 'subscriber' ? 'right-password-1\n' : undefined);
        assert.equal(r.code, 0, r.stderr);
      }

      // Before anything: every reason present at 0, and nothing else.
      let m = await scrape();
      assert.deepEqual([...m.drops.keys()].sort(), [...DROPS].sort());
      assert.deepEqual([...m.bans.keys()].sort(), [...BANS].sort());
      assert.ok(
        [...m.drops.values(), ...m.bans.values()].every((v) => v === 0),
        m.text,
      );

      // Scanner: svmap's requests are dropped.
      const svmap = await run('svmap', ['-p', String(port), '127.0.0.1'], 30_000);
      assert.match(svmap.stdout + svmap.stderr, /found nothing/);
      m = await scrape();
      assert.ok(m.drops.get('scanner')! >= 1, m.text);

      // One refusal of each pipeline step, counted exactly.
      const p = await peer('127.0.0.51');
      const steps: Array<[string, Parameters<UdpPeer['ask']>[1], number]> = [
        ['maxforwards', { method: 'INVITE', ruri: 'sip:bob@example.org', maxForwards: 0 }, 483],
        ['sanity', { method: 'MESSAGE', ruri: 'http://example.org/' }, 416],
        ['sqli', { method: 'INVITE', ruri: "sip:1'or'1'='1@127.0.0.1" }, 403],
        // The proxy's Route policy (src/proxy/route-policy.ts): nothing is sent to 127.0.0.200.
        [
          'foreign-route',
          { method: 'MESSAGE', ruri: 'sip:bob@127.0.0.1', extra: ['Route: <sip:127.0.0.200:5999;lr>'] },
          403,
        ],
        [
          'forged-dialog',
          { method: 'MESSAGE', ruri: 'sip:bob@127.0.0.200:5999', to: '<sip:bob@example.org>;tag=x1' },
          403,
        ],
      ];
      for (const [reason, req, status] of steps) {
        const before = (await scrape()).drops.get(reason)!;
        assert.equal((await p.ask(port, req))?.status, status, reason);
        assert.equal((await scrape()).drops.get(reason), before + 1, reason);
      }

      // ACL and lists, changed by the CLI (the server reads the store within 2 s).
      const q = await peer('127.0.0.52');
      let r = await cli(server.configFile, ['acl', 'add', 'blocked', '--deny', '127.0.0.52/32']);
      assert.equal(r.code, 0, r.stderr);
      // (Before the change, such a request is refused too, 403 with another reason: relaying denied, no route. A MESSAGE:
      // the proxy's 403 to an INVITE is retransmitted until an ACK, which these sockets never send.)
      const message = { method: 'MESSAGE', ruri: 'sip:bob@example.org' };
      assert.ok(
        (await elapsedUntil(async () => (await q.ask(port, message, 300))?.reason === 'Forbidden', {
          timeoutMs: 5000,
        })) >= 0,
        'the acl took effect',
      );
      let before = (await scrape()).drops.get('acl')!;
      assert.ok(
        before >= 1,
        `${before}: ${(await scrape()).text
          .split('\n')
          .filter((x) => x.includes('security'))
          .join('\n')}`,
      );
      assert.equal((await q.ask(port, message))?.reason, 'Forbidden');
      assert.equal((await scrape()).drops.get('acl'), before + 1);
      r = await cli(server.configFile, ['blocklist', 'add', 'ip', '127.0.0.56']);
      assert.equal(r.code, 0, r.stderr);
      const l = await peer('127.0.0.56');
      assert.ok(
        (await elapsedUntil(async () => (await l.ask(port, message, 300))?.reason === 'Forbidden', {
          timeoutMs: 5000,
        })) >= 0,
        'the blocklist took effect',
      );
      before = (await scrape()).drops.get('lists')!;
      assert.ok(
        before >= 1,
        `${before}: ${(await scrape()).text
          .split('\n')
          .filter((x) => x.includes('security'))
          .join('\n')}`,
      );
      assert.equal((await l.ask(port, message))?.reason, 'Forbidden');
      assert.equal((await scrape()).drops.get('lists'), before + 1);

      // Flood: SIPp at 400 OPTIONS/s from 127.0.0.53 is banned; its requests after that are drops{banned}.
      const floodPort = await freePort('127.0.0.53');
      const flood = spawn(
        'sipp',
        [
          '-sf',
          securityScenario('flood-options.xml'),
          `127.0.0.1:${port}`,
          '-i',
          '127.0.0.53',
          '-p',
          String(floodPort),
          '-t',
          'u1',
          '-m',
          '400',
          '-r',
          '400',
          '-timeout',
          '10s',
          '-nostdin',
          '-nr',
        ],
        { stdio: 'ignore' },
      );
      const killer = setTimeout(() => flood.kill('SIGKILL'), 15_000);
      await new Promise<void>((resolve) => flood.on('close', () => resolve()));
      clearTimeout(killer);
      m = await scrape();
      assert.equal(m.bans.get('flood'), 1, m.text);
      assert.ok(m.drops.get('banned')! >= 300, `${m.drops.get('banned')} of 400 flood requests dropped as banned`);

      // Brute force: 3 REGISTERs with a wrong password from 127.0.0.54 (each challenged, then refused again).
      const reg = scenarioWith('registrar-register.xml', { domain: '127.0.0.1', expect: '401' });
      await sipp({
        scenario: reg,
        target: `127.0.0.1:${port}`,
        ip: '127.0.0.54',
        localPort: await freePort('127.0.0.54'),
        calls: 3,
        rate: 10,
        timeoutS: 10,
        extra: ['-s', '1000', '-au', '1000', '-ap', 'wrong-password'],
      });
      m = await scrape();
      assert.equal(m.bans.get('auth'), 1, `${m.text}\n${server.output().slice(-2000)}`);

      // By hand: the CLI writes the store; the server counts the ban when it reads it.
      r = await cli(server.configFile, ['ban', 'add', '127.0.0.55']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(
        (await elapsedUntil(async () => (await scrape()).bans.get('manual') === 1, { timeoutMs: 5000 })) >= 0,
        'the manual ban counted',
      );
      await sleep(1500); // a later read of the store does not count it again
      m = await scrape();
      assert.deepEqual(Object.fromEntries(m.bans), { flood: 1, auth: 1, manual: 1 });
      assert.equal(m.drops.get('other'), 0);

      // One metric per concept: the summed counters are not there one by one.
      assert.doesNotMatch(
        m.text,
        /^trunkline_security_(scanner_dropped|banned_dropped|flood_bans|bruteforce_bans|acl_403|sanity_\d+)_total /m,
      );
    } finally {
      for (const x of peers) x.close();
      await server.stop();
    }
  },
);
