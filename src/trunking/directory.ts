/**
 * The TrunkingDirectory the B2BUA reads: the store's trunking data held in
 * memory (a TrunkingSnapshot), swapped whole when the store changed.
 *
 *   const directory = new StoreTrunkingDirectory({ store, log });
 *   await directory.start();   // first load (rejects if it fails), then polls
 *   directory.classifySource('127.0.0.2', 'udp');
 *   directory.stop();          // before store.close()
 *
 * Live reload: every `pollMs` (1 s) it reads `store.changes()`; when the
 * number moved since the last load, it loads everything again (host names
 * of carrier gateways resolved anew with node:dns) and swaps the snapshot,
 * so a CLI change reaches a running server within about 1 s (2 s at most
 * with a slow load). A failed reload is logged and the previous snapshot
 * stays; the next tick tries again. Lookups are synchronous and always see
 * one whole snapshot, never a half-built one.
 */
import { lookup } from 'node:dns/promises';
import type { Logger } from '../log.js';
import type { Store } from '../store/index.js';
import type {
  Account,
  Carrier,
  DialPlan,
  DidMatch,
  RateMatch,
  RouteMatch,
  SourceMatch,
  Trunk,
  TrunkingDirectory,
} from './model.js';
import { TrunkingSnapshot, gatewayHost, type ResolvedHosts, type TrunkingData } from './snapshot.js';
import { watchStoreChanges } from '../store/change-watch.js';

/** What the directory needs of the store. */
export type DirectoryStore = Pick<
  Store,
  'changes' | 'accounts' | 'trunks' | 'dids' | 'carriers' | 'routes' | 'rates' | 'dialPlans'
>;

export interface DirectoryOptions {
  store: DirectoryStore;
  log?: Logger;
  /** How often store.changes() is read, in ms (default 1000). */
  pollMs?: number;
  /** Resolves a gateway host name to addresses (default: node:dns lookup, all addresses). */
  resolve?: (host: string) => Promise<string[]>;
  /** The longest a host name's resolution may take before it counts as none (default 2000 ms). */
  resolveTimeoutMs?: number;
}

const DEFAULT_POLL_MS = 1000;
const DEFAULT_RESOLVE_TIMEOUT_MS = 2000;

async function dnsResolve(host: string): Promise<string[]> {
  return (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);
}

/** Reads every trunking table (the carriers with their passwords: the B2BUA answers digest challenges with them). */
export async function loadTrunkingData(store: DirectoryStore): Promise<TrunkingData> {
  const [accounts, trunks, dids, carriers, routes, dialPlans] = await Promise.all([
    store.accounts.list(),
    store.trunks.list(),
    store.dids.list(),
    store.carriers.listWithSecrets(),
    store.routes.list(),
    store.dialPlans.list(),
  ]);
  return {
    accounts,
    trunks,
    dids: dids.map((d) => ({ number: d.number, trunk: d.trunk, createdAt: d.createdAt })),
    carriers,
    routes,
    dialPlans,
  };
}

export class StoreTrunkingDirectory implements TrunkingDirectory {
  readonly #store: DirectoryStore;
  readonly #log: Logger | undefined;
  readonly #pollMs: number;
  readonly #resolve: (host: string) => Promise<string[]>;
  readonly #resolveTimeoutMs: number;
  #snapshot = new TrunkingSnapshot({ accounts: [], trunks: [], dids: [], carriers: [], routes: [], dialPlans: [] });
  #seen: number | undefined;
  #unwatch: (() => void) | undefined;
  #loading: Promise<void> | undefined;
  #generation = 0;
  readonly #listeners: ((snapshot: TrunkingSnapshot) => void)[] = [];

  constructor(opts: DirectoryOptions) {
    this.#store = opts.store;
    this.#log = opts.log?.child({ mod: 'trunking' });
    this.#pollMs = opts.pollMs ?? DEFAULT_POLL_MS;
    this.#resolve = opts.resolve ?? dnsResolve;
    this.#resolveTimeoutMs = opts.resolveTimeoutMs ?? DEFAULT_RESOLVE_TIMEOUT_MS;
  }

