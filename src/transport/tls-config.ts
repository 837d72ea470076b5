/**
 * TLS settings shared by the TLS and WSS listeners and by outgoing TLS/WSS
 * connections: TLS 1.2 minimum, ECDHE with AEAD ciphers only for 1.2, the
 * standard TLS 1.3 suites.
 */
import { createSecureContext } from 'node:tls';
import type { ConnectionOptions, SecureContextOptions, TLSSocket, TlsOptions } from 'node:tls';
import type { TlsFiles } from './types.js';

export const TLS_CIPHERS = [
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
].join(':');

export const TLS_MIN_VERSION = 'TLSv1.2' as const;

export function secureContextOptions(files: TlsFiles): SecureContextOptions {
  const opts: SecureContextOptions = {
    cert: files.cert,
    key: files.key,
    minVersion: files.minVersion === '1.3' ? 'TLSv1.3' : TLS_MIN_VERSION,
    maxVersion: files.maxVersion === '1.2' ? 'TLSv1.2' : 'TLSv1.3',
    ciphers: TLS_CIPHERS,
    honorCipherOrder: true,
  };
  if (files.ca !== undefined) opts.ca = files.ca;
  return opts;
}

export function serverOptions(files: TlsFiles, handshakeTimeoutMs: number): TlsOptions {
  const verify = files.verifyClient === true;
  return {
    ...secureContextOptions(files),
    requestCert: verify || files.requestClientCert === true,
    rejectUnauthorized: verify,
    handshakeTimeout: handshakeTimeoutMs,
  };
}

/** Options for an outgoing TLS connection (also used for WSS). */
export function clientOptions(files: TlsFiles | undefined, verify: boolean): ConnectionOptions {
  const opts: ConnectionOptions = {
    minVersion: TLS_MIN_VERSION,
    ciphers: TLS_CIPHERS,
    rejectUnauthorized: verify,
  };
  if (files) {
    // Present our certificate: trunks commonly use mutual TLS.
    opts.cert = files.cert;
    opts.key = files.key;
    if (files.ca !== undefined) opts.ca = files.ca;
  }
  return opts;
}

/** Throws if cert/key/ca cannot be loaded or the key does not match the certificate. */
export function checkTlsFiles(files: TlsFiles): void {
  try {
    createSecureContext(secureContextOptions(files));
  } catch (err) {
    throw new Error(`cannot load TLS certificate/key: ${(err as Error).message}`, { cause: err });
  }
}

export interface PeerTlsInfo {
  fingerprint?: string;
  authorized: boolean;
  protocol?: string;
}

export function peerTlsInfo(sock: TLSSocket): PeerTlsInfo {
  const info: PeerTlsInfo = { authorized: sock.authorized };
  try {
    const cert = sock.getPeerCertificate();
    if (cert && typeof cert.fingerprint256 === 'string' && cert.fingerprint256 !== '') {
      info.fingerprint = cert.fingerprint256;
    }
  } catch {
    /* no certificate */
  }
  const protocol = sock.getProtocol();
  if (protocol) info.protocol = protocol;
  return info;
}
