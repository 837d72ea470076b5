// Small shared state without a framework: the error banner and the live
// event feed, each a value plus listeners, read through hooks.
import { useEffect, useRef, useState } from 'preact/hooks';
import { getToken } from './api';
import type { BusEvent } from './types';
// The event types of /api/v1/events: the server's list (a tiny module, bundled).
import { EVENT_TYPES } from '../../src/core/events';

class Cell<T> {
  #listeners = new Set<(v: T) => void>();
  constructor(public value: T) {}
  set(v: T): void {
    this.value = v;
    for (const l of this.#listeners) l(v);
  }
  subscribe(fn: (v: T) => void): () => void {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }
}

export function useCell<T>(cell: Cell<T>): T {
  const [v, setV] = useState(cell.value);
  useEffect(() => cell.subscribe(setV), [cell]);
  return v;
}

/** The message of the banner at the top ('' = none). */
export const errorCell = new Cell<string>('');
export const showError = (message: string): void => errorCell.set(message);

const FEED_MAX = 100;

/** The last events since log-in, newest first. */
export const feedCell = new Cell<BusEvent[]>([]);
/** Whether the stream is open. */
export const streamCell = new Cell<'open' | 'connecting' | 'closed'>('closed');
let source: EventSource | null = null;

/** Opens the event stream (the token goes in the query: EventSource sends no headers). */
export function follow(): void {
  if (source !== null) return;
  const token = getToken();
  if (token === null) return;
  source = new EventSource(`/api/v1/events?access_token=${encodeURIComponent(token)}`);
  streamCell.set('connecting');
  source.onopen = () => streamCell.set('open');
  source.onerror = () => streamCell.set(source?.readyState === EventSource.CLOSED ? 'closed' : 'connecting');
  for (const type of EVENT_TYPES) {
    source.addEventListener(type, (e) => {
      const m = e as MessageEvent<string>;
      let data: Record<string, unknown> = {};
      try {
        data = JSON.parse(m.data) as Record<string, unknown>;
      } catch {
        data = { text: m.data };
      }
      feedCell.set([{ id: m.lastEventId, type, data }, ...feedCell.value].slice(0, FEED_MAX));
    });
  }
}

export function unfollow(): void {
  source?.close();
  source = null;
  streamCell.set('closed');
  feedCell.set([]);
}

/** Runs fn on each new event whose type starts with one of the prefixes. */
export function useEventsOf(prefixes: readonly string[], fn: (e: BusEvent) => void): void {
  // The latest fn is called (no stale closure); the subscription lasts while the prefixes are the same.
  const current = useRef(fn);
  current.current = fn;
  useEffect(() => {
    let last = feedCell.value[0]?.id;
    return feedCell.subscribe((feed) => {
      const fresh: BusEvent[] = [];
      for (const e of feed) {
        if (e.id === last) break;
        fresh.push(e);
      }
      last = feed[0]?.id;
      for (const e of fresh.reverse()) if (prefixes.some((p) => e.type.startsWith(p))) current.current(e);
    });
  }, [prefixes.join(',')]);
}
