/**
 * Every Redis key and channel the cluster uses, in one place. All start with
 * `tl:` so that a Redis shared with other software can be told apart (use
 * its own database number when you can: `redis://HOST:6379/3`).
 */
export const KEY_PREFIX = 'tl:';

export const keys = {
  /** SET of every node id that ever joined (ids of gone nodes stay, shown as down). */
  nodes: `${KEY_PREFIX}nodes`,
  /** HASH of a node: its addresses, version, start, last heartbeat, figures. */
  node: (id: string) => `${KEY_PREFIX}node:${id}`,
  /** STRING with a TTL: the node is alive while it exists (renewed every heartbeat). */
  alive: (id: string) => `${KEY_PREFIX}alive:${id}`,
  /** The prefix of alive keys, for scripts that check a node by id. */
  alivePrefix: `${KEY_PREFIX}alive:`,
  /** Pub/sub channel of cluster messages (src/cluster/bus.ts). */
  bus: `${KEY_PREFIX}bus`,
  /** Authentication failures (src/security/shared-failures.ts): ZSET of failure times per source IP or username. */
  authFail: (kind: 'ip' | 'user', key: string) => `${KEY_PREFIX}authfail:${kind}:${key}`,

  // Call limits (src/cluster/shared-limits.ts); SCOPE is `account:NAME` or `trunk:NAME`.
  /** ZSET of the calls started in a scope's last minute: member `NODE|CALLSID`, score its start (ms, Redis time). */
  cpm: (scope: string) => `${KEY_PREFIX}cpm:${scope}`,
  /** ZSET of the calls up in a scope: member `NODE|CALLSID`, score its lease's expiry (ms, Redis time). */
  lease: (scope: string) => `${KEY_PREFIX}lease:${scope}`,

  // ---- live calls (src/b2bua/shared-calls.ts) ----
  /** HASH of a live call: its node and incarnation, what `trunkline calls` shows, both dialogs and the media. */
  call: (callSid: string) => `${KEY_PREFIX}call:${callSid}`,
  /** SET of the callSids a node holds. */
  calls: (node: string) => `${KEY_PREFIX}calls:${node}`,
  /** HASH of a Call-ID of either leg of a live call: callSid, node, incarnation, side. */
  dialog: (callId: string) => `${KEY_PREFIX}dialog:${callId}`,

  // Registrations (src/registrar/cluster-flows.ts)
  /** STRING: the key of the flow tokens (hex), set by the first node that needs it (SET NX). */
  flowKey: `${KEY_PREFIX}flow-key`,

  // Carrier registrations: the lease of the one node that keeps each (src/cluster/lease.ts).
  /** STRING with a TTL: `node|incarnation|token` of the node registering with the carrier. */
  carrierLease: (carrier: string) => `${KEY_PREFIX}carrier-lease:${carrier}`,
  /** The prefix of carrier leases, to list them (`cluster status`). */
  carrierLeasePrefix: `${KEY_PREFIX}carrier-lease:`,
  /** STRING counter: the fencing tokens of a carrier's lease (one INCR per acquisition). */
  carrierLeaseToken: (carrier: string) => `${KEY_PREFIX}carrier-lease-token:${carrier}`,
} as const;
