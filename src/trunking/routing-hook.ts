/**
 * The routing module (`routing.module`, its types in routing-module.ts):
 * loaded from its file, run on the call's path with a time budget, its
 * decision checked and applied to the table's order (routing-apply.ts).
 * A module that throws, cannot be applied, or overruns
 * `routing.moduleBudgetMs` leaves the table's decision standing; why is
 * logged and shown by `route explain`. The module runs on the event loop:
 * an asynchronous one is cut at the budget, a synchronous one that
 * overruns it has held the loop that long all the same (its answer is
 * dropped and logged).
 */
import { pathToFileURL } from 'node:url';
import { applyDecision } from './routing-apply.js';
import type { NumberRefusal } from './dialled.js';
import type { RouteMatch } from './model.js';
import type { RouteOrder } from './route-order.js';
import { formatIncrements, formatMicros } from './money.js';
import type { RoutingCall, RoutingCandidate, RoutingFunction, RoutingQuality } from './routing-module.js';
import type { QualitySnapshot } from './quality.js';

export class RoutingModuleError extends Error {
  override readonly name = 'RoutingModuleError';
}

export interface RoutingModuleLog {
  warn(obj: object, msg: string): void;
}

/** Each import of a file is a module of its own (ESM caches by URL): a reload reads the file anew. */
let generation = 0;

/** A loaded routing module and its budget. */
export class RoutingModule {
  private constructor(
    readonly file: string,
    readonly budgetMs: number,
    private readonly fn: RoutingFunction,
    private readonly log: RoutingModuleLog,
  ) {}

  /** Imports `file` (absolute); RoutingModuleError when it does not load or exports no function. */
  static async load(file: string, budgetMs: number, log: RoutingModuleLog): Promise<RoutingModule> {
    let mod: Record<string, unknown>;
    try {
      mod = (await import(`${pathToFileURL(file).href}?generation=${++generation}`)) as Record<string, unknown>;
    } catch (err) {
      throw new RoutingModuleError(`routing.module: ${file} does not load: ${errText(err)}`);
    }
    const fn = typeof mod['default'] === 'function' ? mod['default'] : mod['route'];
    if (typeof fn !== 'function')
      throw new RoutingModuleError(
        `routing.module: ${file} exports no function (a default export, or one named route)`,
      );
    return new RoutingModule(file, budgetMs, fn as RoutingFunction, log);
  }

