/**
 * Phone numbers as the B2BUA meets them in user parts: to E.164 with `+`
 * (visual separators dropped, `%2B` and `00` read as `+`), and back into a
 * carrier's format (tech prefix, with or without `+`).
 */
export function toE164(user: string | null, assumeInternational: boolean): string | null {
  if (user === null) return null;
  let s = user.replace(/%2b/gi, '+').replace(/[\s().\-]/g, '');
  if (s.startsWith('00')) s = `+${s.slice(2)}`;
  else if (!s.startsWith('+') && assumeInternational) s = `+${s}`;
  if (!/^\+[0-9]{1,15}$/.test(s)) return null;
  return s;
}

/** The number as a carrier wants it in its Request-URI and To. */
export function carrierFormat(e164: string, prefix: string | null, plus: boolean): string {
  return `${prefix ?? ''}${plus ? e164 : e164.slice(1)}`;
}
