/**
 * Carriers: the upstream providers, each with its gateways (SIP URIs, first
 * = highest priority, kept in order in carrier_gateways), credentials for
 * their 401/407 challenges (the password is kept because a digest answer
 * needs it; `list` and `show` never return it, `withSecret` does, for the
 * B2BUA), a tech prefix, the number format (with or without `+`), media mode
 * and codecs.
 *
 * Removal: refused (ConflictError) while a route names the carrier; its
 * rate decks go with it.
 */
import type { StoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError, isForeignKeyViolation, isUniqueViolation } from '../errors.js';
import type { CarrierTable } from '../schema.js';
import { checkPassword, checkUsername } from '../validate.js';
import type { Carrier, MediaMode } from '../../trunking/model.js';
import { checkCodecs, checkMedia, checkName, checkSipUri, checkTechPrefix } from '../../trunking/validate.js';
import { dialPlanExists } from './dial-plans.js';

export interface CarrierInput {
  name: string;
  /** SIP URIs, first = highest priority; at least one. */
  gateways: string[];
  username?: string | null;
  password?: string | null;
  register?: boolean;
  prefix?: string | null;
  /** Default true. */
  plus?: boolean;
  media?: MediaMode;
  codecs?: string[];
  /** The dial plan its numbers are read and written by; null/absent = E.164 (`plus`). */
  dialPlan?: string | null;
}

/** A carrier as listed: the password never, only whether there is one. */
export type CarrierInfo = Omit<Carrier, 'password'> & { password: null; hasPassword: boolean };

const MAX_GATEWAYS = 32;