  /** Loads the data (rejects when that fails) and starts polling for changes. */
  async start(): Promise<void> {
    await this.reload();
    if (this.#unwatch !== undefined) return;
    this.#unwatch = watchStoreChanges(this.#store, this.#pollMs, () => this.#tick());
  }

  /** Stops polling; lookups keep answering from the last snapshot. */
  stop(): void {
    this.#unwatch?.();
    this.#unwatch = undefined;
  }

  /** Loads everything now (one load at a time: a call during a load waits for it and loads again). */
  async reload(): Promise<void> {
    while (this.#loading !== undefined) await this.#loading.catch(() => undefined);
    const run = this.#load();
    this.#loading = run;
    try {
      await run;
    } finally {
      if (this.#loading === run) this.#loading = undefined;
    }
  }

  async #load(): Promise<void> {
    // Read the counter first: a write during the load moves it again, and the next tick reloads.
    const changes = await this.#store.changes();
    const data = await loadTrunkingData(this.#store);
    const resolved = await this.#resolveHosts(data.carriers);
    const snapshot = new TrunkingSnapshot(data, resolved);
    this.#snapshot = snapshot;
    this.#seen = changes;
    this.#generation++;
    this.#log?.debug(
      {
        generation: this.#generation,
        accounts: data.accounts.length,
        trunks: data.trunks.length,
        dids: data.dids.length,
        carriers: data.carriers.length,
        routes: data.routes.length,
      },
      'trunking data loaded',
    );
    for (const l of this.#listeners) l(snapshot);
  }

  #tick(): void {
    if (this.#loading !== undefined) return;
    this.#store
      .changes()
      .then((c) => (c !== this.#seen ? this.reload() : undefined))
      .catch((err: unknown) => {
        this.#log?.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'trunking reload failed; keeping the data loaded before',
        );
      });
  }

  async #resolveHosts(carriers: Carrier[]): Promise<ResolvedHosts> {
    const names = new Set<string>();
    for (const c of carriers) {
      for (const g of c.gateways) {
        const h = gatewayHost(g);
        if (h !== null && !h.literal) names.add(h.host);
      }
    }
    const out = new Map<string, string[]>();
    await Promise.all(
      [...names].map(async (name) => {
        let timer: NodeJS.Timeout | undefined;
        try {
          const addresses = await Promise.race([
            this.#resolve(name),
            new Promise<never>((_, reject) => {
              timer = setTimeout(
                () => reject(new Error(`no answer in ${this.#resolveTimeoutMs} ms`)),
                this.#resolveTimeoutMs,
              );
            }),
          ]);
          out.set(name, addresses);
        } catch (err) {
          // The carrier still routes by name; only recognising its requests by address needs this.
          this.#log?.warn(
            { host: name, err: err instanceof Error ? err.message : String(err) },
            'carrier gateway host does not resolve',
          );
        } finally {
          clearTimeout(timer);
        }
      }),
    );
    return out;
  }

  /** Called with each new snapshot (after the first load too). */
  onReload(listener: (snapshot: TrunkingSnapshot) => void): void {
    this.#listeners.push(listener);
  }

  /** How many loads have completed: moves by one per reload. */
  get generation(): number {
    return this.#generation;
  }

  /** The current snapshot (lists of everything, carrier addresses). */
  get snapshot(): TrunkingSnapshot {
    return this.#snapshot;
  }

  classifySource(ip: string, proto: string): SourceMatch {
    return this.#snapshot.classifySource(ip, proto);
  }

  trunkByRegistration(aor: string): { trunk: Trunk; account: Account } | null {
    return this.#snapshot.trunkByRegistration(aor);
  }

  did(number: string): DidMatch | null {
    return this.#snapshot.did(number);
  }

  accountOwns(account: string, number: string): boolean {
    return this.#snapshot.did(number)?.account.name === account;
  }

  carriersFor(number: string): Carrier[] {
    return this.#snapshot.carriersFor(number);
  }

  route(number: string): RouteMatch | null {
    return this.#snapshot.route(number);
  }

  emergencyRoute(): RouteMatch | null {
    return this.#snapshot.emergencyRoute();
  }

  dialPlan(name: string): DialPlan | null {
    return this.#snapshot.dialPlan(name);
  }

  /** Not held in memory: a deck may have millions of rows. One indexed query (synchronous on SQLite). */
  rates(carriers: readonly string[], number: string, at: number): Promise<Map<string, RateMatch>> {
    return this.#store.rates.match(carriers, number, at);
  }

  trunk(name: string): Trunk | null {
    return this.#snapshot.trunks.get(name)?.trunk ?? null;
  }

  account(name: string): Account | null {
    return this.#snapshot.accounts.get(name) ?? null;
  }

  carrier(name: string): Carrier | null {
    return this.#snapshot.carriers.get(name) ?? null;
  }
}
