/**
 * A URI that cannot be located. code is a node:dns code when the cause is
 * DNS (ENOTFOUND when nothing resolves, ETIMEOUT, ESERVFAIL, ECONNREFUSED,
 * ...), ETRANSPORT when the URI asks for a transport we cannot use, EBADNAME
 * for an maddr that is not a host. name_ is the host being located (Error
 * already has `name`).
 */
export class DnsLookupError extends Error {
  override readonly name = 'DnsLookupError';

  constructor(
    readonly code: string,
    readonly name_: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
