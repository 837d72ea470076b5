/**
 * The relay's DTLS certificate (RFC 5763 5): one self-signed ECDSA P-256
 * certificate per engine, made on the first DTLS-SRTP offer; its SHA-256
 * fingerprint goes in every a=fingerprint Trunkline writes.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { CipherContext, NamedCurveAlgorithm, SignatureAlgorithm, HashAlgorithm } from './werift.js';

export interface DtlsCertificate {
  certPem: string;
  keyPem: string;
  /** `sha-256 AB:CD:...` as a=fingerprint writes it. */
  fingerprint: { type: 'sha-256'; hash: string };
}

export async function makeDtlsCertificate(): Promise<DtlsCertificate> {
  const made = await CipherContext.createSelfSignedCertificateWithKey(
    { signature: SignatureAlgorithm.ecdsa_3, hash: HashAlgorithm.sha256_4 },
    NamedCurveAlgorithm.secp256r1_23,
  );
  const der = new X509Certificate(made.certPem).raw;
  return { certPem: made.certPem, keyPem: made.keyPem, fingerprint: { type: 'sha-256', hash: fingerprintOf(der) } };
}

/** Colon-separated upper-case hex of SHA-256 over a DER certificate (RFC 4572 5). */
export function fingerprintOf(der: Buffer, algorithm = 'sha256'): string {
  return createHash(algorithm)
    .update(der)
    .digest('hex')
    .toUpperCase()
    .replace(/(..)(?!$)/g, '$1:');
}
