/**
 * Scans for the few values a proxy reads on every message, without building
 * the full parsed form: the first element of a comma list, and a header
 * parameter (the From/To tag) of a name-addr. On valid input they agree with
 * the full parsers (name-addr.ts, via.ts); the full parsers still judge
 * validity when a message is validated.
 */

/** Index of the first comma outside quotes and <...>, or -1 (RFC 3261 7.3.1 list split). */
export function topLevelComma(value: string): number {
  let inQuotes = false;
  let inAngle = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuotes) {
      if (c === 92 /* \ */) i++;
      else if (c === 34 /* " */) inQuotes = false;
    } else if (c === 34) inQuotes = true;
    else if (c === 60 /* < */) inAngle = true;
    else if (c === 62 /* > */) inAngle = false;
    else if (c === 44 /* , */ && !inAngle) return i;
  }
  return -1;
}

/** The first element of a list header value, trimmed. */
export function firstListElement(value: string): string {
  const comma = value.indexOf(',') < 0 ? -1 : topLevelComma(value);
  return comma < 0 ? value : value.slice(0, comma).trim();
}

/**
 * A header parameter of a name-addr or addr-spec value (the `tag` of
 * From/To): the parameters after `>` in name-addr form, after the first `;`
 * in addr-spec form (RFC 3261 20.10). Returns null when absent, '' for a flag.
 */
export function nameAddrParam(value: string, name: string): string | null {
  let start = -1;
  let inQuotes = false;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (inQuotes) {
      if (c === 92) i++;
      else if (c === 34) inQuotes = false;
    } else if (c === 34) inQuotes = true;
    else if (c === 60 /* < */) {
      const close = value.indexOf('>', i);
      if (close < 0) return null;
      start = close + 1;
      break;
    } else if (c === 59 /* ; */) {
      start = i;
      break;
    }
  }
  if (start < 0) return null;
  return headerParamIn(value, start, name);
}

/** Looks for `;name[=value]` in value from `start`, case-insensitive name, LWS tolerated. */
export function headerParamIn(value: string, start: number, name: string): string | null {
  const n = value.length;
  let i = start;
  while (i < n) {
    const semi = value.indexOf(';', i);
    if (semi < 0) return null;
    let p = semi + 1;
    while (p < n && isWs(value.charCodeAt(p))) p++;
    let e = p;
    while (e < n) {
      const c = value.charCodeAt(e);
      if (c === 61 /* = */ || c === 59 || isWs(c)) break;
      e++;
    }
    if (e - p === name.length && value.slice(p, e).toLowerCase() === name) {
      while (e < n && isWs(value.charCodeAt(e))) e++;
      if (value.charCodeAt(e) !== 61) return '';
      e++;
      while (e < n && isWs(value.charCodeAt(e))) e++;
      let v = e;
      if (value.charCodeAt(v) === 34) {
        const close = value.indexOf('"', v + 1);
        return close < 0 ? null : value.slice(v + 1, close);
      }
      while (v < n) {
        const c = value.charCodeAt(v);
        if (c === 59 || c === 44 || isWs(c)) break;
        v++;
      }
      return value.slice(e, v);
    }
    i = e;
  }
  return null;
}

function isWs(c: number): boolean {
  return c === 32 || c === 9 || c === 13 || c === 10;
}
