import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { buildApi, type Api } from '../../src/api/app.js';
import { Counters } from '../../src/core/counters.js';
import { EventBus } from '../../src/core/events.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { openStore, type Store } from '../../src/store/index.js';
import { TokenRepo } from '../../src/store/repos/tokens.js';
import type { DatabaseConfig } from '../../src/config/schema.js';
import { connectPostgres, schemaUrl } from '../helpers/postgres.js';

/** A database for one API suite: SQLite in a directory of its own, or a PostgreSQL schema of its own. */
export interface Backend {
  label: string;
  /** false, or why the suite is skipped. */
  skip: () => Promise<string | false>;
  open(): Promise<{ config: DatabaseConfig; cleanup(): Promise<void> }>;
}

export const sqliteBackend: Backend = {
  label: 'SQLite',
  skip: async () => false,
  async open() {
    const dir = mkdtempSync(join(tmpdir(), 'api-test-'));
    return { config: { kind: 'sqlite', file: join(dir, 'trunkline.db') }, cleanup: async () => rmSync(dir, { recursive: true, force: true }) };
  },
};

let pgAdmin: pg.Client | string | undefined;
async function admin(): Promise<pg.Client | string> {
  pgAdmin ??= await connectPostgres();
  return pgAdmin;
}

export const postgresBackend: Backend = {
  label: 'PostgreSQL',
  skip: async () => {
    const a = await admin();
    return typeof a === 'string' ? a : false;
  },
  async open() {
    const a = await admin();
    if (typeof a === 'string') throw new Error(a);
    const schema = `api_${process.pid}_${Math.floor(Math.random() * 1e9)}`;
    await a.query(`create schema ${schema}`);
    return {
      config: { kind: 'postgres', url: schemaUrl(schema) },
      cleanup: async () => {
        await a.query(`drop schema if exists ${schema} cascade`);
      },
    };
  },
};

export async function closeAdmin(): Promise<void> {
  if (pgAdmin !== undefined && typeof pgAdmin !== 'string') await pgAdmin.end();
  pgAdmin = undefined;
}

export interface Harness {
  api: Api;
  store: Store;
  tokens: TokenRepo;
  bus: EventBus;
  admin: string;
  reader: string;
  close(): Promise<void>;
}

/** The API over a fresh store, with an admin and a read token; requests through fastify's inject(). */
export async function harness(backend: Backend): Promise<Harness> {
  const db = await backend.open();
  const store = await openStore(db.config, { env: {} });
  const tokens = new TokenRepo(store.ctx);
  const bus = new EventBus();
  const api = await buildApi({
    ctx: { store, tokens, bus, now: Date.now },
    log: createLogger('silent'),
    metrics: new Metrics(new Counters()),
    version: 'test',
    ready: async () => {
      try {
        await store.ping();
        return null;
      } catch (err) {
        return err instanceof Error ? err.message : String(err);
      }
    },
    reload: async () => ({ config: null }),
  });
  const admin = (await tokens.add('admin', 'admin')).token;
  const reader = (await tokens.add('reader', 'read')).token;
  return {
    api,
    store,
    tokens,
    bus,
    admin,
    reader,
    async close() {
      await api.app.close();
      await store.close();
      await db.cleanup();
    },
  };
}

export interface InjectOptions {
  /** The bearer token; the harness's admin token by default, null for none. */
  token?: string | null;
  body?: unknown;
  headers?: Record<string, string>;
}

/** One request through inject(): its status, its body (parsed when JSON) and its headers. */
export async function injectCall(h: Harness, method: string, url: string, opts: InjectOptions = {}) {
  const token = opts.token === undefined ? h.admin : opts.token;
  const headers: Record<string, string> = { ...(token !== null && { authorization: `Bearer ${token}` }), ...opts.headers };
  const res = await h.api.app.inject({ method: method as 'GET', url, headers, ...(opts.body !== undefined && { payload: opts.body as object }) });
  const json: any = res.body === '' ? undefined : res.headers['content-type']?.toString().startsWith('application/json') ? JSON.parse(res.body) : res.body;
  return { status: res.statusCode, json, headers: res.headers };
}
