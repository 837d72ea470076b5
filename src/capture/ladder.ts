/**
 * A call's messages as a ladder, the way sngrep draws a call flow: one
 * column per party (IP:PORT, in order of appearance), one arrow per message
 * from its sender to its receiver with the request or status line above it,
 * the time and the leg at the left. Plain text (box-drawing characters).
 */
import type { TraceMessage } from './trace.js';

const COL = 30;
const LEFT = 16;

function fit(s: string, width: number): string {
  return s.length <= width ? s : `${s.slice(0, width - 1)}…`;
}

function center(s: string, width: number): string {
  const t = fit(s, width);
  const pad = width - t.length;
  return ' '.repeat(Math.floor(pad / 2)) + t + ' '.repeat(Math.ceil(pad / 2));
}

/** The column of each party, in order of first appearance. */
export function partiesOf(messages: readonly TraceMessage[]): string[] {
  const out: string[] = [];
  for (const m of messages) {
    if (!out.includes(m.src)) out.push(m.src);
    if (!out.includes(m.dst)) out.push(m.dst);
  }
  return out;
}

export function renderLadder(messages: readonly TraceMessage[], opts: { title?: string } = {}): string {
  const parties = partiesOf(messages);
  const width = LEFT + parties.length * COL;
  const pos = (i: number): number => LEFT + i * COL + Math.floor(COL / 2);
  const blank = (): string[] => {
    const row = ' '.repeat(width).split('');
    for (let i = 0; i < parties.length; i++) row[pos(i)] = '│';
    return row;
  };
  const lines: string[] = [];
  if (opts.title !== undefined) lines.push(opts.title, '');
  lines.push(' '.repeat(LEFT) + parties.map((p) => center(p, COL)).join(''));
  lines.push(blank().join('').trimEnd());
  for (const m of messages) {
    const s = parties.indexOf(m.src);
    const d = parties.indexOf(m.dst);
    const from = pos(Math.min(s, d));
    const to = pos(Math.max(s, d));
    const label = blank();
    const text = fit(m.firstLine.replace(/ SIP\/2\.0$/, ''), Math.max(8, to - from - 3));
    const start = from + 2;
    for (let i = 0; i < text.length; i++) label[start + i] = text[i]!;
    const time = m.time.slice(11, 23);
    for (let i = 0; i < time.length; i++) label[i] = time[i]!;
    lines.push(label.join('').trimEnd());
    const arrow = blank();
    for (let x = from + 1; x < to; x++) arrow[x] = '─';
    if (s < d) arrow[to - 1] = '>';
    else arrow[from + 1] = '<';
    const tag = `leg ${m.leg} ${m.proto}`;
    for (let i = 0; i < tag.length; i++) arrow[i] = tag[i]!;
    lines.push(arrow.join('').trimEnd());
  }
  lines.push(blank().join('').trimEnd());
  return `${lines.join('\n')}\n`;
}
