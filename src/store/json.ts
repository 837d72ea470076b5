/**
 * The JSON shape of stored objects, one per noun, shared by the CLI's
 * `--json` output and the HTTP API (CONTRACT.md: the same fields both ways).
 * Times are ISO 8601 (UTC).
 */
import type { CarrierInfo } from './repos/carriers.js';
import type { LocationBinding } from './repos/location.js';

/** Milliseconds since the epoch as ISO 8601 (UTC). */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** Seconds until a binding expires at `now` (at least 0). */
export function expiresIn(b: LocationBinding, now: number): number {
  return Math.max(0, Math.round((b.expiresAt - now) / 1000));
}

/** A registration as listed. */
export function bindingJson(b: LocationBinding, now: number) {
  return {
    aor: b.aor,
    contact: b.contact,
    received: b.received,
    expires: expiresIn(b, now),
    expiresAt: isoTime(b.expiresAt),
    q: b.q,
    path: b.path,
    instance: b.instance,
    regId: b.regId,
    callId: b.callId,
    cseq: b.cseq,
    proto: b.proto,
    local: `${b.localHost}:${b.localPort}`,
    remote: `${b.remoteHost}:${b.remotePort}`,
    userAgent: b.userAgent,
    updatedAt: isoTime(b.updatedAt),
  };
}

/** A carrier: whether it has a password, never the password. */
export function carrierJson(c: CarrierInfo) {
  return {
    name: c.name,
    gateways: c.gateways,
    username: c.username,
    hasPassword: c.hasPassword,
    register: c.register,
    prefix: c.prefix,
    plus: c.plus,
    media: c.media,
    codecs: c.codecs,
    createdAt: isoTime(c.createdAt),
  };
}
