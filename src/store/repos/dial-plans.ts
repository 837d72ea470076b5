/**
 * Dial plans (src/trunking/dial-plan.ts): how a trunk's PBX or a carrier
 * writes numbers. Trunks and carriers name the plan they use
 * (trunks.dial_plan, carriers.dial_plan); removal is refused
 * (ConflictError) while one does.
 */
import type { StoreContext } from '../context.js';
import { ConflictError, NotFoundError, isForeignKeyViolation } from '../errors.js';
import type { DialPlanTable } from '../schema.js';
import type { DialPlan, DialPlanRule, NumberFormat } from '../../trunking/model.js';
import { checkDialPlan, type DialPlanInput } from '../../trunking/dial-plan-validate.js';
import { checkName } from '../../trunking/validate.js';

export type { DialPlanInput };

function jsonList<T>(text: string): T[] {
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? (v as T[]) : [];
}

function toDialPlan(r: DialPlanTable): DialPlan {
  return {
    name: r.name,
    country: r.country,
    nationalPrefix: r.national_prefix,
    internationalPrefix: r.international_prefix,
    format: r.format as NumberFormat,
    emergency: jsonList<string>(r.emergency),
    rules: jsonList<DialPlanRule>(r.rules),
    createdAt: r.created_at,
  };
}

function toRow(p: DialPlan): DialPlanTable {
  return {
    name: p.name,
    country: p.country,
    national_prefix: p.nationalPrefix,
    international_prefix: p.internationalPrefix,
    format: p.format,
    emergency: JSON.stringify(p.emergency),
    rules: JSON.stringify(p.rules),
    created_at: p.createdAt,
  };
}

export class DialPlanRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Adds a plan (its country's defaults where the input gives none); ConflictError when the name exists. */
  async add(input: DialPlanInput): Promise<DialPlan> {
    const row = toRow(checkDialPlan(input, this.#ctx.now()));
    return this.#ctx.write(async (db) => {
      const inserted = await db
        .insertInto('dial_plans')
        .values(row)
        .onConflict((oc) => oc.column('name').doNothing())
        .returningAll()
        .executeTakeFirst();
      if (inserted === undefined) throw new ConflictError(`dial plan ${row.name} exists`);
      return toDialPlan(inserted);
    });
  }

  /** Replaces a plan's settings with `input` (as add takes them); NotFoundError when unknown. */
  async update(input: DialPlanInput): Promise<DialPlan> {
    const name = checkName(input.name, 'name');
    return this.#ctx.write(async (db) => {
      const old = await db.selectFrom('dial_plans').select('created_at').where('name', '=', name).executeTakeFirst();
      if (old === undefined) throw new NotFoundError(`unknown dial plan ${name}`);
      const { name: _n, created_at: _c, ...set } = toRow(checkDialPlan(input, old.created_at));
      return toDialPlan(
        await db.updateTable('dial_plans').set(set).where('name', '=', name).returningAll().executeTakeFirstOrThrow(),
      );
    });
  }

  /** Removes a plan; ConflictError while a trunk or carrier uses it. */
  async rm(name: string): Promise<DialPlan> {
    const n = checkName(name, 'name');
    try {
      return await this.#ctx.write(async (db) => {
        const row = await db.selectFrom('dial_plans').selectAll().where('name', '=', n).executeTakeFirst();
        if (row === undefined) throw new NotFoundError(`unknown dial plan ${n}`);
        const users = [
          ...(await db.selectFrom('trunks').select('name').where('dial_plan', '=', n).execute()).map(
            (t) => `trunk ${t.name}`,
          ),
          ...(await db.selectFrom('carriers').select('name').where('dial_plan', '=', n).execute()).map(
            (c) => `carrier ${c.name}`,
          ),
        ];
        if (users.length > 0)
          throw new ConflictError(`dial plan ${n} is used by ${users.join(', ')} (change them first)`);
        await db.deleteFrom('dial_plans').where('name', '=', n).execute();
        return toDialPlan(row);
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new ConflictError(`dial plan ${n} is used by a trunk or carrier`);
      throw err;
    }
  }

  /** Every plan, by name. */
  async list(): Promise<DialPlan[]> {
    const rows = await this.#ctx.db.selectFrom('dial_plans').selectAll().orderBy(this.#ctx.orderText('name')).execute();
    return rows.map(toDialPlan);
  }

  /** One plan; NotFoundError when unknown. */
  async show(name: string): Promise<DialPlan> {
    const n = checkName(name, 'name');
    const row = await this.#ctx.db.selectFrom('dial_plans').selectAll().where('name', '=', n).executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`unknown dial plan ${n}`);
    return toDialPlan(row);
  }
}

/** NotFoundError unless the plan `name` exists (a trunk's or carrier's write, inside its transaction). */
export async function dialPlanExists(db: StoreContext['db'], name: string | null): Promise<void> {
  if (name === null) return;
  const found = await db.selectFrom('dial_plans').select('name').where('name', '=', name).executeTakeFirst();
  if (found === undefined) throw new NotFoundError(`unknown dial plan ${name}`);
}
