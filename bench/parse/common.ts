/**
 * What every implementation under test provides, and the constants of the
 * proxy work the benchmark asks each of them to do.
 */

/** sent-by of the Via the benchmarked proxy adds on top of a forwarded request. */
export const PROXY_HOST = '192.0.2.1';
export const PROXY_PORT = 5060;
/** The new Via is this prefix followed by a per-implementation counter. */
export const PROXY_VIA_PREFIX = `SIP/2.0/UDP ${PROXY_HOST}:${PROXY_PORT};branch=z9hG4bK`;
/** Max-Forwards assumed by a proxy when a request carries none (RFC 3261 16.6 step 3). */
export const DEFAULT_MAX_FORWARDS = 70;

export interface Implementation {
  /** Short name for the table. */
  readonly name: string;
  /** One line on how the library is driven (printed with --json and in the header notes). */
  readonly notes: string;
  /**
   * "parse+forward": parse a datagram; read what a stateful proxy reads (top
   * Via branch and sent-by, Call-ID, CSeq, From/To tags, and for requests
   * Max-Forwards and Route); add a Via / decrement Max-Forwards / pop the first
   * Route (requests) or pop the top Via (responses); serialize to bytes.
   */
  forward(buf: Buffer): Buffer;
  /**
   * "full parse": parse and read every header, in parsed form for the headers
   * the three libraries all parse (Via, From, To, Contact, Route, Record-Route,
   * CSeq, Call-ID, Max-Forwards), as text for the rest. Returns a number
   * derived from what was read so that nothing can be optimised away.
   */
  fullParse(buf: Buffer): number;
}

/**
 * A sink the benchmark loops fold values into, so that V8 cannot drop reads
 * whose results are otherwise unused.
 */
export const sink = { n: 0 };

/** Folds a string's length and first char into the sink (cheap, but depends on the value). */
export function sinkStr(s: string | null | undefined): void {
  if (s) sink.n = (sink.n + s.length + s.charCodeAt(0)) | 0;
}

export function sinkNum(n: number | null | undefined): void {
  if (typeof n === 'number') sink.n = (sink.n + n) | 0;
}
