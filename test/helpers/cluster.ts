/**
 * A cluster of Trunkline nodes for a test: its own redis-server (startRedis,
 * so the test may stop it), a PostgreSQL schema of its own as the shared
 * store, and N nodes as processes (`trunkline serve`), node i on 127.0.0.i
 * (i = 1..N) with the same SIP port on each address, its API on 127.0.0.1
 * at a port of its own. A node can be killed (kill -9) and started again.
 *
 *   const rig = await startClusterRig({ nodes: 3 });   // rig.skip: the reason when it cannot run
 *   await rig.cli(['trunk', 'add', ...]);               // management commands on the shared store
 *   await rig.node(2).api('/api/v1/cluster');
 *   rig.node(1).kill9();
 *   await rig.stop();
 */
import { reservePortRange } from './port-ranges.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CLI } from './server.js';
import { freePort } from './ports.js';
import { connectPostgres, schemaUrl } from './postgres.js';
import { redisSkip, startRedis, type TestRedis } from './redis.js';

export interface ClusterNode {
  id: string;
  host: string;
  sipPort: number;
  apiPort: number;
  configFile: string;
  proc: ChildProcess | null;
  output(): string;
  /** Starts (again); resolves once it logged `trunkline started`. */
  start(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<void>;
  /** SIGKILL: no goodbye, nothing cleaned up. */
  kill9(): Promise<void>;
  /** GET (or another method) on its API; the JSON body. */
  api(path: string, init?: { method?: string; body?: unknown }): Promise<{ status: number; body: unknown }>;
}

export interface ClusterRigOptions {
  nodes: number;
  /** YAML lines added to node i's config (1-based), e.g. `trunking:` settings. */
  extraYaml?: (i: number) => string;
  onRedisDown?: 'reject' | 'local';
  /** Log level of the nodes (default info: the start is seen by its line). */
  logLevel?: string;
}

export interface ClusterRig {
  redis: TestRedis;
  databaseUrl: string;
  nodes: ClusterNode[];
  node(i: number): ClusterNode;
  /** Runs `trunkline ARGS --config <node 1's config>`; resolves with its exit code (null: killed after 60 s) and output. */
  cli(args: string[], node?: number): Promise<{ code: number | null; stdout: string; stderr: string }>;
  stop(): Promise<void>;
}

/** Why a cluster cannot be started here (no redis-server, no PostgreSQL), or false. */
export async function clusterSkip(): Promise<string | false> {
  const r = redisSkip();
  if (r !== false) return r;
  const pg = await connectPostgres();
  if (typeof pg === 'string') return pg;
  await pg.end();
  return false;
}

/** How long a management command run by ClusterRig.cli may take before it is killed. */
const CLI_LIMIT_MS = 60_000;

async function portOnAll(hosts: string[]): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const p = await freePort(hosts[0]);
    let ok = true;
    for (const h of hosts.slice(1)) if ((await freePort(h).catch(() => -1)) === -1) ok = false;
    if (ok) return p;
  }
  throw new Error('no SIP port free on every node address');
}

