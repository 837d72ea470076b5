/**
 * Cluster behind Redis Sentinel (the production form of `cluster.redis`):
 * a master, a replica and one sentinel of the test's own; a node joins
 * through the sentinel, and when the master is killed and the sentinel
 * promotes the replica, the node follows it and its heartbeat goes on
 * (seen through the sentinel by `trunkline cluster status`).
 *
 * Whatever fails, after() ends what the test started: the node (a node
 * whose master is dead and not replaced never ends its stop on SIGTERM, so
 * it is killed after a while), the redis-servers and any `cluster status`
 * still running.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient } from 'redis';
import { freePort } from '../helpers/ports.js';
import { clusterSkip } from '../helpers/cluster.js';
import { connectPostgres, schemaUrl } from '../helpers/postgres.js';
import { startTrunkline, CLI, type RunningTrunkline } from '../helpers/server.js';
import { waitFor } from '../helpers/wait.js';

const skip = await clusterSkip();
const dir = mkdtempSync(join(tmpdir(), 'trunkline-sentinel-'));
const procs: ChildProcess[] = [];
let node: RunningTrunkline | undefined;
const schema = `tl_sentinel_${process.pid}_${randomBytes(3).toString('hex')}`;

/** How long the node gets to stop on SIGTERM: with no master to write to, its stop waits forever. */
const NODE_STOP_GRACE_MS = 10_000;
/** A `cluster status` still running after this is killed (it gives up by itself after ~17 s without a master). */
const STATUS_LIMIT_MS = 25_000;

after(async () => {
  try {
    await node?.stop(NODE_STOP_GRACE_MS);
  } finally {
    for (const p of procs) if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
    const pg = await connectPostgres();
    if (typeof pg !== 'string') {
      await pg.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
      await pg.end().catch(() => undefined);
    }
    rmSync(dir, { recursive: true, force: true });
  }
});

function redis(args: string[]): ChildProcess {
  const p = spawn('redis-server', args, { stdio: 'ignore' });
  procs.push(p);
  return p;
}

/** One command on a connection of its own, the raw reply (a sentinel takes no QUIT: the connection is dropped). */
async function command(port: number, args: string[]): Promise<unknown> {
  const c = createClient({
    url: `redis://127.0.0.1:${port}`,
    socket: { reconnectStrategy: false, connectTimeout: 2000 },
  });
  c.on('error', () => undefined);
  try {
    await c.connect();
    return await c.sendCommand(args);
  } finally {
    if (c.isOpen) c.destroy();
  }
}

/** The sentinel's record of the replica on `port` (SENTINEL REPLICAS), as field -> value, if it has one. */
async function sentinelReplica(sPort: number, port: number): Promise<Record<string, string> | undefined> {
  const reply = (await command(sPort, ['SENTINEL', 'REPLICAS', 'tlmaster'])) as string[][];
  for (const flat of reply) {
    const r: Record<string, string> = {};
    for (let i = 0; i + 1 < flat.length; i += 2) r[flat[i]!] = flat[i + 1]!;
    if (r['port'] === String(port)) return r;
  }
  return undefined;
}

async function answers(port: number): Promise<void> {
  await waitFor(
    async () => {
      const c = createClient({ url: `redis://127.0.0.1:${port}`, socket: { reconnectStrategy: false } });
      c.on('error', () => undefined);
      try {
        await c.connect();
        await c.ping();
        return true;
      } catch {
        return false;
      } finally {
        if (c.isOpen) await c.quit().catch(() => undefined);
      }
    },
    { timeoutMs: 5000, what: `redis on ${port}`, intervalMs: 50 },
  );
}

async function status(
  config: string,
): Promise<{ nodes: Array<{ id: string; alive: boolean; lastHeartbeat: string }> }> {
  const out = await new Promise<string>((resolve, reject) => {
    const c = spawn(process.execPath, [CLI, 'cluster', 'status', '--json', '--config', config]);
    procs.push(c);
    const timer = setTimeout(() => c.kill('SIGKILL'), STATUS_LIMIT_MS);
    let s = '';
    let e = '';
    c.stdout.on('data', (d: Buffer) => (s += d.toString()));
    c.stderr.on('data', (d: Buffer) => (e += d.toString()));
    c.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve(s);
      else
        reject(new Error(`cluster status: ${signal === 'SIGKILL' ? `no answer in ${STATUS_LIMIT_MS} ms` : code} ${e}`));
    });
  });
  return JSON.parse(out) as { nodes: Array<{ id: string; alive: boolean; lastHeartbeat: string }> };
}

