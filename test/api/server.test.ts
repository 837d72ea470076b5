/**
 * Operations against a real `trunkline serve` process over HTTP: a token
 * made by the CLI, the API on its own listener, a SIPp client registering
 * with digest while the SSE stream is open (the registration event arrives),
 * /metrics counting the REGISTERs SIPp sent and the answers it got, the HEP3
 * copies of those four messages decoded by sngrep (listening for HEP, it
 * writes them out as a pcap) and read back by tshark, and config reload by
 * `trunkline reload` (SIGHUP through the pid file) and POST /api/v1/reload.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { CLI, startTrunkline } from '../helpers/server.js';
import { haveCommand, run, scenario, scenarioWith, sipp, sippBackground } from '../helpers/sipp.js';
import { sleep, waitFor } from '../helpers/wait.js';

const DOMAIN = 'ops.example';
const skip = !haveCommand('sipp') ? 'sipp not installed (scripts/install-deps.sh)' : false;
const noHep =
  !haveCommand('sngrep') || !haveCommand('tshark')
    ? 'sngrep or tshark not installed (apt-get install sngrep tshark)'
    : false;

function udpTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(true));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

/** One sample of the Prometheus text: `name{labels} value`, 0 when absent. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const got = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="([^"]*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => got[k] === v)) return Number(m[3]);
  }
  return 0;
}

test(
  'a running server: token from the CLI, API over HTTP, SSE registration event, /metrics after a SIPp REGISTER, HEP decoded by sngrep + tshark, reload by CLI and API',
  { skip, timeout: 60_000 },
  async (t) => {
    const port = await freePort();
    const hepPort = await freePort();
    const alicePort = await freePort();
    const capture = `capture: {hep: "udp:127.0.0.1:${hepPort}", id: 2001}`;
    const base = [`listen: [udp:127.0.0.1:${port}]`, 'registrar: {algorithms: MD5, keepAlive: 0}'];
    const server = await startTrunkline([...base, capture, ''].join('\n'));
    const out = (): string => server.output().slice(-4000);
    const work = mkdtempSync(join(tmpdir(), 'ops-test-'));
    const events = new AbortController();
    let sngrep: ReturnType<typeof spawn> | undefined;
    try {
      const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())?.[1];
      assert.ok(api, `the server logs where the API listens:\n${out()}`);
      const pidFile = join(server.dir, 'data', 'trunkline.pid');
      assert.equal(readFileSync(pidFile, 'utf8').trim(), String(server.proc.pid), 'the pid file names the server');

      // The CLI makes the token on the server's own store; it is printed once, alone on stdout.
      const made = await run(
        process.execPath,
        [CLI, 'token', 'add', 'ops', '--role', 'admin', '--config', server.configFile],
        15_000,
      );
      assert.equal(made.code, 0, made.stderr);
      const token = made.stdout.trim();
      assert.match(token, /^tl_\S{43}$/);
      assert.match(made.stderr, /shown this once/);
      const listed = await run(
        process.execPath,
        [CLI, 'token', 'list', '--json', '--config', server.configFile],
        15_000,
      );
      assert.deepEqual(
        JSON.parse(listed.stdout).map((x: { name: string; role: string }) => [x.name, x.role]),
        [['ops', 'admin']],
      );
      assert.ok(!listed.stdout.includes(token));
      const auth = { authorization: `Bearer ${token}` };
      const json = { ...auth, 'content-type': 'application/json' };

      assert.deepEqual(await (await fetch(`${api}/healthz`)).json(), { status: 'alive' });
      assert.deepEqual(await (await fetch(`${api}/readyz`)).json(), { status: 'ready' });
      assert.equal((await fetch(`${api}/api/v1/domains`)).status, 401);
      let r = await fetch(`${api}/api/v1/domains`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ domain: DOMAIN }),
      });
      assert.equal(r.status, 201);
      r = await fetch(`${api}/api/v1/subscribers`, {
        method: 'POST',
        headers: json,
        body: JSON.stringify({ subscriber: `alice@${DOMAIN}`, password: 'alice-pw' }),
      });
      assert.equal(r.status, 201);

      // The event stream, open before the REGISTER.
      const stream = await fetch(`${api}/api/v1/events?types=registration`, { headers: auth, signal: events.signal });
      assert.equal(stream.status, 200);
      assert.match(stream.headers.get('content-type') ?? '', /^text\/event-stream/);
      let sse = '';
      const reader = stream.body!.getReader();
      void (async () => {
        const dec = new TextDecoder();
        for (;;) {
          const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }));
          if (done) return;
          sse += dec.decode(value, { stream: true });
        }
      })();
      await waitFor(() => sse.startsWith(': trunkline events'), {
        timeoutMs: 5000,
        what: 'the stream preamble',
        intervalMs: 50,
      });

      // sngrep listens for HEP and writes what it decodes to a pcap.
      const pcap = join(work, 'hep.pcap');
      if (noHep === false) {
        sngrep = spawn('sngrep', ['-N', '-q', '-L', `udp:127.0.0.1:${hepPort}`, '-O', pcap], { stdio: 'ignore' });
        await waitFor(() => udpTaken(hepPort), { timeoutMs: 5000, what: 'sngrep to listen', intervalMs: 50 });
      }

      const t0 = Date.now() / 1000;
      const file = scenarioWith('registrar-register.xml', { domain: DOMAIN, expect: '200' });
      const reg = await sipp({
        scenario: file,
        target: `127.0.0.1:${port}`,
        localPort: alicePort,
        extra: ['-s', 'alice', '-au', 'alice', '-ap', 'alice-pw', '-auth_uri', DOMAIN],
      });
      assert.equal(reg.code, 0, `SIPp REGISTER failed:\n${reg.stdout.slice(-2000)}\n${out()}`);
      const t1 = Date.now() / 1000;

      // The registration event.
      await waitFor(() => sse.includes('event: registration'), {
        timeoutMs: 5000,
        what: 'the registration event',
        intervalMs: 50,
        detail: () => sse,
      });
      const data = JSON.parse(/event: registration\ndata: (.*)\n/.exec(sse)![1]!);
      assert.equal(data.aor, `alice@${DOMAIN}`);
      assert.deepEqual(data.contacts, [`sip:alice@127.0.0.1:${alicePort}`]);
      assert.equal(data.source, `udp:127.0.0.1:${alicePort}`);

      // The API sees the binding.
      const loc = (await (await fetch(`${api}/api/v1/location`, { headers: auth })).json()) as Array<{ aor: string }>;
      assert.deepEqual(
        loc.map((b) => b.aor),
        [`alice@${DOMAIN}`],
      );

      // /metrics counts what SIPp sent and got: two REGISTERs in, a 401 and a 200 out.
      const metrics = await (await fetch(`${api}/metrics`)).text();
      const label = (extra: Record<string, string>) => ({ direction: 'in', transport: 'udp', ...extra });
      assert.equal(
        sample(metrics, 'trunkline_sip_requests_total', label({ method: 'REGISTER' })),
        2,
        metrics.slice(0, 3000),
      );
      assert.equal(
        sample(metrics, 'trunkline_sip_responses_total', { direction: 'out', transport: 'udp', status_class: '4xx' }),
        1,
      );
      assert.equal(
        sample(metrics, 'trunkline_sip_responses_total', { direction: 'out', transport: 'udp', status_class: '2xx' }),
        1,
      );
      assert.equal(sample(metrics, 'trunkline_sip_requests_in_total'), 2, 'the core counter of requests in');
      assert.ok(sample(metrics, 'trunkline_sip_in_bytes_udp_total') > 500, 'bytes received over UDP');
      assert.equal(sample(metrics, 'trunkline_registrations'), 1);
      assert.equal(sample(metrics, 'trunkline_registrations_total'), 1);
      // HEP packets leave in batches (20 ms at most when traffic is thin): the four messages, once sent.
      const hepSent = await waitFor(
        async () => {
          const n = sample(await (await fetch(`${api}/metrics`)).text(), 'trunkline_hep_packets_total', {
            outcome: 'sent',
          });
          return n >= 4 ? n : undefined;
        },
        { timeoutMs: 2000, what: '4 HEP packets sent', intervalMs: 50 },
      );
      assert.equal(hepSent, 4);
      assert.equal(sample(metrics, 'trunkline_event_stream_clients'), 1);
      assert.match(metrics, /^nodejs_eventloop_lag_seconds /m);
      assert.match(metrics, /^process_cpu_seconds_total /m);

      if (noHep !== false) {
        t.diagnostic(`HEP decoding skipped: ${noHep}`);
      } else {
        // sngrep writes the pcap as packets come; stop it and read the file with tshark.
        sngrep!.kill('SIGTERM');
        await new Promise((res) => (sngrep!.exitCode !== null ? res(null) : sngrep!.once('exit', res)));
        const fields = [
          'frame.time_epoch',
          'ip.src',
          'udp.srcport',
          'ip.dst',
          'udp.dstport',
          'sip.Method',
          'sip.Status-Code',
          'sip.CSeq',
        ];
        const ts = await run(
          'tshark',
          ['-r', pcap, '-Y', 'sip', '-T', 'fields', '-E', 'separator=|', ...fields.flatMap((f) => ['-e', f])],
          20_000,
        );
        assert.equal(ts.code, 0, ts.stderr);
        const rows = ts.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('|'));
        const me = `127.0.0.1|${port}`;
        const alice = `127.0.0.1|${alicePort}`;
        assert.deepEqual(
          rows.map((f) => [`${f[1]}|${f[2]}`, `${f[3]}|${f[4]}`, f[5] || f[6], f[7]]),
          [
            [alice, me, 'REGISTER', '1 REGISTER'],
            [me, alice, '401', '1 REGISTER'],
            [alice, me, 'REGISTER', '2 REGISTER'],
            [me, alice, '200', '2 REGISTER'],
          ],
          `tshark read:\n${ts.stdout}`,
        );
        for (const f of rows)
          assert.ok(Number(f[0]) >= t0 - 1 && Number(f[0]) <= t1 + 1, `HEP timestamp ${f[0]} within the run`);
      }

      // Reload by the CLI (SIGHUP through the pid file): capture off.
      writeFileSync(server.configFile, readFileSync(server.configFile, 'utf8').replace(capture, ''));
      const rl = await run(process.execPath, [CLI, 'reload', '--config', server.configFile], 15_000);
      assert.equal(rl.code, 0, rl.stderr);
      assert.match(rl.stdout, new RegExp(`reload requested from server ${server.proc.pid}`));
      await waitFor(() => server.output().includes('"msg":"HEP capture off"'), {
        timeoutMs: 5000,
        what: 'HEP capture off',
        intervalMs: 50,
        detail: out,
      });

      // Reload by the API: a bad config is refused naming its key, and the running one stays.
      writeFileSync(server.configFile, `${readFileSync(server.configFile, 'utf8')}capture: {hep: "udp:nowhere"}\n`);
      r = await fetch(`${api}/api/v1/reload`, { method: 'POST', headers: auth });
      const refused = (await r.json()) as { error: string };
      assert.equal(r.status, 400);
      assert.match(
        refused.error,
        /^reload refused, the running config stays: .*capture\.hep: expected udp\|tcp:IP:PORT/,
      );
      writeFileSync(
        server.configFile,
        readFileSync(server.configFile, 'utf8').replace('capture: {hep: "udp:nowhere"}', capture),
      );
      r = await fetch(`${api}/api/v1/reload`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), { reloaded: true, config: server.configFile });
      assert.equal(server.output().match(/"msg":"HEP capture on"/g)?.length, 2, 'capture on again');
      assert.equal((await fetch(`${api}/readyz`)).status, 200);

      events.abort();
      assert.equal(await server.stop(), 0, `exit code\n${out()}`);
      assert.equal(existsSync(pidFile), false, 'the pid file is removed at stop');
    } finally {
      events.abort();
      sngrep?.kill('SIGKILL');
      await server.stop();
      rmSync(work, { recursive: true, force: true });
    }
  },
);

test('trunkline reload without a running server: one line, exit 1 (no pid file, or a stale one)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'ops-reload-'));
  try {
    const config = join(dir, 'trunkline.yaml');
    writeFileSync(config, `data: ${JSON.stringify(join(dir, 'data'))}\n`);
    let r = await run(process.execPath, [CLI, 'reload', '--config', config], 15_000);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      `no server running: ${join(dir, 'data', 'trunkline.pid')} not found (is trunkline serve running with this config?)\n`,
    );
    // A pid file left by a server that died: its process is gone.
    const dead = spawn(process.execPath, ['-e', '0']);
    await new Promise((res) => dead.once('exit', res));
    const { mkdirSync } = await import('node:fs');
    mkdirSync(join(dir, 'data'), { recursive: true });
    writeFileSync(join(dir, 'data', 'trunkline.pid'), `${dead.pid}\n`);
    r = await run(process.execPath, [CLI, 'reload', '--config', config], 15_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, new RegExp(`^no server running: process ${dead.pid} of .* is gone\\n$`));
    // A live process that is not trunkline serve is never signalled.
    writeFileSync(join(dir, 'data', 'trunkline.pid'), `${process.pid}\n`);
    r = await run(process.execPath, [CLI, 'reload', '--config', config], 15_000);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /is not trunkline serve/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test(
  'api.tls: the API over HTTPS with the SIP TLS files (the generated localhost certificate), verified against it',
  { timeout: 30_000 },
  async () => {
    const port = await freePort();
    const server = await startTrunkline(
      [`listen: [tls:127.0.0.1:${port}]`, 'api: {listen: "127.0.0.1:0", tls: true}', ''].join('\n'),
    );
    try {
      const url = /"api":"(https:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())?.[1];
      assert.ok(url, server.output());
      const ca = readFileSync(join(server.dir, 'data', 'tls', 'cert.pem'));
      const { request } = await import('node:https');
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(`${url}/healthz`, { ca, servername: 'localhost' }, (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve(`${res.statusCode} ${text}`));
        });
        req.on('error', reject);
        req.end();
      });
      assert.equal(body, '200 {"status":"alive"}');
      // Plain HTTP on the HTTPS port gets nowhere.
      await assert.rejects(fetch(`${url.replace('https:', 'http:')}/healthz`));
    } finally {
      assert.equal(await server.stop(), 0);
    }
  },
);

test(
  'an api.listen that cannot bind refuses the start, naming it; the SIP listeners are released',
  { timeout: 30_000 },
  async () => {
    const { createServer } = await import('node:net');
    const taken = await freePort();
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(taken, '127.0.0.1', () => r()));
    const sipPort = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'ops-api-bind-'));
    try {
      const config = join(dir, 'trunkline.yaml');
      writeFileSync(
        config,
        `data: ${JSON.stringify(join(dir, 'data'))}\nlisten: [udp:127.0.0.1:${sipPort}]\napi: {listen: 127.0.0.1:${taken}}\n`,
      );
      const r = await run(process.execPath, [CLI, 'serve', '--config', config], 20_000);
      assert.equal(r.code, 1, r.stdout + r.stderr);
      assert.match(
        r.stderr,
        new RegExp(`^trunkline: cannot start: api\\.listen 127\\.0\\.0\\.1:${taken}: address in use\\n$`),
      );
      assert.equal(await udpTaken(sipPort), false, 'the SIP port is free again');
      assert.equal(existsSync(join(dir, 'data', 'trunkline.pid')), false, 'no pid file left behind');
    } finally {
      blocker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test(
  '/metrics after SIPp calls through the proxy: every request and 2xx in and out counted, one HEP packet per message',
  { skip, timeout: 60_000 },
  async () => {
    const port = await freePort();
    const uasPort = await freePort();
    const hepPort = await freePort();
    const hep = createSocket('udp4');
    let hepPackets = 0;
    hep.on('message', (m) => {
      if (m.toString('latin1', 0, 4) === 'HEP3') hepPackets++;
    });
    await new Promise<void>((r) => hep.bind(hepPort, '127.0.0.1', () => r()));
    const server = await startTrunkline(
      [
        `listen: [udp:127.0.0.1:${port}]`,
        `capture: {hep: "udp:127.0.0.1:${hepPort}", id: 7}`,
        'routes:',
        `  - forward: "sip:127.0.0.1:${uasPort}"`,
        '',
      ].join('\n'),
    );
    const CALLS = 5;
    try {
      const api = /"api":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(server.output())![1]!;
      const uas = sippBackground(scenario('uas-call.xml'), uasPort, { calls: CALLS, timeoutS: 30 });
      await sleep(300);
      const uac = await sipp({
        scenario: scenario('uac-call.xml'),
        target: `127.0.0.1:${port}`,
        localPort: await freePort(),
        calls: CALLS,
        rate: 10,
        timeoutS: 20,
        extra: ['-s', 'bob'],
      });
      const u = await uas.done;
      assert.equal(uac.code, 0, `UAC:\n${uac.stdout.slice(-2000)}\n${server.output().slice(-2000)}`);
      assert.equal(u.code, 0, `UAS:\n${u.stdout.slice(-2000)}`);
      const text = await waitFor(
        async () => {
          const t = await (await fetch(`${api}/metrics`)).text();
          return sample(t, 'trunkline_sip_responses_total', {
            direction: 'out',
            transport: 'udp',
            status_class: '2xx',
          }) >=
            2 * CALLS
            ? t
            : undefined;
        },
        { timeoutMs: 5000, what: 'every BYE answer counted', intervalMs: 50 },
      );
      for (const method of ['INVITE', 'ACK', 'BYE']) {
        for (const direction of ['in', 'out']) {
          assert.equal(
            sample(text, 'trunkline_sip_requests_total', { direction, transport: 'udp', method }),
            CALLS,
            `${method} ${direction}`,
          );
        }
      }
      assert.equal(
        sample(text, 'trunkline_sip_responses_total', { direction: 'in', transport: 'udp', status_class: '2xx' }),
        2 * CALLS,
      );
      assert.equal(
        sample(text, 'trunkline_sip_responses_total', { direction: 'out', transport: 'udp', status_class: '2xx' }),
        2 * CALLS,
      );
      assert.equal(
        sample(text, 'trunkline_proxy_requests_forwarded_total'),
        2 * CALLS,
        'INVITEs and BYEs forwarded statefully by the proxy core',
      );
      let messages = 0;
      for (const line of text.split('\n'))
        if (/^trunkline_sip_(requests|responses)_total\{/.test(line)) messages += Number(line.split(' ').pop());
      await waitFor(() => hepPackets >= messages, {
        timeoutMs: 3000,
        what: 'every HEP packet',
        intervalMs: 50,
        detail: () => `${hepPackets} of ${messages}`,
      });
      assert.equal(hepPackets, messages, 'one HEP packet per SIP message in or out');
      assert.equal(sample(text, 'trunkline_hep_packets_total', { outcome: 'sent' }), messages);
    } finally {
      hep.close();
      assert.equal(await server.stop(), 0);
    }
  },
);
