/**
 * The `sip` npm package (0.0.6, CommonJS), driven as its own UDP transport and
 * a proxy written on it would drive it: `sip.parse(buffer)` (it decodes with
 * toString('binary') itself, exactly as its UDP transport does, so that cost
 * is counted) gives a message with every known header already parsed; the
 * proxy mutates `headers.via`, `headers['max-forwards']` and `headers.route`
 * and calls `sip.stringify()`, and the result is encoded with
 * Buffer.from(s, 'binary') as its transport's send does.
 */
import { createRequire } from 'node:module';
import { DEFAULT_MAX_FORWARDS, PROXY_HOST, PROXY_PORT, sinkNum, sinkStr, type Implementation } from './common.js';

/** The parts of a `sip` message the benchmark touches (the package ships no types). */
interface SipParams {
  [name: string]: string | null | undefined;
}
interface SipVia {
  version: string;
  protocol: string;
  host: string;
  port?: number;
  params: SipParams;
}
interface SipAor {
  name?: string;
  uri: string | { host: string; params: SipParams };
  params: SipParams;
}
interface SipCSeq {
  seq: number;
  method: string;
}
interface SipHeaders {
  via: SipVia[];
  from: SipAor;
  to: SipAor;
  'call-id': string;
  cseq: SipCSeq;
  'max-forwards'?: string | number;
  route?: SipAor[];
  'record-route'?: SipAor[];
  contact?: SipAor[] | '*';
  [name: string]: unknown;
}
export interface SipNpmMessage {
  method?: string;
  uri?: string;
  status?: number;
  reason?: string;
  version: string;
  headers: SipHeaders;
  content: string;
}
interface SipNpm {
  parse(data: Buffer | string): SipNpmMessage | undefined;
  stringify(m: SipNpmMessage): string;
}

const require = createRequire(import.meta.url);
export const sipNpm = require('sip') as SipNpm;

let branchCounter = 0;

function parse(buf: Buffer): SipNpmMessage {
  const m = sipNpm.parse(buf);
  if (m === undefined) throw new Error('sip: parse failed');
  return m;
}

function sinkAor(a: SipAor): void {
  sinkStr(typeof a.uri === 'string' ? a.uri : a.uri.host);
  sinkStr(a.name);
}

function forward(buf: Buffer): Buffer {
  const m = parse(buf);
  const h = m.headers;
  const via = h.via[0]!;
  sinkStr(via.params.branch);
  sinkStr(via.host);
  sinkNum(via.port);
  sinkStr(h['call-id']);
  sinkNum(h.cseq.seq);
  sinkStr(h.cseq.method);
  sinkStr(h.from.params.tag);
  sinkStr(h.to.params.tag);
  if (m.method !== undefined) {
    const raw = h['max-forwards'];
    const mf = raw === undefined ? DEFAULT_MAX_FORWARDS : +raw;
    const routes = h.route;
    if (routes !== undefined && routes.length > 0) sinkAor(routes[0]!);
    h.via.unshift({
      version: '2.0',
      protocol: 'UDP',
      host: PROXY_HOST,
      port: PROXY_PORT,
      params: { branch: `z9hG4bK${++branchCounter}` },
    });
    h['max-forwards'] = mf - 1;
    if (routes !== undefined && routes.length > 0) routes.shift();
  } else {
    h.via.shift();
  }
  return Buffer.from(sipNpm.stringify(m), 'binary');
}

function fullParse(buf: Buffer): number {
  // sip.parse() parses every header it knows up front; reading them is all that is left.
  const m = parse(buf);
  const h = m.headers;
  let n = 0;
  for (const name in h) {
    const v = h[name];
    n++;
    if (typeof v === 'string') sinkStr(v);
    else if (typeof v === 'number') sinkNum(v);
    else if (Array.isArray(v)) {
      for (const e of v as Array<{ host?: string; uri?: unknown; params?: SipParams }>) {
        if (e.host !== undefined) sinkStr(e.host);
        else if (e.uri !== undefined) sinkAor(e as SipAor);
      }
    } else if (v !== null && typeof v === 'object') {
      if ('uri' in v) sinkAor(v as SipAor);
      else if ('seq' in v) sinkNum((v as SipCSeq).seq);
    }
  }
  sinkNum(m.content.length);
  return n;
}

export const sipPeer: Implementation = {
  name: 'sip',
  notes:
    "sip.parse(Buffer) (decodes 'binary' itself, all known headers parsed eagerly); mutate headers.via / " +
    "headers['max-forwards'] / headers.route; Buffer.from(sip.stringify(m), 'binary')",
  forward,
  fullParse,
};
