// The dashboard: live calls, calls and failures per minute over the last
// hour (GET /stats/calls), registrations, bans, gateway states (unknown,
// up, down) and limit hits (/metrics), and the live event feed. Any event
// reloads the figures (at most every 500 ms); the charts also every 30 s.
import { useEffect, useRef } from 'preact/hooks';
import { api, ApiError, metrics, type Sample } from '../api';
import { Card, Figure } from '../components/Card';
import { Chart } from '../components/Chart';
import { Table, txt, when } from '../components/Table';
import { useLoad } from '../load';
import { go } from '../route';
import { feedCell, streamCell, useCell, useEventsOf } from '../store';
import type { Ban, Binding, CallBucket, LiveCall, RefusedCallCause, UnknownSource } from '../types';

const REFRESH_MS = 30_000;
const DEBOUNCE_MS = 500;

interface Gateway {
  carrier: string;
  gateway: string;
  /** unknown until its first OPTIONS answer (trunkline_gateway_state), up, down. */
  state: string;
}

/**
 * Refusals before a leg was tried (trunkline_calls_refused_total), by the cause the server
 * gives them (src/b2bua/refusal-cause.ts: a label for each, or the build fails); the limit
 * hits are the two limit causes.
 */
const CAUSES: Record<RefusedCallCause, string> = {
  'cpm-limit': 'calls per minute limit',
  'concurrent-limit': 'concurrent calls limit',
  'cluster-unavailable': 'cluster limits unreachable',
  'routing-module': 'routing module',
  'not-profitable': 'not profitable',
  'caller-id': 'caller ID not allowed',
  transport: 'transport not allowed',
  certificate: 'certificate not allowed',
  policy: 'access list',
  barred: 'barred destination or time',
  number: 'not a phone number',
  'unknown-did': 'unknown DID',
  'no-route': 'no route',
  'no-gateway': 'no gateway up',
  'trunk-unreachable': 'trunk not reachable',
  'trunk-config': 'trunk destination invalid',
  extension: 'unsupported extension',
  'unknown-source': 'unknown source (no trunk, carrier or user)',
  shutdown: 'shutting down',
};
/** The label of a metric's cause (text from /metrics: perhaps a cause this console does not know). */
const causeText = (cause: string): string | undefined => (CAUSES as Partial<Record<string, string>>)[cause];
const LIMIT_CAUSES = new Set<string>(['cpm-limit', 'concurrent-limit'] satisfies RefusedCallCause[]);

interface Refused {
  status: string;
  cause: string;
  count: number;
}

async function load() {
  const [calls, stats, bindings, bans, samples, strangers] = await Promise.all([
    api<LiveCall[]>('GET', '/calls').catch((err: unknown) => {
      if (err instanceof ApiError && err.status === 404) return null; // a server without a B2BUA
      throw err;
    }),
    api<CallBucket[]>('GET', '/stats/calls?minutes=60'),
    api<Binding[]>('GET', '/location'),
    api<Ban[]>('GET', '/bans'),
    metrics(),
    api<UnknownSource[]>('GET', '/stats/unknown-sources'),
  ]);
  const gateways: Gateway[] = samples
    .filter((s) => s.name === 'trunkline_gateway_state' && s.value === 1)
    .map((s) => ({
      carrier: s.labels.carrier ?? '?',
      gateway: s.labels.gateway ?? '?',
      state: s.labels.state ?? 'unknown',
    }));
  const refused: Refused[] = samples
    .filter((s: Sample) => s.name === 'trunkline_calls_refused_total' && s.value > 0)
    .map((s) => ({ status: s.labels.status ?? '?', cause: s.labels.cause ?? '', count: s.value }));
  return { calls, stats, bindings, bans, gateways, refused, strangers };
}

