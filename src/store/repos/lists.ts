/**
 * Black- and whitelist entries (0003_security), see src/security/lists.ts
 * for what each kind matches. Take a StoreContext: `new ListRepo(store.ctx)`.
 */
import type { StoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { ListEntryTable } from '../schema.js';
import { LIST_KINDS, normalizeListValue, type ListKind, type ListType } from '../../security/lists.js';

export interface ListRow {
  id: number;
  list: ListType;
  kind: ListKind;
  value: string;
  createdAt: number;
}

function toRow(r: ListEntryTable & { id: number }): ListRow {
  return {
    id: Number(r.id),
    list: r.list as ListType,
    kind: r.kind as ListKind,
    value: r.value,
    createdAt: Number(r.created_at),
  };
}

function checkKind(kind: string): ListKind {
  const k = kind.trim().toLowerCase();
  if (!(LIST_KINDS as readonly string[]).includes(k))
    throw new ValidationError('kind', `expected one of ${LIST_KINDS.join(', ')}, got ${JSON.stringify(kind)}`);
  return k as ListKind;
}

function checkValue(kind: ListKind, value: string): string {
  try {
    return normalizeListValue(kind, value);
  } catch (err) {
    throw new ValidationError('value', (err as Error).message);
  }
}

export class ListRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async add(list: ListType, kind: string, value: string): Promise<ListRow> {
    const k = checkKind(kind);
    const row = { list, kind: k, value: checkValue(k, value), created_at: this.#ctx.now() };
    return this.#ctx.write(async (db) => {
      const r = await db
        .insertInto('list_entries')
        .values(row)
        .onConflict((oc) => oc.columns(['list', 'kind', 'value']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (r === undefined) throw new ConflictError(`${list}list ${k} ${row.value} exists`);
      return toRow(r as ListEntryTable & { id: number });
    });
  }

  async rm(list: ListType, kind: string, value: string): Promise<void> {
    const k = checkKind(kind);
    const v = checkValue(k, value);
    await this.#ctx.write(async (db) => {
      const r = await db
        .deleteFrom('list_entries')
        .where('list', '=', list)
        .where('kind', '=', k)
        .where('value', '=', v)
        .executeTakeFirst();
      if (Number(r.numDeletedRows ?? 0) === 0) throw new NotFoundError(`${list}list has no ${k} ${v}`);
    });
  }

  async list(): Promise<ListRow[]> {
    const rows = await this.#ctx.db
      .selectFrom('list_entries')
      .selectAll()
      .orderBy('list')
      .orderBy('kind')
      .orderBy(this.#ctx.orderText('value'))
      .execute();
    return rows.map((r) => toRow(r as ListEntryTable & { id: number }));
  }
}
