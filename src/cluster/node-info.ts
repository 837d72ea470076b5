/**
 * What the node table holds of a node, as plain types (src/cluster/nodes.ts
 * writes and reads them). This file imports nothing, so that the console's
 * build can read it through status.ts; keep it so.
 */

/** What a node says of itself at each heartbeat. */
export interface NodeFigures {
  calls: number;
  registrations: number;
  carrierRegistrations: number;
}

export interface SelfDescription {
  id: string;
  /** Its SIP listeners as `proto:host:port` (what other nodes send to). */
  sip: string[];
  /** Its HTTP API as `host:port`, or null when it has none. */
  api: string | null;
  version: string;
}

/** A node as `trunkline cluster status` shows it. */
export interface NodeInfo extends SelfDescription, NodeFigures {
  alive: boolean;
  pid: number;
  incarnation: string;
  /** Milliseconds since the epoch. */
  upSince: number;
  lastHeartbeat: number;
}
