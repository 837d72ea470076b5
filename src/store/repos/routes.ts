/**
 * Outbound routes: a dialled-number prefix (`+` alone is the default route,
 * `+91`, `+9122`) to a list of carriers tried in order. The longest prefix
 * of the dialled E.164 number wins; that lookup is the directory's, from
 * memory (src/trunking/directory.ts).
 */
import type { StoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError, isForeignKeyViolation, isUniqueViolation } from '../errors.js';
import type { OutboundRoute } from '../../trunking/model.js';
import { checkName, parseRoutePrefix } from '../../trunking/validate.js';

const MAX_CARRIERS = 16;

function checkCarriers(value: unknown): string[] {
  if (!Array.isArray(value) || value.length === 0)
    throw new ValidationError('carriers', 'expected at least one carrier');
  if (value.length > MAX_CARRIERS) throw new ValidationError('carriers', `at most ${MAX_CARRIERS} carriers`);
  const names = value.map((c) => checkName(c, 'carriers'));
  const dup = names.find((c, i) => names.indexOf(c) !== i);
  if (dup !== undefined) throw new ValidationError('carriers', `carrier ${dup} listed twice`);
  return names;
}

export class RouteRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async #missingCarrier(db: StoreContext['db'], carriers: string[]): Promise<void> {
    const found = new Set(
      (await db.selectFrom('carriers').select('name').where('name', 'in', carriers).execute()).map((r) => r.name),
    );
    const missing = carriers.find((c) => !found.has(c));
    if (missing !== undefined) throw new NotFoundError(`unknown carrier ${missing}`);
  }

  /** Adds a route. NotFoundError naming an unknown carrier; ConflictError when the prefix has a route. */
  async add(prefix: string, carriers: string[]): Promise<OutboundRoute> {
    const p = parseRoutePrefix(prefix, 'prefix');
    const cs = checkCarriers(carriers);
    const now = this.#ctx.now();
    try {
      return await this.#ctx.write(async (db) => {
        await this.#missingCarrier(db, cs);
        const row = await db
          .insertInto('routes')
          .values({ prefix: p, created_at: now })
          .onConflict((oc) => oc.column('prefix').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (row === undefined) throw new ConflictError(`route ${p} exists`);
        await db
          .insertInto('route_carriers')
          .values(cs.map((carrier, position) => ({ prefix: p, position, carrier })))
          .execute();
        return { prefix: p, carriers: cs, createdAt: row.created_at };
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new NotFoundError(`unknown carrier (one of ${cs.join(', ')})`);
      if (isUniqueViolation(err)) throw new ConflictError(`route ${p} exists`);
      throw err;
    }
  }

  /** Replaces a route's carriers; NotFoundError when the route or a carrier is unknown. */
  async update(prefix: string, carriers: string[]): Promise<OutboundRoute> {
    const p = parseRoutePrefix(prefix, 'prefix');
    const cs = checkCarriers(carriers);
    return this.#ctx.write(async (db) => {
      const row = await db.selectFrom('routes').selectAll().where('prefix', '=', p).executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown route ${p}`);
      await this.#missingCarrier(db, cs);
      await db.deleteFrom('route_carriers').where('prefix', '=', p).execute();
      await db
        .insertInto('route_carriers')
        .values(cs.map((carrier, position) => ({ prefix: p, position, carrier })))
        .execute();
      return { prefix: p, carriers: cs, createdAt: row.created_at };
    });
  }

  /** Removes a route and returns it; NotFoundError when unknown. */
  async rm(prefix: string): Promise<OutboundRoute> {
    const p = parseRoutePrefix(prefix, 'prefix');
    return this.#ctx.write(async (db) => {
      const row = await db.selectFrom('routes').selectAll().where('prefix', '=', p).executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown route ${p}`);
      const carriers = (
        await db.selectFrom('route_carriers').select('carrier').where('prefix', '=', p).orderBy('position').execute()
      ).map((r) => r.carrier);
      await db.deleteFrom('route_carriers').where('prefix', '=', p).execute();
      await db.deleteFrom('routes').where('prefix', '=', p).execute();
      return { prefix: p, carriers, createdAt: row.created_at };
    });
  }

  /** Every route, by prefix, its carriers in order. */
  async list(): Promise<OutboundRoute[]> {
    const db = this.#ctx.db;
    const rows = await db.selectFrom('routes').selectAll().orderBy(this.#ctx.orderText('prefix')).execute();
    const links = await db.selectFrom('route_carriers').selectAll().orderBy('position').execute();
    const byPrefix = new Map<string, string[]>();
    for (const l of links) {
      let list = byPrefix.get(l.prefix);
      if (list === undefined) byPrefix.set(l.prefix, (list = []));
      list.push(l.carrier);
    }
    return rows.map((r) => ({ prefix: r.prefix, carriers: byPrefix.get(r.prefix) ?? [], createdAt: r.created_at }));
  }
}
