/**
 * The DTLS implementation (werift-dtls, from the npm registry). Its package
 * names a `main` it does not ship, so its entry file is imported by path.
 */
export {
  CipherContext,
  DtlsClient,
  DtlsServer,
  HashAlgorithm,
  NamedCurveAlgorithm,
  SignatureAlgorithm,
} from 'werift-dtls/lib/dtls/src/index.js';
