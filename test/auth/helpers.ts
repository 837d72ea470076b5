import { createHash } from 'node:crypto';
import type { SipMessage } from '../../src/sip/message.js';
import { parse } from '../helpers/sip-messages.js';

/** A request parsed from text; extra header lines go after the usual ones. */
export function request(method: string, uri: string, extra: string[] = [], from = 'sip:alice@example.com'): SipMessage {
  const lines = [
    `${method} ${uri} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK-test-1',
    'Max-Forwards: 70',
    `From: <${from}>;tag=abc`,
    `To: <${from}>`,
    'Call-ID: auth-test-1@192.0.2.10',
    `CSeq: 1 ${method}`,
    ...extra,
    'Content-Length: 0',
    '',
    '',
  ];
  return parse(lines.join('\r\n'));
}

/** The parameters of a challenge value, read with a regular expression (independent of src/auth). */
export function challengeParams(value: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z-]+)=(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))/g;
  for (let m = re.exec(value); m !== null; m = re.exec(value)) out[m[1]!.toLowerCase()] = m[2] ?? m[3]!;
  return out;
}

export function hash(alg: 'MD5' | 'SHA-256', s: string): string {
  return createHash(alg === 'MD5' ? 'md5' : 'sha256')
    .update(s)
    .digest('hex');
}

export interface ClientOptions {
  user: string;
  password: string;
  method: string;
  uri: string;
  /** Default 1; ignored without qop. */
  nc?: number;
  cnonce?: string;
  /** Answer without qop (an RFC 2069 client). */
  noQop?: boolean;
  /** Override the realm, nonce or algorithm the client puts in its answer. */
  realm?: string;
  nonce?: string;
  algorithm?: 'MD5' | 'SHA-256';
  opaque?: string | null;
}

/** What a UAC answers to a challenge value, computed here with node:crypto only. */
export function answer(challenge: string, o: ClientOptions): string {
  const p = challengeParams(challenge);
  const alg = o.algorithm ?? ((p.algorithm ?? 'MD5') as 'MD5' | 'SHA-256');
  const realm = o.realm ?? p.realm!;
  const nonce = o.nonce ?? p.nonce!;
  const ha1 = hash(alg, `${o.user}:${realm}:${o.password}`);
  const ha2 = hash(alg, `${o.method}:${o.uri}`);
  const q = (s: string): string => s.replace(/[\\"]/g, (c) => `\\${c}`);
  const opaque = o.opaque === undefined ? p.opaque : o.opaque;
  let v = `Digest username="${q(o.user)}", realm="${q(realm)}", nonce="${nonce}", uri="${o.uri}", algorithm=${alg}`;
  if (o.noQop === true) {
    v += `, response="${hash(alg, `${ha1}:${nonce}:${ha2}`)}"`;
  } else {
    const nc = (o.nc ?? 1).toString(16).padStart(8, '0');
    const cnonce = o.cnonce ?? 'c0ffee42';
    v += `, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${hash(alg, `${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)}"`;
  }
  if (opaque !== undefined && opaque !== null) v += `, opaque="${q(opaque)}"`;
  return v;
}

/** A clock for tests: starts at a fixed time, moved by hand. */
export class FakeClock {
  t = 1_700_000_000_000;
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}
