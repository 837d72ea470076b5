/** Byte classes of the RFC 3261 section 25.1 grammar, as lookup tables. */

export const CR = 13;
export const LF = 10;
export const SP = 32;
export const HTAB = 9;
export const COLON = 58;

/** token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~") */
export const TOKEN = new Uint8Array(256);
for (let c = 0; c < 256; c++) {
  const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
  if (alnum || "-.!%*_+`'~".includes(String.fromCharCode(c))) TOKEN[c] = 1;
}

export function isWsp(c: number): boolean {
  return c === SP || c === HTAB;
}

/** True when every char of s is a token char (RFC 3261 25.1). */
export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c > 255 || TOKEN[c] === 0) return false;
  }
  return true;
}

/** Parses a non-negative decimal integer of at most maxDigits digits; -1 if not one. */
export function parseDecimal(s: string, maxDigits = 10): number {
  if (s.length === 0 || s.length > maxDigits) return -1;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}
