import { readFileSync } from 'node:fs';

/**
 * RFC 4475's torture messages, kept in the repository under test/data/rfc4475
 * (one file per message, CRLF as on the wire), so a fresh clone's tests find
 * them. This module is compiled to dist/test/helpers: the repository root is
 * three levels up.
 */
export const RFC4475_DIR = new URL('../../../test/data/rfc4475/', import.meta.url);

/** One message of the corpus, by its file name without `.dat`. */
export function loadRfc4475(name: string): Buffer {
  return readFileSync(new URL(`${name}.dat`, RFC4475_DIR));
}

/** The messages of RFC 4475 3.1.2 that are invalid (the parser refuses them: 400, 505 for badvers). */
export const RFC4475_INVALID = [
  'badinv01',
  'clerr',
  'ncl',
  'scalar02',
  'scalarlg',
  'quotbal',
  'ltgtruri',
  'lwsruri',
  'lwsstart',
  'trws',
  'escruri',
  'baddate',
  'regbadct',
  'badaspec',
  'baddn',
  'badvers',
  'mismatch01',
  'mismatch02',
  'bigcode',
];
