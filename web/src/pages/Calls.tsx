// Live calls of the B2BUA, following the event stream (call.*) and a 5 s
// refresh for the durations; Hang up, once confirmed, sends BYE to both legs
// (CDR "Hung up by operator"), Ladder opens the call's flow. In a cluster the
// list holds every live node's calls, with their node (hung up from here too).
import { useEffect } from 'preact/hooks';
import { api, enc } from '../api';
import { Table, txt } from '../components/Table';
import { act, useLoad } from '../load';
import { go } from '../route';
import { useEventsOf } from '../store';
import type { LiveCall } from '../types';

const REFRESH_MS = 5000;

export function Calls() {
  const { data, reload } = useLoad('calls', () => api<LiveCall[]>('GET', '/calls'));
  useEventsOf(['call.'], () => void reload());
  useEffect(() => {
    const t = setInterval(() => void reload(), REFRESH_MS);
    return () => clearInterval(t);
  }, [reload]);
  const clustered = data?.some((c) => c.node !== null) === true;
  return (
    <div class="page">
      <h2>Live calls</h2>
      <p class="hint">
        The list follows the event stream. Hang up sends a BYE on both legs; the call's CDR says it was hung up by the
        operator.
      </p>
      <div class="card">
        <Table<LiveCall>
          id="calls-table"
          rows={data}
          rowKey={(c) => c.callSid}
          empty="No live calls."
          columns={[
            { head: 'Call', cell: (c) => c.callSid, cls: 'mono' },
            ...(clustered ? [{ head: 'Node', cell: (c: LiveCall) => txt(c.node) }] : []),
            { head: 'Direction', cell: (c) => c.direction },
            { head: 'Trunk', cell: (c) => txt(c.trunk) },
            { head: 'Carrier', cell: (c) => txt(c.carrier) },
            { head: 'From', cell: (c) => c.from },
            { head: 'To', cell: (c) => c.to },
            { head: 'State', cell: (c) => <span class={`state ${c.state}`}>{c.state}</span> },
            { head: 'Seconds', cell: (c) => String(c.seconds), cls: 'num' },
          ]}
          actions={[
            { label: 'Hang up', danger: true, run: (c) => void hangUp(c, reload) },
            { label: 'Ladder', run: (c) => go('ladder', c.callSid) },
          ]}
        />
      </div>
    </div>
  );
}

/** Ends a live call after the operator confirms it: a misplaced click must not cut a call. */
async function hangUp(c: LiveCall, reload: () => Promise<void>): Promise<void> {
  if (!window.confirm(`Hang up call ${c.callSid} (${c.from} to ${c.to})? Both legs get a BYE.`)) return;
  await act(async () => {
    await api('DELETE', `/calls/${enc(c.callSid)}`);
    await reload();
  });
}
