/**
 * RFC 4475's torture messages, kept in the repository under test/data/rfc4475
 * (one file per message, CRLF as on the wire), so a fresh clone's tests find
 * them. This module is compiled to dist/test/helpers: the repository root is
 * three levels up.
 */
export const RFC4475_DIR = new URL('../../../test/data/rfc4475/', import.meta.url);
