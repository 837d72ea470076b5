/**
 * SDES `a=crypto` lines (RFC 4568 4, 6.1): which ones Trunkline accepts, the
 * keys they carry, and fresh ones for the lines it sends. Accepted: the
 * AES_CM_128_HMAC_SHA1_80 and _32 suites, one inline key of 30 bytes
 * (16 key + 14 salt), an optional lifetime, no MKI, no session parameters
 * (UNENCRYPTED_SRTP and the like change the transform; KDR other than 0
 * changes key derivation). Rejected lines are skipped; an offer with none
 * left gets 488 (RFC 4568 7.1.2).
 */
import { randomBytes } from 'node:crypto';
import { MASTER_KEY_LEN, MASTER_SALT_LEN, SRTP_SUITES, type SrtpSuiteName } from '../srtp/context.js';

export interface SdesKey {
  tag: number;
  suite: SrtpSuiteName;
  key: Buffer;
  salt: Buffer;
}

/** The shape sdp-transform gives for a=crypto. */
export interface CryptoLine {
  id: number;
  suite: string;
  config: string;
  sessionConfig?: string;
}

export type CryptoVerdict = { ok: true; key: SdesKey } | { ok: false; reason: string };

/** Whether Trunkline can use this crypto line, and its key when it can. */
export function readCryptoLine(line: CryptoLine): CryptoVerdict {
  // sdp-transform types these as strings but a malformed line can give numbers or nothing.
  const rawSuite = String(line.suite ?? '');
  const suite = rawSuite.toUpperCase();
  if (!Object.hasOwn(SRTP_SUITES, suite))
    return { ok: false, reason: `unsupported crypto suite ${rawSuite.slice(0, 40)}` };
  if (line.sessionConfig !== undefined && String(line.sessionConfig).trim() !== '') {
    return { ok: false, reason: 'crypto session parameters not supported' };
  }
  const params = String(line.config ?? '').split(';');
  if (params.length !== 1) return { ok: false, reason: 'more than one crypto key not supported' };
  const p = params[0]!;
  if (!p.toLowerCase().startsWith('inline:')) return { ok: false, reason: 'crypto key method other than inline' };
  const [b64, ...rest] = p.slice('inline:'.length).split('|');
  for (const r of rest) {
    // Lifetime (2^N or a number) is accepted; an MKI (N:M) is not.
    if (r.includes(':')) return { ok: false, reason: 'crypto MKI not supported' };
    if (!/^(2\^\d{1,2}|\d{1,20})$/.test(r)) return { ok: false, reason: 'bad crypto key lifetime' };
  }
  if (b64 === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return { ok: false, reason: 'bad crypto key encoding' };
  const raw = Buffer.from(b64, 'base64');
  if (raw.length !== MASTER_KEY_LEN + MASTER_SALT_LEN) return { ok: false, reason: 'bad crypto key length' };
  if (!Number.isInteger(line.id) || line.id < 0 || line.id > 999_999_999)
    return { ok: false, reason: 'bad crypto tag' };
  return {
    ok: true,
    key: {
      tag: line.id,
      suite: suite as SrtpSuiteName,
      key: Buffer.from(raw.subarray(0, MASTER_KEY_LEN)),
      salt: Buffer.from(raw.subarray(MASTER_KEY_LEN)),
    },
  };
}

/** The first acceptable crypto line of a media section (the offerer's preference), or why none is. */
export function pickCrypto(lines: readonly CryptoLine[] | undefined): CryptoVerdict {
  if (lines === undefined || lines.length === 0) return { ok: false, reason: 'RTP/SAVP offer without a=crypto' };
  let reason = '';
  for (const l of lines) {
    const v = readCryptoLine(l);
    if (v.ok) return v;
    reason ||= v.reason;
  }
  return { ok: false, reason: `no acceptable a=crypto line (${reason})` };
}

/** A fresh random master key and salt for a suite. */
export function newSdesKey(tag: number, suite: SrtpSuiteName): SdesKey {
  const raw = randomBytes(MASTER_KEY_LEN + MASTER_SALT_LEN);
  return { tag, suite, key: raw.subarray(0, MASTER_KEY_LEN), salt: raw.subarray(MASTER_KEY_LEN) };
}

export function formatCryptoLine(k: SdesKey): CryptoLine {
  return { id: k.tag, suite: k.suite, config: `inline:${Buffer.concat([k.key, k.salt]).toString('base64')}` };
}

/** Crypto lines with their keys replaced, for logs. */
export function redactSdp(sdp: string): string {
  return sdp.replace(/inline:[^\s|]+/g, 'inline:<redacted>');
}
