/**
 * A routing module's decision (routing-module.ts RoutingDecision) checked
 * and applied to the table's order. The module is code of the operator's,
 * in JavaScript: its answer is checked field by field like any outside
 * input, and a decision with one bad field is not applied at all.
 */
import type { NumberRefusal } from './dialled.js';
import type { PlacedCarrier, RouteOrder } from './route-order.js';

export interface AppliedDecision {
  order: RouteOrder;
  refusal: NumberRefusal | null;
  callee: string | null;
  caller: string | null;
  headers: Array<[string, string]>;
  changes: string[];
}

const E164 = /^\+[1-9][0-9]{1,14}$/;
/** An RFC 3261 25.1 token. */
const TOKEN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/;
const MAX_HEADERS = 20;
const MAX_VALUE = 1024;
/** Headers a module may not add: the dialog's and transaction's own (RFC 3261 8.1.1), ours, and those the B2BUA writes. */
const RESERVED = new Set([
  'via',
  'from',
  'to',
  'call-id',
  'cseq',
  'contact',
  'max-forwards',
  'route',
  'record-route',
  'content-length',
  'content-type',
  'content-encoding',
  'authorization',
  'proxy-authorization',
  'require',
  'proxy-require',
  'supported',
  'session-expires',
  'min-se',
  'p-asserted-identity',
  'x-call-sid',
  'x-leg-sid',
  'x-trunk-sid',
]);

type Checked<T> = T | { error: string };

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkCarriers(v: unknown, order: RouteOrder): Checked<PlacedCarrier[]> {
  if (!Array.isArray(v)) return { error: 'carriers: expected an array of carrier names' };
  const byName = new Map(order.ordered.map((p) => [p.carrier.name, p]));
  const out: PlacedCarrier[] = [];
  for (const name of v) {
    const p = typeof name === 'string' ? byName.get(name) : undefined;
    if (p === undefined) return { error: `carriers: ${JSON.stringify(name)} is no candidate of this call` };
    if (out.includes(p)) return { error: `carriers: ${name} given twice` };
    out.push(p);
  }
  return out;
}

function checkRefuse(v: unknown): Checked<{ status: number; reason: string }> {
  if (!isRecord(v)) return { error: 'refuse: expected {status, reason}' };
  const { status, reason } = v;
  if (typeof status !== 'number' || !Number.isInteger(status) || status < 400 || status > 699)
    return { error: `refuse.status: expected a SIP status 400-699, got ${JSON.stringify(status)}` };
  // A reason phrase (RFC 3261 25.1): printable text, no line breaks.
  if (typeof reason !== 'string' || reason.length === 0 || reason.length > 100 || /[\x00-\x1f\x7f]/.test(reason))
    return { error: 'refuse.reason: expected a reason phrase of 1-100 characters without control characters' };
  return { status, reason };
}

function checkNumber(v: unknown, key: string): Checked<string> {
  if (typeof v !== 'string' || !E164.test(v))
    return { error: `${key}: expected an E.164 number, got ${JSON.stringify(v)}` };
  return v;
}

function checkHeaders(v: unknown): Checked<Array<[string, string]>> {
  if (!isRecord(v)) return { error: 'headers: expected an object of header names to values' };
  const out: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(v)) {
    // One-letter names are compact forms (RFC 3261 7.3.3) of reserved headers among others.
    if (!TOKEN.test(name) || name.length < 2) return { error: `headers: ${JSON.stringify(name)} is no header name` };
    if (RESERVED.has(name.toLowerCase())) return { error: `headers: ${name} is the B2BUA's own, not a module's` };
    if (typeof value !== 'string' || value.length > MAX_VALUE || /[\x00-\x08\x0a-\x1f\x7f]/.test(value))
      return { error: `headers: ${name}: expected text of at most ${MAX_VALUE} characters without line breaks` };
    out.push([name, value]);
  }
  if (out.length > MAX_HEADERS) return { error: `headers: at most ${MAX_HEADERS}` };
  return out;
}

function failed(v: unknown): v is { error: string } {
  return isRecord(v) && typeof v['error'] === 'string' && Object.keys(v).length === 1;
}

const KEYS = new Set(['carriers', 'refuse', 'callee', 'caller', 'headers']);

/** The module's order: its carriers first-first, each saying where the table had it; the others dropped. */
function reorder(order: RouteOrder, picked: PlacedCarrier[], changes: string[]): RouteOrder {
  const table = order.ordered;
  const ordered = picked.map((p, i) => {
    const was = table.indexOf(p);
    return was === i
      ? p
      : { ...p, why: `${p.why}; placed ${i + 1} by the routing module (the table had it ${was + 1})` };
  });
  const dropped = table.filter((p) => !picked.includes(p));
  if (ordered.some((p, i) => p !== table[i]) || dropped.length > 0)
    changes.push(
      `carriers: ${table.map((p) => p.carrier.name).join(',')} -> ${picked.map((p) => p.carrier.name).join(',') || 'none'}`,
    );
  return {
    ordered,
    leftOut: [
      ...order.leftOut,
      ...dropped.map((p) => ({
        carrier: p.carrier,
        why: `dropped by the routing module (the table had it ${table.indexOf(p) + 1})`,
      })),
    ],
  };
}

/** The decision applied, or why it cannot be (nothing of it is applied then). null/undefined: no change. */
export function applyDecision(order: RouteOrder, answer: unknown): AppliedDecision | { error: string } {
  const out: AppliedDecision = { order, refusal: null, callee: null, caller: null, headers: [], changes: [] };
  if (answer === null || answer === undefined) return out;
  if (!isRecord(answer)) return { error: 'expected an object (or nothing)' };
  const unknown = Object.keys(answer).filter((k) => !KEYS.has(k));
  if (unknown.length > 0) return { error: `unknown key ${unknown[0]} (expected ${[...KEYS].join(', ')})` };
  const { carriers, refuse, callee, caller, headers } = answer;
  const picked = carriers === undefined ? null : checkCarriers(carriers, order);
  const refusal = refuse === undefined ? null : checkRefuse(refuse);
  const calleeOut = callee === undefined ? null : checkNumber(callee, 'callee');
  const callerOut = caller === undefined ? null : checkNumber(caller, 'caller');
  const added = headers === undefined ? [] : checkHeaders(headers);
  for (const c of [picked, refusal, calleeOut, callerOut, added]) if (failed(c)) return c;
  if (refusal !== null) {
    const r = refusal as { status: number; reason: string };
    out.refusal = {
      status: r.status,
      reason: r.reason,
      cause: 'routing-module',
      detail: 'refused by the routing module',
    };
    out.changes.push(`refused: ${r.status} ${r.reason}`);
    return out;
  }
  if (picked !== null) out.order = reorder(order, picked as PlacedCarrier[], out.changes);
  if (out.order.ordered.length === 0)
    out.refusal = {
      status: 404,
      reason: 'No route',
      cause: 'routing-module',
      detail: 'the routing module dropped every carrier',
    };
  if (calleeOut !== null) {
    out.callee = calleeOut as string;
    out.changes.push(`callee sent as ${out.callee}`);
  }
  if (callerOut !== null) {
    out.caller = callerOut as string;
    out.changes.push(`caller sent as ${out.caller}`);
  }
  out.headers = added as Array<[string, string]>;
  for (const [n, v] of out.headers) out.changes.push(`header added: ${n}: ${v}`);
  return out;
}