test('a node joins through Sentinel and follows a failover', { skip, timeout: 150_000 }, async () => {
  const pg = await connectPostgres();
  if (typeof pg === 'string') throw new Error(pg);
  await pg.query(`create schema ${schema}`);
  await pg.end();
  const [mPort, rPort, sPort, sipPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  // --dir: a replica's full sync writes an RDB file, into the test's folder and never the checkout.
  const base = ['--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir];
  // No delay before the replica's first sync (5 s by default, waiting for more replicas).
  const master = redis(['--port', String(mPort), ...base, '--repl-diskless-sync-delay', '0']);
  redis(['--port', String(rPort), ...base, '--replicaof', '127.0.0.1', String(mPort)]);
  await answers(mPort);
  await answers(rPort);
  const sconf = join(dir, 'sentinel.conf');
  const sentinelLog = join(dir, 'sentinel.log');
  writeFileSync(
    sconf,
    [
      `port ${sPort}`,
      'bind 127.0.0.1',
      `logfile ${sentinelLog}`,
      `sentinel monitor tlmaster 127.0.0.1 ${mPort} 1`,
      // 3 s before the sentinel acts: the node sees the master gone first (a PING unanswered within 1 s, asked every second).
      'sentinel down-after-milliseconds tlmaster 3000',
      'sentinel failover-timeout tlmaster 5000',
      '',
    ].join('\n'),
  );
  redis([sconf, '--sentinel']);
  await answers(sPort);
  const sentinelSays = (): string =>
    `sentinel log:\n${existsSync(sentinelLog) ? readFileSync(sentinelLog, 'utf8').slice(-2000) : '(none)'}`;
  // The replica in sync, and known to the sentinel with its link up: else there is nobody to promote. A
  // sentinel learns of replicas from the master's INFO, every 10 s; one the master did not list yet at the
  // sentinel's first INFO (a slow start) is missed until the next, and a master killed before that is never
  // replaced (-failover-abort-no-good-slave).
  await waitFor(async () => /^master_link_status:up\r?$/m.test(String(await command(rPort, ['INFO', 'replication']))), {
    timeoutMs: 10_000,
    what: `the replica on ${rPort} in sync`,
    intervalMs: 50,
  });
  await waitFor(
    async () => {
      const r = await sentinelReplica(sPort, rPort);
      return r !== undefined && r['flags'] === 'slave' && r['master-link-status'] === 'ok';
    },
    { timeoutMs: 20_000, what: `the sentinel knowing the replica on ${rPort}`, intervalMs: 100, detail: sentinelSays },
  );
  const clusterYaml = [
    `database: ${JSON.stringify(schemaUrl(schema))}`,
    `listen: ["udp:127.0.0.1:${sipPort}"]`,
    'cluster:',
    `  redis: {sentinels: ["redis://127.0.0.1:${sPort}"], name: tlmaster}`,
    '  node: s1',
  ].join('\n');
  node = await startTrunkline(clusterYaml);
  const first = await status(node.configFile);
  assert.deepEqual(
    first.nodes.map((n) => [n.id, n.alive]),
    [['s1', true]],
  );

  // The master dies; the sentinel promotes the replica; the node's heartbeat reaches the new master.
  master.kill('SIGKILL');
  const killedAt = Date.now();
  const seen = await waitFor(
    async () => {
      try {
        const s = await status(node!.configFile);
        const n = s.nodes.find((x) => x.id === 's1');
        return n !== undefined && n.alive && Date.parse(n.lastHeartbeat) > killedAt ? n : false;
      } catch {
        return false; // no master yet
      }
    },
    {
      // A failover takes a few seconds (3 s to see the master down, then the promotion); the probes are
      // CLI processes, slow on a busy machine.
      timeoutMs: 45_000,
      what: 'the heartbeat on the promoted replica',
      intervalMs: 250,
      detail: () => `${sentinelSays()}\nnode:\n${node!.output().slice(-3000)}`,
    },
  );
  assert.ok(seen.alive);
  // The outage was seen, though the Sentinel client stays "ready" without a master, and its end.
  const log = node.output();
  assert.match(
    log,
    /"redis":"sentinel tlmaster[^"]*","err":"no answer to PING within 1 s","msg":"cluster: redis unreachable"/,
  );
  assert.match(log, /"msg":"cluster: redis is back"/);
  assert.ok(
    log.indexOf('cluster: redis unreachable') < log.indexOf('cluster: redis is back'),
    'unreachable, then back',
  );
  // The node's heartbeats go on writing: on the new master, since the old one is dead and a replica takes no writes.
  const later = await status(node.configFile);
  assert.equal(later.nodes.find((n) => n.id === 's1')?.alive, true);
  process.stdout.write(`heartbeat on the promoted replica ${Date.now() - killedAt} ms after the master died\n`);
});
