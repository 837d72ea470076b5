// One provisioning page (accounts, trunks, DIDs, ...): a form that adds an
// object (or edits one, where the API has PATCH), the table, Remove. The
// API's errors (400 naming the field, 409) go to the banner.
import { useState } from 'preact/hooks';
import { api, enc, metrics } from '../api';
import { act, useLoad } from '../load';
import { createBody, fieldText, gatewayStates, patchBody, type Extra, type Obj, type ResourcePage } from '../resources';

function Input(props: {
  field: ResourcePage['fields'][number];
  value: string;
  disabled: boolean;
  onInput: (v: string) => void;
}) {
  const { field: f, value } = props;
  const on = (e: Event): void => props.onInput((e.currentTarget as HTMLInputElement | HTMLSelectElement).value);
  if (f.kind === 'choice' || f.kind === 'bool') {
    const options = f.kind === 'bool' ? ['yes', 'no'] : (f.options ?? []);
    return (
      <select name={f.name} value={value} onChange={on} disabled={props.disabled}>
        <option value="">default</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    );
  }
  const common = { name: f.name, placeholder: f.placeholder, value, onInput: on, disabled: props.disabled };
  if (f.kind === 'password') return <input type="password" autocomplete="new-password" {...common} />;
  return <input type="text" autocomplete="off" inputMode={f.kind === 'int' ? 'numeric' : undefined} {...common} />;
}

export function ResourcePageView(props: { page: ResourcePage }) {
  const { page } = props;
  const { data, reload } = useLoad(
    page.name,
    async () => {
      const [items, samples] = await Promise.all([
        api<Obj[]>('GET', `/${page.name}`),
        page.name === 'carriers' ? metrics() : Promise.resolve([]),
      ]);
      return { items, extra: { gateways: gatewayStates(samples) } satisfies Extra };
    },
    [page.name],
  );
  const [values, setValues] = useState<Record<string, string>>({});
  const [editing, setEditing] = useState<Obj | null>(null);

  const reset = (): void => {
    setValues({});
    setEditing(null);
  };
  const submit = async (e: Event): Promise<void> => {
    e.preventDefault();
    const ok = await act(async () => {
      if (editing === null) await api('POST', `/${page.name}`, createBody(page, values));
      else await api('PATCH', `/${page.name}/${enc(String(editing[page.key]))}`, patchBody(page, editing, values));
    });
    if (ok) {
      reset();
      await reload();
    }
  };
  const edit = (o: Obj): void => {
    setEditing(o);
    setValues(Object.fromEntries(page.fields.map((f) => [f.name, fieldText(f, o)])));
  };
  const remove = (o: Obj): void => {
    void act(async () => {
      await api('DELETE', `/${page.name}/${enc(String(o[page.key]))}`);
      if (editing !== null && editing[page.key] === o[page.key]) reset();
      await reload();
    });
  };

  return (
    <div class="page">
      <h2>{page.title}</h2>
      {page.hint !== undefined && <p class="hint">{page.hint}</p>}
      <form id={`${page.name}-form`} class={editing === null ? 'card form' : 'card form editing'} onSubmit={submit}>
        <h3>{editing === null ? `Add` : `Edit ${String(editing[page.key])}`}</h3>
        <div class="fields">
          {page.fields.map((f) => (
            <label key={f.name}>
              <span>
                {f.label}
                {f.required === true && editing === null ? ' *' : ''}
              </span>
              <Input
                field={f}
                value={values[f.name] ?? ''}
                disabled={editing !== null && f.name === page.key}
                onInput={(v) => setValues((old) => ({ ...old, [f.name]: v }))}
              />
            </label>
          ))}
        </div>
        <div class="buttons">
          <button type="submit" class="primary">
            {editing === null ? 'Add' : 'Save'}
          </button>
          {editing !== null && (
            <button type="button" onClick={reset}>
              Cancel
            </button>
          )}
        </div>
      </form>
      <div class="card">
        <div class="table-wrap">
          <table id={`${page.name}-table`}>
            <thead>
              <tr>
                {page.columns.map((c) => (
                  <th key={c.head}>{c.head}</th>
                ))}
                <th />
              </tr>
            </thead>
            <tbody>
              {(data?.items ?? []).map((o) => (
                <tr key={String(o[page.key])} data-key={String(o[page.key])}>
                  {page.columns.map((c) => (
                    <td key={c.head}>{c.cell(o, data!.extra)}</td>
                  ))}
                  <td class="actions">
                    {page.editable && (
                      <button type="button" onClick={() => edit(o)}>
                        Edit
                      </button>
                    )}
                    <button type="button" class="danger" onClick={() => remove(o)}>
                      Remove
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {data !== undefined && data.items.length === 0 && <p class="empty">None yet.</p>}
        </div>
      </div>
    </div>
  );
}