export function Dashboard() {
  const { data, reload } = useLoad('dashboard', load);
  const feed = useCell(feedCell);
  const stream = useCell(streamCell);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEventsOf([''], () => {
    if (timer.current !== null) return;
    timer.current = setTimeout(() => {
      timer.current = null;
      void reload();
    }, DEBOUNCE_MS);
  });
  useEffect(() => {
    const t = setInterval(() => void reload(), REFRESH_MS);
    return () => {
      clearInterval(t);
      if (timer.current !== null) clearTimeout(timer.current);
    };
  }, [reload]);

  const stats = data?.stats ?? [];
  const times = stats.map((b) => b.start);
  const limitHits = (data?.refused ?? []).filter((r) => LIMIT_CAUSES.has(r.cause)).reduce((n, r) => n + r.count, 0);
  const down = (data?.gateways ?? []).filter((g) => g.state === 'down').length;
  const lastHour = stats.reduce((n, b) => ({ started: n.started + b.started, failed: n.failed + b.failed }), {
    started: 0,
    failed: 0,
  });
  return (
    <div class="page dashboard">
      <h2>
        Dashboard <span class={`stream ${stream}`} id="stream-state">{`events: ${stream}`}</span>
      </h2>
      <div class="figures" id="figures">
        <Figure id="fig-calls" label="live calls" value={data?.calls === null ? 'n/a' : (data?.calls?.length ?? '-')} />
        <Figure id="fig-hour" label="calls, last hour" value={lastHour.started} />
        <Figure
          id="fig-failed"
          label="failed, last hour"
          value={lastHour.failed}
          tone={lastHour.failed > 0 ? 'bad' : ''}
        />
        <Figure id="fig-registrations" label="registrations" value={data?.bindings.length ?? '-'} />
        <Figure
          id="fig-bans"
          label="bans"
          value={data?.bans.length ?? '-'}
          tone={(data?.bans.length ?? 0) > 0 ? 'bad' : ''}
        />
        <Figure
          id="fig-gateways"
          label="gateways down"
          value={data === undefined ? '-' : `${down} / ${data.gateways.length}`}
          tone={down > 0 ? 'bad' : 'good'}
        />
        <Figure id="fig-limits" label="limit hits" value={limitHits} tone={limitHits > 0 ? 'bad' : ''} />
      </div>
      <div class="grid">
        <Card title="Calls per minute (last hour)" id="chart-calls-card">
          <Chart
            id="chart-calls"
            times={times}
            series={[
              { label: 'started', color: '#2563eb', values: stats.map((b) => b.started) },
              { label: 'answered', color: '#16a34a', values: stats.map((b) => b.answered) },
            ]}
          />
        </Card>
        <Card title="Failures per minute (last hour)" id="chart-failures-card">
          <Chart
            id="chart-failures"
            times={times}
            series={[{ label: 'failed', color: '#dc2626', values: stats.map((b) => b.failed) }]}
          />
        </Card>
        <Card title="Live calls" id="live-calls">
          {data?.calls === null ? (
            <p class="empty">This server runs no B2BUA.</p>
          ) : (
            <Table<LiveCall>
              id="dash-calls"
              rows={data?.calls?.slice(0, 10)}
              rowKey={(c) => c.callSid}
              empty="No live calls."
              columns={[
                { head: 'From', cell: (c) => c.from },
                { head: 'To', cell: (c) => c.to },
                { head: 'Trunk', cell: (c) => txt(c.trunk) },
                { head: 'State', cell: (c) => <span class={`state ${c.state}`}>{c.state}</span> },
                { head: 's', cell: (c) => String(c.seconds), cls: 'num' },
              ]}
              actions={[{ label: 'Ladder', run: (c) => go('ladder', c.callSid) }]}
            />
          )}
        </Card>
        <Card title="Registrations" id="registrations-card">
          <Table<Binding>
            id="registrations"
            rows={data?.bindings}
            rowKey={(b) => `${b.aor} ${b.contact}`}
            empty="No registrations."
            columns={[
              { head: 'AOR', cell: (b) => b.aor },
              { head: 'Contact', cell: (b) => b.contact, cls: 'mono' },
              { head: 'Received', cell: (b) => txt(b.received) },
              { head: 'Expires', cell: (b) => `${b.expires} s`, cls: 'num' },
            ]}
          />
        </Card>
        <Card title="Gateways" id="gateways-card">
          <Table<Gateway>
            id="gateways"
            rows={data?.gateways}
            rowKey={(g) => `${g.carrier} ${g.gateway}`}
            empty="No carrier gateways."
            columns={[
              { head: 'Carrier', cell: (g) => g.carrier },
              { head: 'Gateway', cell: (g) => g.gateway, cls: 'mono' },
              {
                head: 'State',
                cell: (g) => <span class={g.state === 'up' ? 'good' : g.state === 'down' ? 'bad' : ''}>{g.state}</span>,
              },
            ]}
          />
        </Card>
        <Card title="Bans" id="bans-card">
          <Table<Ban>
            id="dash-bans"
            rows={data?.bans.slice(0, 10)}
            rowKey={(b) => b.ip}
            empty="No bans."
            columns={[
              { head: 'IP', cell: (b) => b.ip, cls: 'mono' },
              { head: 'Source', cell: (b) => b.source },
              { head: 'Expires', cell: (b) => (b.expiresAt === null ? 'until lifted' : when(b.expiresAt)) },
            ]}
          />
        </Card>
        <Card title="Refused calls (limit hits and others)" id="limits-card">
          <Table<Refused>
            id="limits"
            rows={data?.refused}
            rowKey={(r) => `${r.status} ${r.cause}`}
            empty="No call refused since start."
            columns={[
              { head: 'Why', cell: (r) => `${causeText(r.cause) ?? (r.cause || 'refused')} (${r.status})` },
              { head: 'Calls', cell: (r) => String(r.count), cls: 'num' },
            ]}
          />
          {(data?.strangers.length ?? 0) > 0 && (
            <Table<UnknownSource>
              id="unknown-sources"
              rows={data?.strangers.slice(0, 10)}
              rowKey={(u) => u.address}
              empty=""
              columns={[
                { head: 'Unknown source', cell: (u) => `${u.proto}:${u.address}`, cls: 'mono' },
                { head: 'Last', cell: (u) => `${u.method} ${when(u.lastAt)}` },
                { head: 'Requests', cell: (u) => String(u.count), cls: 'num' },
              ]}
            />
          )}
        </Card>
        <Card title="Live events" id="events-card">
          <ol id="events" class="events">
            {feed.map((e) => (
              <li key={e.id}>
                <span class={`ev ev-${e.type.replace('.', '-')}${e.data.disposition === 'failed' ? ' failed' : ''}`}>
                  {e.type}
                </span>{' '}
                <span class="mono">{eventText(e.data)}</span>
              </li>
            ))}
          </ol>
          {feed.length === 0 && <p class="empty">Waiting for events.</p>}
        </Card>
      </div>
    </div>
  );
}

/** An event's payload as one line, without its time (shown by the order). */
function eventText(d: Record<string, unknown>): string {
  return Object.entries(d)
    .filter(([k]) => k !== 'time')
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
}
