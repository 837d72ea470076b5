/**
 * Kamailio's lcr module on the same decks: the decks written into the lcr
 * tables of a SQLite file (db_sqlite), Kamailio started on it with
 * kamailio-lcr.cfg, one MESSAGE that makes it time load_gws() for every
 * number (in the server, with the benchmark module), its BENCH log lines
 * read back.
 *
 * The deck in lcr's terms: one lcr_gw per carrier, one lcr_rule per
 * distinct prefix, one lcr_rule_target per (carrier, prefix) row with
 * priority = the rank of that carrier's rate among the carriers having that
 * very prefix (0 cheapest). lcr orders the gateways it finds by the length
 * of the matched prefix first, then priority: the work per lookup (a hash
 * probe per prefix length, the gateways collected and sorted) is what is
 * compared; the order can differ from Trunkline's rate order where
 * carriers' longest prefixes differ in length.
 *
 * Two runs: one with the lcr tables empty (gateways only), one with the
 * decks. The difference of their shared memory in use is lcr's memory for
 * the decks; the difference of their start-up times (until an OPTIONS is
 * answered) the time lcr takes to load them.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { kamailioArgs } from '../../test/helpers/kamailio.js';
import { Child } from '../common/children.js';
import { requireModulePath, substdef } from '../common/kamailio.js';
import { waitForOptions } from '../common/readiness.js';
import type { Decks } from './deck.js';
import { type LatencyStats, statsFromHistogram } from './stats.js';

/** Debian's schema files for db_sqlite (the Debian package kamailio-sqlite-modules). */
const SCHEMA_DIR = '/usr/share/kamailio/db_sqlite';

export interface KamailioFigures {
  version: string;
  lookups: LatencyStats;
  /** Gateways load_gws() found, per lookup. */
  carriersPerLookup: number;
  /** Lookups that found no gateway. */
  none: number;
  /** Shared memory lcr holds for the decks (full run minus empty run), bytes. */
  shmBytes: number;
  /** Start-up time with the decks minus without, ms. */
  loadMs: number;
  rules: number;
  targets: number;
}

/** Writes the lcr tables (and the numbers, as htable rows) into a new SQLite file. */
export function writeLcrDb(file: string, decks: Decks, withRules: boolean): { rules: number; targets: number } {
  const db = new Database(file);
  try {
    db.pragma('journal_mode = OFF');
    db.pragma('synchronous = OFF');
    db.exec(readFileSync(join(SCHEMA_DIR, 'standard-create.sql'), 'utf8'));
    db.exec(readFileSync(join(SCHEMA_DIR, 'lcr-create.sql'), 'utf8'));
    db.exec(readFileSync(join(SCHEMA_DIR, 'htable-create.sql'), 'utf8').replace(/\bhtable\b/g, 'nums'));
    const gw = db.prepare(
      'INSERT INTO lcr_gw (id, lcr_id, gw_name, ip_addr, port, uri_scheme, transport, strip, flags) VALUES (?, 1, ?, ?, ?, 1, 1, 0, 0)',
    );
    const rule = db.prepare('INSERT INTO lcr_rule (id, lcr_id, prefix, stopper, enabled) VALUES (?, 1, ?, 0, 1)');
    const target = db.prepare(
      'INSERT INTO lcr_rule_target (lcr_id, rule_id, gw_id, priority, weight) VALUES (1, ?, ?, ?, 1)',
    );
    const num = db.prepare('INSERT INTO nums (key_name, key_type, value_type, key_value) VALUES (?, 0, 0, ?)');
    let rules = 0;
    let targets = 0;
    db.transaction(() => {
      decks.carriers.forEach((c, i) => gw.run(i + 1, c, '127.0.0.1', 5061 + i));
      decks.numbers.forEach((n, i) => num.run(String(i), n));
      if (!withRules) return;
      // prefix -> [gateway id, rate] of each carrier having it.
      const byPrefix = new Map<string, Array<[number, number]>>();
      decks.carriers.forEach((c, i) => {
        for (const r of decks.rows.get(c)!) {
          const list = byPrefix.get(r.prefix);
          if (list === undefined) byPrefix.set(r.prefix, [[i + 1, r.rate]]);
          else list.push([i + 1, r.rate]);
        }
      });
      for (const [prefix, list] of byPrefix) {
        rule.run(++rules, prefix);
        list.sort((a, b) => a[1] - b[1]);
        list.forEach(([gwId], rank) => target.run(rules, gwId, rank));
        targets += list.length;
      }
    })();
    return { rules, targets };
  } finally {
    db.close();
  }
}

/** What one Kamailio run printed. */
interface RunLines {
  shmUsed: number;
  histogram: Map<number, number>;
  found: number;
  none: number;
  startMs: number;
}

