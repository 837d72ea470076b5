/**
 * Carrier and gateway quality: each attempt toward a carrier gateway, as it
 * ends, goes into the rolling window of its carrier and of its gateway
 * (quality-window.ts); a carrier or gateway whose figures fall below the
 * thresholds (`routing.quality`, judged once it has `minCalls` attempts) is
 * demoted for `coolDown` seconds: calls try it after every other candidate
 * (src/b2bua/planner.ts, quality-order.ts). A demotion is logged once when
 * it starts and once when it ends; after it, the carrier is judged on the
 * attempts that come after it only (the old ones would demote it again at
 * once). The clock is a parameter (tests run it by hand).
 *
 * Figures are this node's own (a cluster's nodes each judge what they saw).
 */
import { figuresOf, isEffective, QualityWindow, type QualityFigures } from './quality-window.js';

export interface QualityConfig {
  /** Attempts kept per carrier and per gateway. */
  window: number;
  /** And none older than this many minutes (0: no age limit). */
  windowMinutes: number;
  /** Attempts needed before a carrier or gateway is judged. */
  minCalls: number;
  /** Thresholds; 0 leaves the figure unjudged. ASR and NER in percent, PDD in ms. */
  minAsr: number;
  minNer: number;
  maxPdd: number;
  minMos: number;
  /** Seconds a demotion lasts. */
  coolDown: number;
}

export const DEFAULT_QUALITY: QualityConfig = {
  window: 100,
  windowMinutes: 60,
  minCalls: 20,
  minAsr: 0,
  minNer: 0,
  maxPdd: 0,
  minMos: 0,
  coolDown: 300,
};

/** An attempt toward a carrier gateway, as it ended. */
export interface AttemptOutcome {
  carrier: string;
  gateway: string;
  /** Its final status (200 when answered; 408 for no answer at all, 503 for unreachable). */
  status: number;
  pddMs?: number | null;
  /** An answered call's duration (ms) and MOS. */
  durationMs?: number | null;
  mos?: number | null;
}

/** A point of a carrier's or gateway's figures over time. */
export interface QualityPoint {
  at: number;
  asr: number | null;
  ner: number | null;
  acd: number | null;
  pdd: number | null;
  mos: number | null;
}

/** One carrier's or gateway's figures and demotion, as the API, explain and the console show them. */
export interface EntityQuality extends QualityFigures {
  carrier: string;
  /** null for a carrier's own line. */
  gateway: string | null;
  /** ms since the epoch; null when not demoted. */
  demotedUntil: number | null;
  /** Why, in words (`ASR 20% below 40%`). */
  demotedFor: string | null;
  history: QualityPoint[];
}

export interface QualitySnapshot {
  config: QualityConfig;
  carriers: EntityQuality[];
  gateways: EntityQuality[];
}

export interface QualityLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

interface Entity {
  carrier: string;
  gateway: string | null;
  window: QualityWindow;
  demotedUntil: number | null;
  demotedFor: string | null;
  /** Attempts before this time (ms) are not judged again (those before the last demotion ended). */
  judgeFrom: number;
  history: QualityPoint[];
}

/** History points: one a minute, the last hour. */
const HISTORY_MS = 60_000;
const HISTORY_POINTS = 60;

/** Whether any threshold is set (0: that figure is not judged). */
function judging(c: QualityConfig): boolean {
  return c.minAsr > 0 || c.minNer > 0 || c.maxPdd > 0 || c.minMos > 0;
}

/** The thresholds a set of figures falls below, in words; null when it passes them all. */
export function breaches(f: QualityFigures, c: QualityConfig): string | null {
  const out: string[] = [];
  if (c.minAsr > 0 && f.asr !== null && f.asr < c.minAsr) out.push(`ASR ${f.asr}% below ${c.minAsr}%`);
  if (c.minNer > 0 && f.ner !== null && f.ner < c.minNer) out.push(`NER ${f.ner}% below ${c.minNer}%`);
  if (c.maxPdd > 0 && f.pdd !== null && f.pdd > c.maxPdd) out.push(`PDD ${f.pdd} ms above ${c.maxPdd} ms`);
  if (c.minMos > 0 && f.mos !== null && f.mos < c.minMos) out.push(`MOS ${f.mos} below ${c.minMos}`);
  return out.length === 0 ? null : out.join(', ');
}

export class QualityBoard {
  private readonly entities = new Map<string, Entity>();
  private config: QualityConfig;
  private lastPoint = 0;
  private readonly wakeCbs: (() => void)[] = [];

  constructor(
    config: QualityConfig,
    private readonly opts: { now?: () => number; log?: QualityLog } = {},
  ) {
    this.config = { ...config };
  }

  private now(): number {
    return this.opts.now?.() ?? Date.now();
  }

  /** New thresholds and window (a config reload); the attempts kept stay. */
  configure(config: QualityConfig): void {
    this.config = { ...config };
    for (const e of this.entities.values()) e.window.resize(config.window);
  }

  /** An attempt ended: into its carrier's and its gateway's windows, each judged again. */
  record(o: AttemptOutcome): void {
    const at = this.now();
    const answered = o.status >= 200 && o.status < 300;
    const sample = {
      at,
      answered,
      effective: isEffective(o.status),
      pddMs: o.pddMs ?? null,
      durationMs: answered ? (o.durationMs ?? null) : null,
      mos: answered ? (o.mos ?? null) : null,
    };
    for (const e of [this.entity(o.carrier, null), this.entity(o.carrier, o.gateway)]) {
      e.window.add(sample);
      // Its history starts at its first attempt (then a point a minute).
      if (e.history.length === 0) e.history.push(this.point(e, at));
      this.judge(e, at);
    }
  }

