// The layout of a call-flow ladder as sngrep draws it: a column per party,
// an arrow per message, oldest at the top. For a B2BUA call the columns are
// the A-leg's far ends, Trunkline, then the B-leg's far ends, so both legs
// sit side by side with Trunkline between them.
import type { TraceMessage } from './types';

export interface Lane {
  addr: string;
  /** Who the column is: caller side (a), Trunkline, callee side (b). */
  role: 'a' | 'trunkline' | 'b';
}

export interface Arrow {
  index: number;
  from: number;
  to: number;
  leg: 'a' | 'b';
  label: string;
  time: string;
}

export function ladderLayout(messages: readonly TraceMessage[]): { lanes: Lane[]; arrows: Arrow[] } {
  // Trunkline's own addresses: where it received, what it sent from.
  const own = new Set<string>();
  for (const m of messages) own.add(m.direction === 'in' ? m.dst : m.src);
  const a: string[] = [];
  const b: string[] = [];
  const mine: string[] = [];
  const add = (list: string[], x: string): void => {
    if (!list.includes(x)) list.push(x);
  };
  for (const m of messages) {
    for (const addr of [m.src, m.dst]) {
      if (own.has(addr)) add(mine, addr);
      else if (!a.includes(addr) && !b.includes(addr)) add(m.leg === 'a' ? a : b, addr);
    }
  }
  const lanes: Lane[] = [
    ...a.map((addr) => ({ addr, role: 'a' as const })),
    ...mine.map((addr) => ({ addr, role: 'trunkline' as const })),
    ...b.map((addr) => ({ addr, role: 'b' as const })),
  ];
  const at = new Map(lanes.map((l, i) => [l.addr, i]));
  const arrows = messages.map((m, index) => ({
    index,
    from: at.get(m.src)!,
    to: at.get(m.dst)!,
    leg: m.leg,
    label: m.firstLine.replace(/ SIP\/2\.0$/, '').replace(/^SIP\/2\.0 /, ''),
    time: m.time.slice(11, 23),
  }));
  return { lanes, arrows };
}