/** Starts Kamailio on `dbFile`, runs the lookups, stops it. */
export async function runKamailio(o: {
  kamailio: string;
  dir: string;
  tag: string;
  dbFile: string;
  port: number;
  lookups: number;
  hashSize: number;
  template: string;
}): Promise<RunLines> {
  const cfg = substdef(readFileSync(o.template, 'utf8'), {
    BENCH_DBURL: `sqlite:///${o.dbFile}`,
    BENCH_LISTEN: `udp:127.0.0.1:${o.port}`,
    BENCH_MPATH: requireModulePath(),
    BENCH_HASH: String(o.hashSize),
    BENCH_LOOKUPS: String(o.lookups),
  });
  const file = join(o.dir, `kamailio-${o.tag}.cfg`);
  writeFileSync(file, cfg);
  const log = join(o.dir, `kamailio-${o.tag}.log`);
  const started = performance.now();
  const child = new Child('kamailio', o.kamailio, kamailioArgs(file, { sharedMb: 2048, privateMb: 512 }), log, o.dir);
  try {
    await waitForOptions(o.port, child, 300_000);
    const startMs = performance.now() - started;
    await sendMessage(o.port, 600_000);
    const lines = readFileSync(log, 'utf8').split('\n');
    const histogram = new Map<number, number>();
    let shmUsed = NaN;
    let found = NaN;
    let none = NaN;
    for (const l of lines) {
      let m = /BENCH shm_used (\d+)/.exec(l);
      if (m !== null) shmUsed = Number(m[1]);
      m = /BENCH hist (\d+) (\d+)/.exec(l);
      if (m !== null) histogram.set(Number(m[1]), Number(m[2]));
      m = /BENCH found (\d+) none (\d+)/.exec(l);
      if (m !== null) {
        found = Number(m[1]);
        none = Number(m[2]);
      }
    }
    if (Number.isNaN(found)) throw new Error(`kamailio printed no BENCH result:\n${child.logTail()}`);
    return { shmUsed, histogram, found, none, startMs };
  } finally {
    await child.stop(3000);
  }
}

/** Sends MESSAGE sip:lookups@ over UDP and waits for the final answer (the lookups run before it). */
function sendMessage(port: number, timeoutMs: number): Promise<void> {
  const sock = createSocket('udp4');
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`kamailio did not answer the lookups MESSAGE within ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('message', (buf) => {
      const status = /^SIP\/2\.0 (\d{3})/.exec(buf.toString('latin1'))?.[1];
      if (status === undefined || status.startsWith('1')) return;
      clearTimeout(timer);
      sock.close();
      if (status === '200') resolve();
      else reject(new Error(`kamailio answered the lookups MESSAGE with ${status}`));
    });
    sock.bind(0, '127.0.0.1', () => {
      const me = sock.address().port;
      const msg =
        `MESSAGE sip:lookups@127.0.0.1:${port} SIP/2.0\r\n` +
        `Via: SIP/2.0/UDP 127.0.0.1:${me};branch=z9hG4bK-bench-${Date.now()}\r\n` +
        'Max-Forwards: 70\r\n' +
        `From: <sip:bench@127.0.0.1:${me}>;tag=bench\r\n` +
        `To: <sip:lookups@127.0.0.1:${port}>\r\n` +
        `Call-ID: bench-routing-${Date.now()}@127.0.0.1\r\n` +
        'CSeq: 1 MESSAGE\r\n' +
        'Content-Length: 0\r\n\r\n';
      sock.send(msg, port, '127.0.0.1');
    });
  });
}

/** Both runs (empty tables, then the decks) and their figures. */
export async function kamailioFigures(o: {
  kamailio: string;
  version: string;
  dir: string;
  decks: Decks;
  ports: [number, number];
  hashSize: number;
  template: string;
  progress: (line: string) => void;
}): Promise<KamailioFigures> {
  const emptyDb = join(o.dir, 'lcr-empty.db');
  const fullDb = join(o.dir, 'lcr-full.db');
  writeLcrDb(emptyDb, o.decks, false);
  const t0 = performance.now();
  const { rules, targets } = writeLcrDb(fullDb, o.decks, true);
  o.progress(
    `kamailio: lcr tables written (${rules} rules, ${targets} targets) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  const common = {
    kamailio: o.kamailio,
    dir: o.dir,
    lookups: o.decks.numbers.length,
    hashSize: o.hashSize,
    template: o.template,
  };
  const empty = await runKamailio({ ...common, tag: 'empty', dbFile: emptyDb, port: o.ports[0] });
  o.progress(`kamailio: empty lcr tables: up in ${(empty.startMs / 1000).toFixed(1)} s`);
  const full = await runKamailio({ ...common, tag: 'full', dbFile: fullDb, port: o.ports[1] });
  o.progress(`kamailio: with the decks: up in ${(full.startMs / 1000).toFixed(1)} s`);
  return {
    version: o.version,
    lookups: statsFromHistogram(full.histogram),
    carriersPerLookup: full.found / o.decks.numbers.length,
    none: full.none,
    shmBytes: full.shmUsed - empty.shmUsed,
    loadMs: full.startMs - empty.startMs,
    rules,
    targets,
  };
}
