import { join } from 'node:path';

/**
 * The local control channel between the management commands and a running
 * server: a Unix socket in the data directory (file permissions are its
 * access control), one JSON request line, one JSON answer line.
 */
export const CONTROL_SOCKET = 'trunkline.sock';

export function controlSocketPath(dataDir: string): string {
  return join(dataDir, CONTROL_SOCKET);
}

export type ControlRequest =
  | { cmd: 'calls' }
  | { cmd: 'hangup'; callSid: string }
  | { cmd: 'trace'; callSid: string }
  /** The carriers' and gateways' quality figures and demotions (src/trunking/quality.ts). */
  | { cmd: 'quality' }
  /** Stop taking calls, let those up end, then exit; `timeout` seconds at most (src/core/drain.ts). */
  | { cmd: 'drain'; timeout?: number | null };

export type ControlAnswer = { ok: true; result: unknown } | { ok: false; error: string };
