import { randomBytes } from 'node:crypto';
import type { SipMessage } from '../sip/message.js';
import { parseAuthHeader } from '../auth/credentials.js';
import { parsedOrNull } from '../sip/errors.js';
import { digestResponse, ha1, type ChallengeAlgorithm } from '../auth/digest.js';

export interface UacCredentials {
  username: string;
  password: string;
}

/**
 * The credentials header answering a carrier's 401 or 407 (RFC 3261 22.2,
 * RFC 7616 3.4): the first Digest challenge with an algorithm we support
 * (MD5, SHA-256), qop=auth when offered (nc 1, a fresh cnonce), opaque
 * echoed. Null when the response holds no challenge we can answer.
 */
export function answerChallenge(
  res: SipMessage,
  method: string,
  uri: string,
  creds: UacCredentials,
): [name: 'Authorization' | 'Proxy-Authorization', value: string] | null {
  const proxy = res.status === 407;
  const challenges = res.getAll(proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate');
  for (const value of challenges) {
    const parsed = parsedOrNull(() => parseAuthHeader(value, proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate'));
    if (parsed === null || parsed.scheme.toLowerCase() !== 'digest') continue;
    const p = (k: string): string | null => parsed.params.get(k)?.value ?? null;
    const realm = p('realm');
    const nonce = p('nonce');
    if (realm === null || nonce === null) continue;
    const alg = (p('algorithm') ?? 'MD5').toUpperCase();
    if (alg !== 'MD5' && alg !== 'SHA-256') continue;
    const qops = (p('qop') ?? '').split(',').map((q) => q.trim().toLowerCase());
    const qop = qops.includes('auth') ? 'auth' : null;
    const cnonce = qop === null ? null : randomBytes(8).toString('hex');
    const ncText = qop === null ? null : '00000001';
    const response = digestResponse({
      algorithm: alg as ChallengeAlgorithm,
      ha1: ha1(alg as ChallengeAlgorithm, creds.username, realm, creds.password),
      nonce,
      method,
      uri,
      qop,
      ncText,
      cnonce,
    });
    let v = `Digest username="${quote(creds.username)}", realm="${quote(realm)}", nonce="${quote(nonce)}", uri="${quote(uri)}", response="${response}", algorithm=${alg}`;
    if (qop !== null) v += `, qop=auth, nc=${ncText}, cnonce="${cnonce}"`;
    const opaque = p('opaque');
    if (opaque !== null) v += `, opaque="${quote(opaque)}"`;
    return [proxy ? 'Proxy-Authorization' : 'Authorization', v];
  }
  return null;
}

function quote(s: string): string {
  return s.replace(/["\\]/g, (c) => `\\${c}`);
}
