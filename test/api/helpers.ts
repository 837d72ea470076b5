import { buildApi, type Api } from '../../src/api/app.js';
import { Counters } from '../../src/core/counters.js';
import { EventBus } from '../../src/core/events.js';
import { createLogger } from '../../src/log.js';
import { Metrics } from '../../src/metrics/metrics.js';
import { openStore, type Store } from '../../src/store/index.js';
import { TokenRepo } from '../../src/store/repos/tokens.js';
import type { Backend } from '../helpers/backends.js';

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
  const store = await openStore(await backend.fresh(), { env: {} });
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
  const headers: Record<string, string> = {
    ...(token !== null && { authorization: `Bearer ${token}` }),
    ...opts.headers,
  };
  const res = await h.api.app.inject({
    method: method as 'GET',
    url,
    headers,
    ...(opts.body !== undefined && { payload: opts.body as object }),
  });
  const json: any =
    res.body === ''
      ? undefined
      : res.headers['content-type']?.toString().startsWith('application/json')
        ? JSON.parse(res.body)
        : res.body;
  return { status: res.statusCode, json, headers: res.headers };
}
