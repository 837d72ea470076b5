/**
 * Trunkline's side: a SQLite store in a temp dir with the carriers and one
 * `lcr` route `+` over all of them, the decks imported with the real CLI
 * (`trunkline rate import CARRIER FILE.csv`, one process per deck, as an
 * operator runs it), then in this process a StoreTrunkingDirectory on the
 * same file (as `serve` has) and the timed lookups (lookup.ts):
 *
 * - the decks into memory: looked up INDEX_AFTER times (a server's store
 *   then loads them in the background), timed until all are held;
 * - steady: every number, each lookup alone;
 * - alone: lookups back to back for 3 s (the baseline of the next two);
 * - beside a CLI import: all decks imported again with --replace by the
 *   CLI in other processes while lookups run here back to back;
 * - beside an in-process import: one deck imported again with --replace
 *   through the store in this process (what the API's upload does inside
 *   the server) while lookups run.
 */
import { spawn } from 'node:child_process';
import { createReadStream, existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openStore, type Store } from '../../src/store/index.js';
import { StoreTrunkingDirectory } from '../../src/trunking/directory.js';
import { readRateCsv } from '../../src/trunking/rate-csv.js';
import { INDEX_AFTER } from '../../src/store/repos/rate-index.js';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Decks } from './deck.js';
import { type BesideRun, type LookupRun, lookupsBeside, timedLookups } from './lookup.js';

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

export interface ImportFigures {
  rows: number;
  ms: number;
  /** Wall time of each carrier's `rate import` process (node start-up included). */
  perDeckMs: number[];
}

export interface TrunklineFigures {
  import: ImportFigures;
  steady: LookupRun;
  /** The lookups of the beside runs, 3 s with nothing else running (their baseline). */
  alone: BesideRun;
  besideCli: BesideRun & { importMs: number };
  besideInProcess: BesideRun & { importMs: number; rows: number };
  /** The SQLite file (after a WAL checkpoint) per million rows, bytes. */
  dbBytesPerMillion: number;
  /** The decks held in memory for lookups (store.rates.inMemory) per million rows, bytes; how many decks. */
  memoryBytesPerMillion: number;
  decksInMemory: number;
  /** From the first lookup to every deck in memory (loaded side by side), ms. */
  loadedMs: number;
  /** This process's RSS and V8 heap growth from before the store was opened to after the lookups, bytes. */
  rssGrowth: number;
  heapGrowth: number;
  carriersPerLookup: number;
  none: number;
}

/** Runs `trunkline rate import` for one deck; rejects on a non-zero exit with its output. */
function cliImport(config: string, carrier: string, csv: string, replace: boolean): Promise<number> {
  const started = performance.now();
  const args = [CLI, 'rate', 'import', carrier, csv, '--config', config, ...(replace ? ['--replace'] : [])];
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (b: Buffer) => (out += b.toString()));
    p.stderr.on('data', (b: Buffer) => (out += b.toString()));
    p.on('error', reject);
    p.on('exit', (code) => {
      if (code === 0) resolve(performance.now() - started);
      else reject(new Error(`trunkline rate import ${carrier} exited with ${code}: ${out.trim()}`));
    });
  });
}

async function importAll(config: string, decks: Decks, csvOf: (c: string) => string, replace: boolean) {
  const started = performance.now();
  const perDeckMs: number[] = [];
  for (const c of decks.carriers) perDeckMs.push(await cliImport(config, c, csvOf(c), replace));
  return { ms: performance.now() - started, perDeckMs };
}

/** The store file's size with its WAL folded in. */
function dbBytes(file: string): number {
  const db = new Database(file);
  try {
    db.pragma('wal_checkpoint(TRUNCATE)');
  } finally {
    db.close();
  }
  return statSync(file).size + (existsSync(`${file}-wal`) ? statSync(`${file}-wal`).size : 0);
}