function makeNode(
  i: number,
  dir: string,
  sipPort: number,
  apiPort: number,
  yaml: string,
  token: () => string,
): ClusterNode {
  const host = `127.0.0.${i}`;
  const configFile = join(dir, `node${i}.yaml`);
  writeFileSync(configFile, yaml);
  let out = '';
  let proc: ChildProcess | null = null;
  const node: ClusterNode = {
    id: `n${i}`,
    host,
    sipPort,
    apiPort,
    configFile,
    get proc() {
      return proc;
    },
    output: () => out,
    async start() {
      out = '';
      const p = spawn(process.execPath, [CLI, 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
      proc = p;
      p.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`node n${i} did not start in 20 s:\n${out}`)), 20_000);
        const check = (): void => {
          if (out.includes('"msg":"trunkline started"')) {
            clearTimeout(timer);
            resolve();
          }
        };
        p.stdout!.on('data', check);
        p.once('exit', (code) => {
          clearTimeout(timer);
          reject(new Error(`node n${i} exited with ${code} at start:\n${out}`));
        });
      });
    },
    async stop() {
      const p = proc;
      if (p === null || p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGTERM');
      const timer = setTimeout(() => p.kill('SIGKILL'), 15_000);
      await gone;
      clearTimeout(timer);
    },
    async kill9() {
      const p = proc;
      if (p === null || p.exitCode !== null || p.signalCode !== null) return;
      const gone = new Promise<void>((r) => p.once('exit', () => r()));
      p.kill('SIGKILL');
      await gone;
    },
    async api(path, init = {}) {
      const res = await fetch(`http://127.0.0.1:${apiPort}${path}`, {
        method: init.method ?? 'GET',
        headers: {
          authorization: `Bearer ${token()}`,
          ...(init.body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
      });
      const text = await res.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        // not JSON: the text
      }
      return { status: res.status, body };
    },
  };
  return node;
}

export async function startClusterRig(opts: ClusterRigOptions): Promise<ClusterRig> {
  const pg = await connectPostgres();
  if (typeof pg === 'string') throw new Error(pg);
  const schema = `tl_cluster_${process.pid}_${randomBytes(3).toString('hex')}`;
  await pg.query(`create schema ${schema}`);
  const databaseUrl = schemaUrl(schema);
  const redis = await startRedis();
  const dir = mkdtempSync(join(tmpdir(), 'trunkline-cluster-'));
  const hosts = Array.from({ length: opts.nodes }, (_, k) => `127.0.0.${k + 1}`);
  const sipPort = await portOnAll(hosts);
  const nodes: ClusterNode[] = [];
  let token = '';
  for (let i = 1; i <= opts.nodes; i++) {
    const host = `127.0.0.${i}`;
    const apiPort = await freePort();
    const media = reservePortRange(400);
    const yaml = [
      `data: ${JSON.stringify(join(dir, `data${i}`))}`,
      `database: ${JSON.stringify(databaseUrl)}`,
      `listen: ["udp:${host}:${sipPort}", "tcp:${host}:${sipPort}"]`,
      `api: {listen: "127.0.0.1:${apiPort}"}`,
      `media: {ports: "${media.min}-${media.max}"}`,
      `log: {level: ${opts.logLevel ?? 'info'}}`,
      `cluster:`,
      `  redis: ${JSON.stringify(redis.url)}`,
      `  node: n${i}`,
      `  onRedisDown: ${opts.onRedisDown ?? 'reject'}`,
      opts.extraYaml?.(i) ?? '',
    ].join('\n');
    nodes.push(makeNode(i, dir, sipPort, apiPort, `${yaml}\n`, () => token));
  }
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((n) => n.stop().catch(() => undefined)));
    await redis.stop();
    await pg.query(`drop schema if exists ${schema} cascade`).catch(() => undefined);
    await pg.end().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    // The first node migrates the store; the others then start side by side.
    await nodes[0]!.start();
    await Promise.all(nodes.slice(1).map((n) => n.start()));
  } catch (err) {
    await stop();
    throw err;
  }
  const cli: ClusterRig['cli'] = (args, n = 1) =>
    new Promise((resolve) => {
      const child = spawn(process.execPath, [CLI, ...args, '--config', nodes[n - 1]!.configFile], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      // A command that never ends (one waiting for a Redis that refuses connections) is killed: code null.
      const timer = setTimeout(() => {
        stderr += `\n(test helper: no exit in ${CLI_LIMIT_MS} ms: SIGKILL)\n`;
        child.kill('SIGKILL');
      }, CLI_LIMIT_MS);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  // An admin token for node.api() (the API asks for one).
  const t = await cli(['token', 'add', 'cluster-rig', '--role', 'admin']);
  token = t.stdout.trim();
  return { redis, databaseUrl, nodes, node: (i) => nodes[i - 1]!, cli, stop };
}