  /** Whether calls try this carrier (or this gateway of it) after the others now. */
  isDemoted(carrier: string, gateway: string | null = null): boolean {
    const now = this.now();
    const c = this.entities.get(key(carrier, null));
    if (c !== undefined && this.stillDemoted(c, now)) return true;
    if (gateway === null) return false;
    const g = this.entities.get(key(carrier, gateway));
    return g !== undefined && this.stillDemoted(g, now);
  }

  /** Every carrier and gateway seen, with its figures now. */
  snapshot(): QualitySnapshot {
    const now = this.now();
    const carriers: EntityQuality[] = [];
    const gateways: EntityQuality[] = [];
    for (const e of this.entities.values()) {
      this.stillDemoted(e, now);
      const f = this.figures(e, now, 0);
      const current: QualityPoint = { at: now, asr: f.asr, ner: f.ner, acd: f.acd, pdd: f.pdd, mos: f.mos };
      const last = e.history.at(-1);
      const q: EntityQuality = {
        carrier: e.carrier,
        gateway: e.gateway,
        ...f,
        demotedUntil: e.demotedUntil,
        demotedFor: e.demotedFor,
        history: last?.at === now ? [...e.history] : [...e.history, current],
      };
      (e.gateway === null ? carriers : gateways).push(q);
    }
    const byName = (a: EntityQuality, b: EntityQuality): number =>
      a.carrier.localeCompare(b.carrier) || (a.gateway ?? '').localeCompare(b.gateway ?? '');
    return { config: { ...this.config }, carriers: carriers.sort(byName), gateways: gateways.sort(byName) };
  }

  /** `fn` runs when nextSweepAt() may have come earlier (a first carrier or gateway, a demotion). */
  onWake(fn: () => void): void {
    this.wakeCbs.push(fn);
  }

  /** When sweep() has work next (ms since the epoch): a demotion's end or the next history point; null with nothing seen. */
  nextSweepAt(): number | null {
    if (this.entities.size === 0) return null;
    let at = this.lastPoint + HISTORY_MS;
    for (const e of this.entities.values()) if (e.demotedUntil !== null && e.demotedUntil < at) at = e.demotedUntil;
    return at;
  }

  private wake(): void {
    for (const fn of this.wakeCbs) fn();
  }

  /** Ends the demotions whose cool-down is over (logged) and takes a history point each minute (when nextSweepAt() says). */
  sweep(): void {
    const now = this.now();
    for (const e of this.entities.values()) this.stillDemoted(e, now);
    if (now - this.lastPoint < HISTORY_MS) return;
    this.lastPoint = now;
    for (const e of this.entities.values()) {
      e.history.push(this.point(e, now));
      if (e.history.length > HISTORY_POINTS) e.history.shift();
    }
  }

  /** Carriers and gateways no longer configured are forgotten (a reload of the carriers). */
  retain(gateways: ReadonlyMap<string, readonly string[]>): void {
    for (const [k, e] of this.entities)
      if (!gateways.has(e.carrier) || (e.gateway !== null && !gateways.get(e.carrier)!.includes(e.gateway)))
        this.entities.delete(k);
  }

  private point(e: Entity, at: number): QualityPoint {
    const f = this.figures(e, at, 0);
    return { at, asr: f.asr, ner: f.ner, acd: f.acd, pdd: f.pdd, mos: f.mos };
  }

  private entity(carrier: string, gateway: string | null): Entity {
    const k = key(carrier, gateway);
    let e = this.entities.get(k);
    if (e === undefined) {
      e = {
        carrier,
        gateway,
        window: new QualityWindow(this.config.window),
        demotedUntil: null,
        demotedFor: null,
        judgeFrom: 0,
        history: [],
      };
      this.entities.set(k, e);
      if (this.entities.size === 1) this.wake();
    }
    return e;
  }

  /** The figures of the window's attempts since `from` (ms) and within its age limit. */
  private figures(e: Entity, now: number, from: number): QualityFigures {
    const ageLimit = this.config.windowMinutes > 0 ? now - this.config.windowMinutes * 60_000 : 0;
    return figuresOf(e.window.since(Math.max(from, ageLimit)));
  }

  private judge(e: Entity, now: number): void {
    // No threshold set (the default): nothing to judge, and no figures to work out per attempt.
    if (!judging(this.config)) return;
    if (this.stillDemoted(e, now)) return;
    const f = this.figures(e, now, e.judgeFrom);
    if (f.attempts < Math.max(1, this.config.minCalls)) return;
    const why = breaches(f, this.config);
    if (why === null) return;
    e.demotedUntil = now + this.config.coolDown * 1000;
    e.demotedFor = why;
    this.opts.log?.warn(
      {
        carrier: e.carrier,
        ...(e.gateway !== null && { gateway: e.gateway }),
        until: new Date(e.demotedUntil).toISOString(),
        why,
        attempts: f.attempts,
        asr: f.asr,
        ner: f.ner,
        pdd: f.pdd,
        mos: f.mos,
      },
      e.gateway === null ? 'carrier demoted' : 'gateway demoted',
    );
    this.wake();
  }

  /** Whether `e` is demoted at `now`; a demotion whose cool-down is over ends here (logged once). */
  private stillDemoted(e: Entity, now: number): boolean {
    if (e.demotedUntil === null) return false;
    if (now < e.demotedUntil) return true;
    this.opts.log?.info(
      { carrier: e.carrier, ...(e.gateway !== null && { gateway: e.gateway }), was: e.demotedFor },
      e.gateway === null ? 'carrier demotion ended' : 'gateway demotion ended',
    );
    e.demotedUntil = null;
    e.demotedFor = null;
    e.judgeFrom = now;
    return false;
  }
}

function key(carrier: string, gateway: string | null): string {
  return gateway === null ? carrier : `${carrier}\n${gateway}`;
}
