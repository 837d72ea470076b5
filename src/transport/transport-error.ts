/**
 * The error of a send or connection attempt: what went wrong (`code`) and
 * toward where (`target`), so that a caller branches on the code instead of
 * on a message or a Node errno. The message is "<proto>:<host>:<port>: why",
 * e.g. "tcp:192.0.2.7:5060: connection refused".
 */
import { specName } from './addr.js';
import type { TransportProto } from './types.js';

export type TransportErrorCode =
  /** Nothing listens there: a refused TCP connect (ECONNREFUSED), or an ICMP port unreachable for UDP (udp-probe.ts). */
  | 'connect-refused'
  /** No route to the host or network, or a host name that does not resolve. */
  | 'unreachable'
  /** The connect or the TLS/WebSocket handshake took longer than connectTimeoutMs. */
  | 'timeout'
  /** The TLS or WebSocket handshake failed (certificate, no "sip" subprotocol). */
  | 'handshake'
  /** The connection or socket closed before the message went out. */
  | 'closed'
  /** No listener of that transport and address family to send from. */
  | 'no-listener'
  /** The connection cap (limits.maxConnections) is reached. */
  | 'limit'
  /** The transport layer is not running (not started, or stopped). */
  | 'not-running'
  /** Not a destination: a bad port, an unknown transport, a host name for UDP. */
  | 'bad-target'
  /** Anything else; `cause` says what. */
  | 'failed';

export interface TransportTarget {
  readonly proto: TransportProto;
  readonly host: string;
  readonly port: number;
}

export class TransportError extends Error {
  override readonly name = 'TransportError';

  constructor(
    readonly code: TransportErrorCode,
    readonly target: TransportTarget,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`${specName(target)}: ${reason}`, options);
  }

  /** `err` as a TransportError toward `target`: itself when it is one, else wrapped with its cause. */
  static of(err: unknown, target: TransportTarget): TransportError {
    if (err instanceof TransportError) return err;
    return new TransportError(codeOf(err), target, describeError(err), { cause: err });
  }
}

/** The Node error code of `err` (e.g. 'ECONNREFUSED'), if it has one. */
export function errCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err ? String((err as { code: unknown }).code) : undefined;
}

/** The code for a Node error of a connect or handshake. */
export function codeOf(err: unknown): TransportErrorCode {
  const code = errCode(err);
  switch (code) {
    case 'ECONNREFUSED':
      return 'connect-refused';
    case 'ETIMEDOUT':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'unreachable';
    case 'ECONNRESET':
    case 'EPIPE':
      return 'closed';
    default:
      return code !== undefined && isTlsFailure(code) ? 'handshake' : 'failed';
  }
}

/**
 * OpenSSL's certificate verdicts (DEPTH_ZERO_SELF_SIGNED_CERT, CERT_HAS_EXPIRED,
 * UNABLE_TO_VERIFY_LEAF_SIGNATURE, ...) and Node's TLS errors (ERR_SSL_..., ERR_TLS_...).
 */
function isTlsFailure(code: string): boolean {
  return (
    code.startsWith('ERR_SSL') ||
    code.startsWith('ERR_TLS') ||
    code.startsWith('UNABLE_TO_') ||
    code.includes('CERT') ||
    code === 'INVALID_CA' ||
    code === 'INVALID_PURPOSE' ||
    code === 'PATH_LENGTH_EXCEEDED' ||
    code === 'HOSTNAME_MISMATCH'
  );
}

/** A short text for a Node socket error ("address in use", "connection refused"), else its message. */
export function describeError(err: unknown): string {
  switch (errCode(err)) {
    case 'EADDRINUSE':
      return 'address in use';
    case 'EADDRNOTAVAIL':
      return 'address not available';
    case 'EACCES':
      return 'permission denied';
    case 'EAFNOSUPPORT':
      return 'address family not supported';
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ETIMEDOUT':
      return 'timed out';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