function parseJsonList(text: string): string[] {
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function toCarrier(row: CarrierTable, gateways: string[]): Carrier {
  return {
    name: row.name,
    gateways,
    username: row.username,
    password: row.password,
    register: row.register !== 0,
    prefix: row.prefix,
    plus: row.plus !== 0,
    media: row.media as MediaMode,
    codecs: parseJsonList(row.codecs),
    dialPlan: row.dial_plan ?? null,
    createdAt: row.created_at,
  };
}

/** The carrier without its password (what list/show and logs may see). */
export function withoutSecret(c: Carrier): CarrierInfo {
  return { ...c, password: null, hasPassword: c.password !== null };
}

function toRow(input: CarrierInput, now: number): { row: CarrierTable; gateways: string[] } {
  const name = checkName(input.name, 'name');
  if (!Array.isArray(input.gateways) || input.gateways.length === 0) {
    throw new ValidationError('gateways', 'expected at least one gateway SIP URI');
  }
  if (input.gateways.length > MAX_GATEWAYS) throw new ValidationError('gateways', `at most ${MAX_GATEWAYS} gateways`);
  const gateways = [...new Set(input.gateways.map((g) => checkSipUri(g, 'gateways')))];
  const username =
    input.username === undefined || input.username === null ? null : checkUsername(input.username, 'username');
  const password =
    input.password === undefined || input.password === null ? null : checkPassword(input.password, 'password');
  if ((username === null) !== (password === null)) {
    throw new ValidationError(username === null ? 'username' : 'password', 'username and password go together');
  }
  const register = input.register === true;
  if (register && username === null) throw new ValidationError('register', 'registering needs a username and password');
  return {
    row: {
      name,
      username,
      password,
      register: register ? 1 : 0,
      prefix: checkTechPrefix(input.prefix, 'prefix'),
      plus: input.plus === false ? 0 : 1,
      media: checkMedia(input.media, 'media'),
      codecs: JSON.stringify(checkCodecs(input.codecs, 'codecs')),
      dial_plan: input.dialPlan === undefined || input.dialPlan === null ? null : checkName(input.dialPlan, 'dialPlan'),
      created_at: now,
    },
    gateways,
  };
}

export class CarrierRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Adds a carrier with its gateways in one transaction. ConflictError when the name exists. */
  async add(input: CarrierInput): Promise<CarrierInfo> {
    const { row, gateways } = toRow(input, this.#ctx.now());
    try {
      return await this.#ctx.write(async (db) => {
        await dialPlanExists(db, row.dial_plan ?? null);
        const inserted = await db
          .insertInto('carriers')
          .values(row)
          .onConflict((oc) => oc.column('name').doNothing())
          .returningAll()
          .executeTakeFirst();
        if (inserted === undefined) throw new ConflictError(`carrier ${row.name} exists`);
        await db
          .insertInto('carrier_gateways')
          .values(gateways.map((uri, position) => ({ carrier: row.name, position, uri })))
          .execute();
        return withoutSecret(toCarrier(inserted, gateways));
      });
    } catch (err) {
      if (isUniqueViolation(err)) throw new ConflictError(`carrier ${row.name} exists`);
      throw err;
    }
  }

  /**
   * Replaces a carrier's settings and gateways with `input` (as add takes
   * them; a password left out keeps the stored one when the username stays).
   */
  async update(input: CarrierInput): Promise<CarrierInfo> {
    const name = checkName(input.name, 'name');
    return this.#ctx.write(async (db) => {
      const old = await db.selectFrom('carriers').selectAll().where('name', '=', name).executeTakeFirst();
      if (old === undefined) throw new NotFoundError(`unknown carrier ${name}`);
      const keepPassword =
        (input.password === undefined || input.password === null) &&
        input.username !== undefined &&
        input.username === old.username;
      const { row, gateways } = toRow(keepPassword ? { ...input, password: old.password } : input, old.created_at);
      await dialPlanExists(db, row.dial_plan ?? null);
      const { name: _n, created_at: _c, ...set } = row;
      const updated = await db
        .updateTable('carriers')
        .set(set)
        .where('name', '=', name)
        .returningAll()
        .executeTakeFirstOrThrow();
      await db.deleteFrom('carrier_gateways').where('carrier', '=', name).execute();
      await db
        .insertInto('carrier_gateways')
        .values(gateways.map((uri, position) => ({ carrier: name, position, uri })))
        .execute();
      return withoutSecret(toCarrier(updated, gateways));
    });
  }

  /** Removes a carrier and its gateways; ConflictError while a route names it. */
  async rm(name: string): Promise<CarrierInfo> {
    const n = checkName(name, 'name');
    try {
      return await this.#ctx.write(async (db) => {
        const row = await db.selectFrom('carriers').selectAll().where('name', '=', n).executeTakeFirst();
        if (row === undefined) throw new NotFoundError(`unknown carrier ${n}`);
        const routes = [
          ...new Set(
            (await db.selectFrom('route_carriers').select('prefix').where('carrier', '=', n).execute()).map(
              (r) => r.prefix,
            ),
          ),
        ].sort();
        if (routes.length > 0) {
          throw new ConflictError(
            `carrier ${n} is used by route${routes.length === 1 ? '' : 's'} ${routes.join(', ')} (remove or change them first)`,
          );
        }
        const gateways = await this.#gateways(db, [n]);
        await db.deleteFrom('carrier_gateways').where('carrier', '=', n).execute();
        // Its rate decks' rows (rates has no foreign key: 0007_rates); the decks go with the carrier (cascade).
        await db
          .deleteFrom('rates')
          .where('deck', 'in', db.selectFrom('rate_decks').select('id').where('carrier', '=', n))
          .execute();
        await db.deleteFrom('carriers').where('name', '=', n).execute();
        return withoutSecret(toCarrier(row, gateways.get(n) ?? []));
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new ConflictError(`carrier ${n} is used by a route`);
      throw err;
    }
  }

  async #gateways(db: StoreContext['db'], names?: string[]): Promise<Map<string, string[]>> {
    let q = db.selectFrom('carrier_gateways').select(['carrier', 'uri']).orderBy('carrier').orderBy('position');
    if (names !== undefined) q = q.where('carrier', 'in', names);
    const out = new Map<string, string[]>();
    for (const r of await q.execute()) {
      let list = out.get(r.carrier);
      if (list === undefined) out.set(r.carrier, (list = []));
      list.push(r.uri);
    }
    return out;
  }

  /** Every carrier with its credentials, by name: for the directory and the B2BUA only, never for printing. */
  async listWithSecrets(): Promise<Carrier[]> {
    const db = this.#ctx.db;
    const rows = await db.selectFrom('carriers').selectAll().orderBy(this.#ctx.orderText('name')).execute();
    const gateways = await this.#gateways(db);
    return rows.map((r) => toCarrier(r, gateways.get(r.name) ?? []));
  }

  /** Every carrier, by name, without passwords. */
  async list(): Promise<CarrierInfo[]> {
    return (await this.listWithSecrets()).map(withoutSecret);
  }

  /** One carrier without its password; NotFoundError when unknown. */
  async show(name: string): Promise<CarrierInfo> {
    return withoutSecret(await this.withSecret(name));
  }

  /** One carrier with its password (digest answers); NotFoundError when unknown. */
  async withSecret(name: string): Promise<Carrier> {
    const n = checkName(name, 'name');
    const db = this.#ctx.db;
    const row = await db.selectFrom('carriers').selectAll().where('name', '=', n).executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`unknown carrier ${n}`);
    return toCarrier(row, (await this.#gateways(db, [n])).get(n) ?? []);
  }
}
