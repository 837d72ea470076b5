/**
 * Bearer tokens on /api/v1 (RFC 6750): `Authorization: Bearer TOKEN`. No or
 * a malformed header, or a token the store does not know: 401 with
 * WWW-Authenticate. A `read` token may only read (GET, HEAD): 403 for any
 * other method. The event stream also takes `?access_token=TOKEN`, since a
 * browser's EventSource cannot set headers (RFC 6750 2.3).
 *
 * With a LoginGuard (login-guard.ts), a banned source gets 403 before its
 * token is looked at, and a wrong token or malformed header is a failed
 * login: logged, and counted toward a ban.
 */
import type { FastifyRequest } from 'fastify';
import type { ApiToken, TokenRepo } from '../store/repos/tokens.js';
import { ApiError } from './errors.js';
import type { LoginGuard } from './login-guard.js';

const CHALLENGE = 'Bearer realm="trunkline"';

declare module 'fastify' {
  interface FastifyRequest {
    /** The token that authorized the request (set by the auth hook). */
    token?: ApiToken;
  }
}

function presented(req: FastifyRequest, allowQuery: boolean): string | undefined {
  const h = req.headers.authorization;
  if (typeof h === 'string') {
    const m = /^Bearer +([^\s]+) *$/i.exec(h);
    if (m === null)
      throw new ApiError(401, 'Authorization: expected "Bearer TOKEN"', {
        'WWW-Authenticate': `${CHALLENGE}, error="invalid_request"`,
      });
    return m[1];
  }
  if (allowQuery) {
    const q = (req.query as Record<string, unknown> | undefined)?.access_token;
    if (typeof q === 'string' && q !== '') return q;
  }
  return undefined;
}

/** Checks the request's token and role; sets `req.token`. */
export async function authorize(
  req: FastifyRequest,
  tokens: TokenRepo,
  opts: { allowQueryToken: boolean; guard?: LoginGuard | null },
): Promise<void> {
  const guard = opts.guard ?? null;
  guard?.check(req.ip);
  let token: string | undefined;
  try {
    token = presented(req, opts.allowQueryToken);
  } catch (err) {
    guard?.failed(req.ip, 'malformed Authorization header');
    throw err;
  }
  if (token === undefined)
    throw new ApiError(401, 'missing bearer token (Authorization: Bearer TOKEN; make one with trunkline token add)', {
      'WWW-Authenticate': CHALLENGE,
    });
  const t = await tokens.verify(token);
  if (t === undefined) {
    guard?.failed(req.ip, 'invalid token');
    throw new ApiError(401, 'invalid token', { 'WWW-Authenticate': `${CHALLENGE}, error="invalid_token"` });
  }
  req.token = t;
  const reading = req.method === 'GET' || req.method === 'HEAD';
  if (!reading && t.role !== 'admin') {
    throw new ApiError(403, `token ${t.name} has role ${t.role}: ${req.method} needs an admin token`, {
      'WWW-Authenticate': `${CHALLENGE}, error="insufficient_scope"`,
    });
  }
}
