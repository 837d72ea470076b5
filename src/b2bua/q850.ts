/**
 * The Q.850 cause of a call's end for its CDR: the one a Reason header
 * carries (RFC 3326 3.1: `Q.850;cause=16;text="..."`), else mapped from the
 * SIP status as RFC 3398 8.2.6.1 maps SIP responses to ISUP causes (a 2xx,
 * a call answered and hung up: 16 normal clearing).
 */

/** RFC 3398 8.2.6.1 (and 487, not in it: 127, as unspecified interworking). */
const BY_STATUS: Readonly<Record<number, number>> = {
  400: 41,
  401: 21,
  402: 21,
  403: 21,
  404: 1,
  405: 63,
  406: 79,
  407: 21,
  408: 102,
  410: 22,
  413: 127,
  414: 127,
  415: 79,
  416: 127,
  420: 127,
  421: 127,
  423: 127,
  480: 18,
  481: 127,
  482: 25,
  483: 25,
  484: 28,
  485: 1,
  486: 17,
  487: 127,
  488: 127,
  500: 41,
  501: 79,
  502: 38,
  503: 41,
  504: 102,
  505: 127,
  513: 127,
  600: 17,
  603: 21,
  604: 1,
  606: 58,
};

/** The Q.850 cause of one Reason header value, or null when it names another protocol or none. */
export function q850FromReason(value: string | undefined | null): number | null {
  if (value === undefined || value === null) return null;
  // Several reasons may be listed, comma separated (RFC 3326 2): the Q.850 one.
  for (const part of value.split(',')) {
    const m = /^\s*Q\.850\s*;(?:[^;]*;)*?\s*cause\s*=\s*(\d{1,3})\b/i.exec(part);
    if (m !== null) {
      const cause = Number(m[1]);
      if (cause >= 1 && cause <= 127) return cause;
    }
  }
  return null;
}

/** The cause for a SIP status: 16 for 2xx, RFC 3398 8.2.6.1's for the statuses it lists, 31 (normal, unspecified) for other 4xx-6xx, 127 otherwise. */
export function q850FromStatus(status: number): number {
  if (status >= 200 && status < 300) return 16;
  const mapped = BY_STATUS[status];
  if (mapped !== undefined) return mapped;
  return status >= 400 && status < 700 ? 31 : 127;
}

/** The Reason header's Q.850 cause, else the status's. */
export function q850Of(status: number, reason: string | undefined | null): number {
  return q850FromReason(reason) ?? q850FromStatus(status);
}
