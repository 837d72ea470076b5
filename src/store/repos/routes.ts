/**
 * Outbound routes: a dialled-number prefix (`+` alone is the default route,
 * `+91`, `+9122`) to a list of carriers. The longest prefix of the dialled
 * E.164 number wins; that lookup is the directory's, from memory
 * (src/trunking/directory.ts). The route's mode (0007_rates) says how its
 * carriers are ordered for a call (model.ts RouteMode): `priority` as
 * listed, `lcr` by rate, `weighted` at random by weight (route_carriers.weight).
 */
import type { StoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError, isForeignKeyViolation, isUniqueViolation } from '../errors.js';
import { ROUTE_MODES, type OutboundRoute, type RouteMode } from '../../trunking/model.js';
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

/** The largest weight of a carrier in a weighted route. */
export const MAX_WEIGHT = 1_000_000;

/** How a route orders its carriers; `weights` for a weighted route (one per carrier, default 1 each). */
export interface RouteOptions {
  mode?: RouteMode;
  weights?: number[] | null;
}

function checkMode(value: unknown): RouteMode {
  if (value === undefined || value === null) return 'priority';
  if ((ROUTE_MODES as readonly unknown[]).includes(value)) return value as RouteMode;
  throw new ValidationError('mode', `expected one of ${ROUTE_MODES.join(', ')}, got ${JSON.stringify(String(value))}`);
}

/** The mode and the weights as stored: weights only for a weighted route, one per carrier, each 1 to MAX_WEIGHT. */
function checkOptions(o: RouteOptions, carriers: string[]): { mode: RouteMode; weights: number[] | null } {
  const mode = checkMode(o.mode);
  const given = o.weights ?? null;
  if (mode !== 'weighted') {
    if (given !== null) throw new ValidationError('weights', `weights go with mode weighted (this route is ${mode})`);
    return { mode, weights: null };
  }
  if (given === null) return { mode, weights: carriers.map(() => 1) };
  if (!Array.isArray(given) || given.length !== carriers.length)
    throw new ValidationError('weights', `expected one weight per carrier (${carriers.length})`);
  for (const w of given)
    if (!Number.isSafeInteger(w) || w < 1 || w > MAX_WEIGHT)
      throw new ValidationError('weights', `expected whole numbers from 1 to ${MAX_WEIGHT}, got ${JSON.stringify(w)}`);
  return { mode, weights: given };
}

const links = (p: string, cs: string[], weights: number[] | null) =>
  cs.map((carrier, position) => ({ prefix: p, position, carrier, weight: weights?.[position] ?? null }));

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
  async add(prefix: string, carriers: string[], opts: RouteOptions = {}): Promise<OutboundRoute> {
    const p = parseRoutePrefix(prefix, 'prefix');
    const cs = checkCarriers(carriers);
    const { mode, weights } = checkOptions(opts, cs);
    const now = this.#ctx.now();
    try {
      return await this.#ctx.write(async (db) => {
        await this.#missingCarrier(db, cs);
        const row = await db
          .insertInto('routes')
          .values({ prefix: p, created_at: now, mode })
          .onConflict((oc) => oc.column('prefix').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (row === undefined) throw new ConflictError(`route ${p} exists`);
        await db
          .insertInto('route_carriers')
          .values(links(p, cs, weights))
          .execute();
        return { prefix: p, carriers: cs, createdAt: row.created_at, mode, weights };
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new NotFoundError(`unknown carrier (one of ${cs.join(', ')})`);
      if (isUniqueViolation(err)) throw new ConflictError(`route ${p} exists`);
      throw err;
    }
  }

  /**
   * Replaces a route's carriers, and its mode when `opts.mode` is given (else
   * it keeps its mode; a weighted route's weights are then those given, or 1
   * each); NotFoundError when the route or a carrier is unknown.
   */
  async update(prefix: string, carriers: string[], opts: RouteOptions = {}): Promise<OutboundRoute> {
    const p = parseRoutePrefix(prefix, 'prefix');
    const cs = checkCarriers(carriers);
    return this.#ctx.write(async (db) => {
      const row = await db.selectFrom('routes').selectAll().where('prefix', '=', p).executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown route ${p}`);
      const { mode, weights } = checkOptions({ ...opts, mode: opts.mode ?? checkMode(row.mode) }, cs);
      await this.#missingCarrier(db, cs);
      if (mode !== row.mode) await db.updateTable('routes').set({ mode }).where('prefix', '=', p).execute();
      await db.deleteFrom('route_carriers').where('prefix', '=', p).execute();
      await db
        .insertInto('route_carriers')
        .values(links(p, cs, weights))
        .execute();
      return { prefix: p, carriers: cs, createdAt: row.created_at, mode, weights };
    });
  }

  /** Removes a route and returns it; NotFoundError when unknown. */
  async rm(prefix: string): Promise<OutboundRoute> {
    const p = parseRoutePrefix(prefix, 'prefix');
    return this.#ctx.write(async (db) => {
      const row = await db.selectFrom('routes').selectAll().where('prefix', '=', p).executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown route ${p}`);
      const cs = await db
        .selectFrom('route_carriers')
        .select(['carrier', 'weight'])
        .where('prefix', '=', p)
        .orderBy('position')
        .execute();
      await db.deleteFrom('route_carriers').where('prefix', '=', p).execute();
      await db.deleteFrom('routes').where('prefix', '=', p).execute();
      const mode = checkMode(row.mode);
      return {
        prefix: p,
        carriers: cs.map((c) => c.carrier),
        createdAt: row.created_at,
        mode,
        weights: mode === 'weighted' ? cs.map((c) => c.weight ?? 1) : null,
      };
    });
  }

  /** Every route, by prefix, its carriers in order. */
  async list(): Promise<OutboundRoute[]> {
    const db = this.#ctx.db;
    const rows = await db.selectFrom('routes').selectAll().orderBy(this.#ctx.orderText('prefix')).execute();
    const carrierRows = await db.selectFrom('route_carriers').selectAll().orderBy('position').execute();
    const byPrefix = new Map<string, Array<{ carrier: string; weight: number | null }>>();
    for (const l of carrierRows) {
      let list = byPrefix.get(l.prefix);
      if (list === undefined) byPrefix.set(l.prefix, (list = []));
      list.push(l);
    }
    return rows.map((r) => {
      const cs = byPrefix.get(r.prefix) ?? [];
      const mode = checkMode(r.mode);
      return {
        prefix: r.prefix,
        carriers: cs.map((c) => c.carrier),
        createdAt: r.created_at,
        mode,
        weights: mode === 'weighted' ? cs.map((c) => c.weight ?? 1) : null,
      };
    });
  }
}
