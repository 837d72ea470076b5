export * from './types.js';
export { TransportLayer, type BoundListenSpec, type TransportEvents, type TransportTap } from './transport-layer.js';
export { TransportError, type TransportErrorCode, type TransportTarget } from './transport-error.js';
export { StreamFramer, parseContentLength, type FramerEvent, type FramerLimits } from './stream-framer.js';
export { ConnectionTable, connectionKey, type TableEntry } from './connection-table.js';
export { normalizeHost, hostPort, specName } from './addr.js';
export { TLS_CIPHERS, TLS_MIN_VERSION } from './tls-config.js';
