/**
 * The other nodes' SIP addresses, for the security edge: a node forwards
 * calls for the bindings it does not hold and in-dialog requests for calls
 * of other nodes, so a burst of them must never look like a flood nor get
 * the forwarding node banned. Read from the node table at start, every 5 s
 * and when a node joins or goes; only nodes alive at that read count.
 */
import type { Cluster } from './cluster.js';

const REFRESH_MS = 5000;

/** The IPs of `proto:host:port` entries (IPv6 in brackets). */
export function hostsOf(sip: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of sip) {
    const m = /^[a-z]+:(\[[^\]]+\]|[^:]+):\d+$/i.exec(s);
    if (m !== null) out.push(m[1]!.replace(/^\[|\]$/g, ''));
  }
  return out;
}

/** Calls `apply` with the alive peers' addresses now and whenever they may have changed; returns a stop function. */
export function watchPeers(cluster: Cluster, apply: (hosts: string[]) => void): () => void {
  let stopped = false;
  const refresh = async (): Promise<void> => {
    if (stopped || !cluster.link.up) return;
    try {
      const nodes = await cluster.nodes.list();
      const hosts = nodes.filter((n) => n.alive && n.id !== cluster.id).flatMap((n) => hostsOf(n.sip));
      if (!stopped) apply(hosts);
    } catch {
      // Redis went: the last list stays until it is back
    }
  };
  void refresh();
  const timer = setInterval(() => void refresh(), REFRESH_MS);
  timer.unref();
  cluster.nodes.onGone(() => void refresh());
  cluster.nodes.onJoin(() => void refresh());
  return () => {
    stopped = true;
    clearInterval(timer);
  };
}
