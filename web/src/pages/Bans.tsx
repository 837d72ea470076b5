// Bans: by hand and the server's own (flood, brute force); Lift removes one
// (the running server applies it within 2 s).
import { useState } from 'preact/hooks';
import { api, enc } from '../api';
import { Table, txt, when } from '../components/Table';
import { act, useLoad } from '../load';
import { useEventsOf } from '../store';
import type { Ban } from '../types';

export function Bans() {
  const { data, reload } = useLoad('bans', () => api<Ban[]>('GET', '/bans'));
  useEventsOf(['ban'], () => void reload());
  const [ip, setIp] = useState('');
  const [secs, setSecs] = useState('');
  const [reason, setReason] = useState('');
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const body: Record<string, unknown> = { ip: ip.trim() };
    if (secs.trim() !== '') body.for = /^\d+$/.test(secs.trim()) ? Number(secs.trim()) : secs.trim();
    if (reason.trim() !== '') body.reason = reason.trim();
    if (await act(() => api('POST', '/bans', body))) {
      setIp('');
      setSecs('');
      setReason('');
      await reload();
    }
  };
  const val = (set: (v: string) => void) => (e: Event) => set((e.currentTarget as HTMLInputElement).value);
  return (
    <div class="page">
      <h2>Bans</h2>
      <p class="hint">
        Packets from a banned address are dropped before parsing. Trunk and carrier addresses are never banned.
      </p>
      <form id="bans-form" class="card form" onSubmit={submit}>
        <h3>Ban an address</h3>
        <div class="fields">
          <label>
            <span>IP *</span>
            <input name="ip" value={ip} onInput={val(setIp)} placeholder="203.0.113.9" />
          </label>
          <label>
            <span>For (seconds)</span>
            <input name="for" inputMode="numeric" value={secs} onInput={val(setSecs)} placeholder="until lifted" />
          </label>
          <label>
            <span>Reason</span>
            <input name="reason" value={reason} onInput={val(setReason)} />
          </label>
        </div>
        <div class="buttons">
          <button type="submit" class="primary">
            Ban
          </button>
        </div>
      </form>
      <div class="card">
        <Table<Ban>
          id="bans-table"
          rows={data}
          rowKey={(b) => b.ip}
          empty="No bans."
          columns={[
            { head: 'IP', cell: (b) => b.ip, cls: 'mono' },
            { head: 'Source', cell: (b) => b.source },
            { head: 'Reason', cell: (b) => txt(b.reason) },
            { head: 'Expires', cell: (b) => (b.expiresAt === null ? 'until lifted' : when(b.expiresAt)) },
            { head: 'Since', cell: (b) => when(b.createdAt) },
          ]}
          actions={[
            {
              label: 'Lift',
              danger: true,
              run: (b) =>
                void act(async () => {
                  await api('DELETE', `/bans/${enc(b.ip)}`);
                  await reload();
                }),
            },
          ]}
        />
      </div>
    </div>
  );
}