/** Waits (up to 5 minutes) until `decks` decks are held in memory for lookups. */
async function inMemory(store: Store, decks: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  while (store.rates.inMemory.decks < decks) {
    if (Date.now() > deadline)
      throw new Error(`only ${store.rates.inMemory.decks} of ${decks} decks in memory after 5 minutes`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function provision(dbFile: string, decks: Decks): Promise<void> {
  const store = await openStore({ kind: 'sqlite', file: dbFile }, { env: {} });
  try {
    for (const [i, name] of decks.carriers.entries())
      await store.carriers.add({ name, gateways: [`sip:127.0.0.1:${5061 + i}`] });
    await store.routes.add('+', decks.carriers, { mode: 'lcr' });
  } finally {
    await store.close();
  }
}

export async function trunklineFigures(o: {
  dir: string;
  decks: Decks;
  csvOf: (carrier: string) => string;
  progress: (line: string) => void;
}): Promise<TrunklineFigures> {
  const dbFile = join(o.dir, 'trunkline.db');
  const config = join(o.dir, 'trunkline.yaml');
  writeFileSync(config, `data: ${o.dir}\ndatabase: sqlite:${dbFile}\n`);
  await provision(dbFile, o.decks);
  const rows = o.decks.carriers.reduce((s, c) => s + o.decks.rows.get(c)!.length, 0);
  const imp = await importAll(config, o.decks, o.csvOf, false);
  o.progress(`trunkline: ${rows} rows imported by the CLI in ${(imp.ms / 1000).toFixed(1)} s`);
  const dbBytesPerMillion = (dbBytes(dbFile) * 1e6) / rows;

  global.gc?.();
  const mem0 = process.memoryUsage();
  const store: Store = await openStore({ kind: 'sqlite', file: dbFile }, { env: {} });
  const dir = new StoreTrunkingDirectory({ store });
  try {
    await dir.start();
    // A server's decks go into memory once looked up INDEX_AFTER times: time that load.
    const started = performance.now();
    for (let i = 0; i < INDEX_AFTER; i++) await store.rates.match(o.decks.carriers, o.decks.numbers[0]!, Date.now());
    await inMemory(store, o.decks.carriers.length);
    const loadedMs = performance.now() - started;
    const steady = await timedLookups(dir, o.decks.numbers, () => inMemory(store, o.decks.carriers.length));
    const alone = await lookupsBeside(dir, o.decks.numbers, steady, sleep(3000));
    o.progress(`trunkline: ${o.decks.numbers.length} lookups timed`);
    const held = store.rates.inMemory;
    global.gc?.();
    const mem1 = process.memoryUsage();

    const cliWork = importAll(config, o.decks, o.csvOf, true);
    const besideCli = await lookupsBeside(dir, o.decks.numbers, steady, cliWork);
    const importMs = (await cliWork).ms;
    o.progress(`trunkline: ${besideCli.lookups} lookups beside a CLI import of every deck (--replace)`);

    const one = o.decks.carriers[0]!;
    const t0 = performance.now();
    const inProcess = store.rates.import(one, readRateCsv(createReadStream(o.csvOf(one))), {
      replace: true,
      source: 'bench',
    });
    const besideInProcess = await lookupsBeside(dir, o.decks.numbers, steady, inProcess);
    const inProcessMs = performance.now() - t0;
    o.progress(`trunkline: ${besideInProcess.lookups} lookups beside an in-process import of ${one}'s deck`);

    let found = 0;
    let none = 0;
    for (const n of steady.found) {
      found += n;
      if (n === 0) none++;
    }
    return {
      import: { rows, ms: imp.ms, perDeckMs: imp.perDeckMs },
      steady,
      alone,
      besideCli: { ...besideCli, importMs },
      besideInProcess: { ...besideInProcess, importMs: inProcessMs, rows: o.decks.rows.get(one)!.length },
      dbBytesPerMillion,
      memoryBytesPerMillion: (held.bytes * 1e6) / Math.max(1, held.rows),
      decksInMemory: held.decks,
      loadedMs,
      rssGrowth: mem1.rss - mem0.rss,
      heapGrowth: mem1.heapUsed - mem0.heapUsed,
      carriersPerLookup: found / steady.found.length,
      none,
    };
  } finally {
    dir.stop();
    await store.close();
  }
}