  /** The module's answer within the budget, or why there is none. */
  async ask(call: RoutingCall): Promise<{ answer: unknown; ms: number } | { error: string; ms: number }> {
    const t0 = performance.now();
    const ms = (): number => Math.round((performance.now() - t0) * 10) / 10;
    let timer: NodeJS.Timeout | undefined;
    try {
      const r: unknown = this.fn(call);
      if (ms() > this.budgetMs) return { error: `took ${ms()} ms, over its budget of ${this.budgetMs} ms`, ms: ms() };
      if (!isThenable(r)) return { answer: r, ms: ms() };
      const late = Symbol('late');
      const overrun = new Promise<typeof late>((res) => {
        timer = setTimeout(() => res(late), Math.max(0, this.budgetMs - ms()));
      });
      const answer = await Promise.race([r, overrun]);
      if (answer === late || ms() > this.budgetMs)
        return { error: `took over its budget of ${this.budgetMs} ms`, ms: ms() };
      return { answer, ms: ms() };
    } catch (err) {
      return { error: `threw: ${errText(err)}`, ms: ms() };
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  warn(obj: object, msg: string): void {
    this.log.warn({ module: this.file, ...obj }, msg);
  }
}

function isThenable(v: unknown): v is PromiseLike<unknown> {
  return typeof v === 'object' && v !== null && typeof (v as { then?: unknown }).then === 'function';
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** What the path knows of a call beyond its number and route (routing-module.ts RoutingCall). */
export interface CallFacts {
  source: RoutingCall['source'];
  trunk: string;
  account: string;
  calleeReceived: string | null;
  caller: RoutingCall['caller'];
  headers: ReadonlyArray<readonly [string, string]>;
  explain: boolean;
  /** A carrier's figures (null: none at hand). */
  quality(carrier: string): RoutingQuality | null;
}

/** Each carrier's figures as a module sees them, from a quality snapshot (null: none at hand). */
export function qualityLookup(
  snapshot: QualitySnapshot | null,
  now: number,
): (carrier: string) => RoutingQuality | null {
  const byName = new Map((snapshot?.carriers ?? []).map((q) => [q.carrier, q]));
  return (carrier) => {
    const q = byName.get(carrier);
    if (q === undefined) return null;
    const { attempts, asr, ner, acd, pdd, mos } = q;
    return { attempts, asr, ner, acd, pdd, mos, demoted: q.demotedUntil !== null && q.demotedUntil > now };
  };
}

/** A module to run on a call, and the call's facts. */
export interface ModuleHook {
  module: RoutingModule;
  facts: CallFacts;
}

/** What the module did to a call: for the planner (numbers, headers) and for explain (all of it). */
export interface ModuleEffect {
  module: string;
  ms: number;
  /** Each change in words; [] when it changed nothing. */
  changes: string[];
  /** Why its decision was not applied (threw, overran, could not be applied); null when applied. */
  error: string | null;
  /** The callee and caller (E.164) sent instead, null: unchanged. */
  callee: string | null;
  caller: string | null;
  headers: Array<[string, string]>;
}

function candidateOf(p: RouteOrder['ordered'][number], facts: CallFacts): RoutingCandidate {
  const r = p.rate;
  return {
    carrier: p.carrier.name,
    gateways: [...p.carrier.gateways],
    rate:
      r === null
        ? null
        : {
            prefix: r.prefix,
            micros: r.rate,
            perMinute: formatMicros(r.rate),
            feeMicros: r.fee,
            increment: formatIncrements(r),
          },
    quality: facts.quality(p.carrier.name),
    why: p.why,
  };
}

function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null) {
    for (const x of Object.values(v)) deepFreeze(x);
    Object.freeze(v);
  }
  return v;
}

/** The read-only view the module is given. */
export function callView(facts: CallFacts, number: string, route: RouteMatch, order: RouteOrder): RoutingCall {
  return deepFreeze({
    source: facts.source === null ? null : { ...facts.source },
    trunk: facts.trunk,
    account: facts.account,
    callee: { received: facts.calleeReceived, number },
    caller: { ...facts.caller },
    headers: facts.headers.map(([n, v]) => [n, v] as const),
    route: { prefix: route.prefix, mode: route.mode },
    candidates: order.ordered.map((p) => candidateOf(p, facts)),
    explain: facts.explain,
  });
}

/** Runs the module on the table's decision: the order, a refusal, and what it did; its failure leaves the table's. */
export async function runModule(
  hook: ModuleHook,
  number: string,
  route: RouteMatch,
  order: RouteOrder,
): Promise<{ order: RouteOrder; refusal: NumberRefusal | null; effect: ModuleEffect }> {
  const m = hook.module;
  const asked = await m.ask(callView(hook.facts, number, route, order));
  const base: ModuleEffect = {
    module: m.file,
    ms: asked.ms,
    changes: [],
    error: null,
    callee: null,
    caller: null,
    headers: [],
  };
  const failed = (error: string): { order: RouteOrder; refusal: null; effect: ModuleEffect } => {
    if (!hook.facts.explain)
      m.warn(
        { trunk: hook.facts.trunk, number, ms: asked.ms, err: error },
        "routing module failed: the table's decision stands",
      );
    return { order, refusal: null, effect: { ...base, error } };
  };
  if ('error' in asked) return failed(asked.error);
  const applied = applyDecision(order, asked.answer);
  if ('error' in applied) return failed(`returned a decision that cannot be applied: ${applied.error}`);
  return {
    order: applied.order,
    refusal: applied.refusal,
    effect: {
      ...base,
      changes: applied.changes,
      callee: applied.callee,
      caller: applied.caller,
      headers: applied.headers,
    },
  };
}
