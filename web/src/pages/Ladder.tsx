// The call-flow ladder of a live or recent call (GET /calls/SID/trace, the
// capture ring buffer): an SVG with a column per party and an arrow per
// message, both legs side by side; click an arrow for the whole message.
// A call whose messages are no longer kept (a CDR's Ladder after a restart,
// or older than the last capture.traceCalls calls) gets a note, not an error.
import { useState } from 'preact/hooks';
import { api, ApiError, enc } from '../api';
import { ladderLayout } from '../ladder';
import { useLoad } from '../load';
import type { TraceMessage } from '../types';

const COL = 230;
const LEFT = 96;
const TOP = 56;
const ROW = 30;
/** Width of a 12px monospace character: labels are cut to their arrow's length. */
const CHAR = 7.3;

/** The trace, or null when the server no longer keeps it (404). */
async function traceOf(sid: string): Promise<TraceMessage[] | null> {
  try {
    return await api<TraceMessage[]>('GET', `/calls/${enc(sid)}/trace`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return null;
    throw err;
  }
}

export function Ladder(props: { sid: string }) {
  const { data } = useLoad('ladder', () => traceOf(props.sid), [props.sid]);
  const [open, setOpen] = useState<number | null>(null);
  if (data === null) {
    return (
      <div class="page">
        <h2>
          Call flow{' '}
          <span id="ladder-sid" class="mono">
            {props.sid}
          </span>
        </h2>
        <div class="card" id="ladder-gone">
          <p>The SIP messages of this call are no longer kept.</p>
          <p class="hint">
            The server keeps the messages of its last calls in memory only (capture.traceCalls): a restart, or newer
            calls, dropped these. The call's record in the CDRs is unchanged.
          </p>
        </div>
      </div>
    );
  }
  const messages = data ?? [];
  const { lanes, arrows } = ladderLayout(messages);
  const x = (i: number): number => LEFT + i * COL + COL / 2;
  const width = LEFT + Math.max(lanes.length, 1) * COL;
  const height = TOP + arrows.length * ROW + 20;
  const legs = [...new Set(messages.map((m) => m.leg))].sort().join(',');
  const selected = open === null ? undefined : messages[open];
  return (
    <div class="page">
      <h2>
        Call flow{' '}
        <span id="ladder-sid" class="mono">
          {props.sid}
        </span>
      </h2>
      <p class="hint">
        {messages.length} messages; <span class="leg-a">leg A</span> (caller side) and <span class="leg-b">leg B</span>{' '}
        (callee side), Trunkline in the middle. Click an arrow to see the message.
      </p>
      <div class="card ladder-wrap">
        <svg
          id="ladder-diagram"
          data-legs={legs}
          data-messages={String(messages.length)}
          width={width}
          height={height}
          viewBox={`0 0 ${width} ${height}`}
          role="img"
          aria-label="call flow"
        >
          {lanes.map((l, i) => (
            <g key={l.addr} class={`lane ${l.role}`}>
              <rect x={x(i) - COL / 2 + 12} y={8} width={COL - 24} height={30} rx={5} />
              <text x={x(i)} y={21} class="lane-role">
                {l.role === 'trunkline' ? 'Trunkline' : l.role === 'a' ? 'caller side' : 'callee side'}
              </text>
              <text x={x(i)} y={33} class="lane-addr">
                {l.addr}
              </text>
              <line x1={x(i)} y1={38} x2={x(i)} y2={height - 6} />
            </g>
          ))}
          {arrows.map((a) => {
            const y = TOP + a.index * ROW + 16;
            const right = a.to > a.from;
            const x1 = x(a.from);
            const x2 = x(a.to);
            const tip = right ? x2 - 2 : x2 + 2;
            const room = Math.max(8, Math.floor(Math.abs(x2 - x1) / CHAR) - 1);
            const label = a.label.length > room ? `${a.label.slice(0, room - 1)}…` : a.label;
            const head = right
              ? `${tip},${y} ${tip - 8},${y - 4} ${tip - 8},${y + 4}`
              : `${tip},${y} ${tip + 8},${y - 4} ${tip + 8},${y + 4}`;
            return (
              <g
                key={a.index}
                data-label={a.label}
                class={`arrow leg-${a.leg}${open === a.index ? ' selected' : ''}`}
                data-leg={a.leg}
                onClick={() => setOpen(open === a.index ? null : a.index)}
              >
                <rect class="hit" x={Math.min(x1, x2)} y={y - 18} width={Math.abs(x2 - x1)} height={ROW - 4} />
                <text class="time" x={6} y={y + 4}>
                  {a.time}
                </text>
                <text class="label" x={(x1 + x2) / 2} y={y - 5}>
                  {label}
                </text>
                <line x1={x1} y1={y} x2={tip} y2={y} />
                <polygon points={head} />
              </g>
            );
          })}
        </svg>
      </div>
      {selected !== undefined && (
        <div class="card" id="ladder-message">
          <h3>{`${selected.time}  leg ${selected.leg.toUpperCase()}  ${selected.src} → ${selected.dst}  (${selected.proto})`}</h3>
          <pre>{selected.raw}</pre>
        </div>
      )}
      <div class="card">
        <h3>Messages</h3>
        <ol id="ladder-messages" class="messages">
          {messages.map((m, i) => (
            <li key={i} class={`leg-${m.leg}`}>
              <details>
                <summary>{`${m.time.slice(11, 23)}  leg ${m.leg.toUpperCase()}  ${m.src} → ${m.dst}  ${m.firstLine}`}</summary>
                <pre>{m.raw}</pre>
              </details>
            </li>
          ))}
        </ol>
      </div>
    </div>
  );
}
