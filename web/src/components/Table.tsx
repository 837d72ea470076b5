// A table of objects: one column per [header, cell text], optional buttons
// per row. Every cell is text (Preact escapes it): no HTML from the server.
import type { ComponentChildren } from 'preact';

export interface Column<T> {
  head: string;
  cell: (row: T) => ComponentChildren;
  /** A class for the cells (mono, num). */
  cls?: string;
}

export interface RowAction<T> {
  label: string;
  run: (row: T) => void;
  danger?: boolean;
}

export function Table<T>(props: {
  id: string;
  columns: Column<T>[];
  rows: T[] | undefined;
  rowKey: (row: T) => string;
  actions?: RowAction<T>[];
  empty?: string;
  /** An id for the empty-table text (tests find it). */
  emptyId?: string;
}) {
  const { columns, rows = [], actions = [] } = props;
  return (
    <div class="table-wrap">
      <table id={props.id}>
        <thead>
          <tr>
            {columns.map((c) => (
              <th key={c.head}>{c.head}</th>
            ))}
            {actions.length > 0 && <th />}
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={props.rowKey(r)} data-key={props.rowKey(r)}>
              {columns.map((c) => (
                <td key={c.head} class={c.cls}>
                  {c.cell(r) ?? '-'}
                </td>
              ))}
              {actions.length > 0 && (
                <td class="actions">
                  {actions.map((a) => (
                    <button key={a.label} type="button" class={a.danger ? 'danger' : ''} onClick={() => a.run(r)}>
                      {a.label}
                    </button>
                  ))}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
      {rows.length === 0 && (
        <p class="empty" id={props.emptyId}>
          {props.empty ?? 'None.'}
        </p>
      )}
    </div>
  );
}

/** A value or '-' for null/undefined; other values as text. */
export const txt = (v: unknown): string =>
  v === null || v === undefined || v === '' ? '-' : Array.isArray(v) ? v.join(', ') : String(v);

/** An ISO time as local YYYY-MM-DD HH:MM:SS. */
export const when = (iso: string | null | undefined): string => {
  if (iso === null || iso === undefined) return '-';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
};
