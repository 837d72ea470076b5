/**
 * One timer per store and period for every module that polls the store's
 * change counter (Store.changes(): the trunking directory, the security
 * service): they are woken together, once a period, instead of each on a
 * timer of its own. The timer is unref'd and runs only while someone watches.
 */

interface Group {
  timer: NodeJS.Timeout;
  fns: Set<() => void>;
}

const groups = new WeakMap<object, Map<number, Group>>();

/** Calls `fn` every `periodMs` beside the other watchers of `store` with the same period; returns the unwatch. */
export function watchStoreChanges(store: object, periodMs: number, fn: () => void): () => void {
  let byPeriod = groups.get(store);
  if (byPeriod === undefined) groups.set(store, (byPeriod = new Map()));
  let g = byPeriod.get(periodMs);
  if (g === undefined) {
    const fns = new Set<() => void>();
    const timer = setInterval(() => {
      for (const f of fns) f();
    }, periodMs);
    timer.unref();
    g = { timer, fns };
    byPeriod.set(periodMs, g);
  }
  const group = g;
  const own = (): void => fn();
  group.fns.add(own);
  return () => {
    if (!group.fns.delete(own) || group.fns.size > 0) return;
    clearInterval(group.timer);
    if (byPeriod!.get(periodMs) === group) byPeriod!.delete(periodMs);
  };
}
