/**
 * Trunks: a customer's static-IP peer (a list of CIDRs) or registering PBX
 * (the subscriber `user@domain` it registers as), with its transport,
 * client-certificate fingerprint, destination for inbound calls, limits,
 * media mode and codecs. A trunk belongs to an existing account.
 *
 * Ranges: a trunk range holding a carrier gateway's address (an IP
 * literal) or every address is refused (TrunkRangeError) unless `force`
 * (src/trunking/ranges.ts); the carrier keeps its address either way.
 *
 * Removal: refused (ConflictError) while the trunk has DIDs, unless
 * `cascade`, which removes them in the same transaction.
 */
import { count, type StoreContext } from '../context.js';
import {
  ConflictError,
  NotFoundError,
  TrunkRangeError,
  ValidationError,
  isForeignKeyViolation,
  isUniqueViolation,
} from '../errors.js';
import type { TrunkTable } from '../schema.js';
import { parseAddress } from '../validate.js';
import type { MediaMode, Trunk, TrunkTransport } from '../../trunking/model.js';
import {
  DEFAULT_TRUNK_CPM,
  checkCidrs,
  checkCodecs,
  checkFingerprint,
  checkLimit,
  checkMedia,
  checkName,
  checkOptionalLimit,
  checkSipUri,
  checkTransport,
} from '../../trunking/validate.js';
import { describeRangeProblems, trunkRangeProblems } from '../../trunking/ranges.js';
import { dialPlanExists } from './dial-plans.js';

export interface TrunkInput {
  name: string;
  account: string;
  /** CIDRs of a static-IP trunk; give this or `register`. */
  ip?: string[];
  /** `user@domain` of a registration trunk; give this or `ip`. */
  register?: string | null;
  transport?: TrunkTransport | null;
  tlsFingerprint?: string | null;
  dest?: string | null;
  /** Default 200. */
  cpm?: number;
  maxCalls?: number | null;
  /** Default `any`. */
  media?: MediaMode;
  codecs?: string[];
  /** The dial plan its numbers are read and written by; null/absent = E.164 only. */
  dialPlan?: string | null;
}

/** How `add` and `update` write. */
export interface TrunkWriteOptions {
  /** Accept a range that holds a carrier gateway's address or every address. */
  force?: boolean;
}

/** What `rm` removed along with the trunk (zero without cascade). */
export interface TrunkRemoval {
  name: string;
  account: string;
  dids: number;
}

function parseJsonList(text: string): string[] {
  const v: unknown = JSON.parse(text);
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function toTrunk(row: TrunkTable): Trunk {
  return {
    name: row.name,
    account: row.account,
    ip: parseJsonList(row.ip),
    register: row.register,
    transport: row.transport as TrunkTransport | null,
    tlsFingerprint: row.tls_fingerprint,
    dest: row.dest,
    cpm: row.cpm,
    maxCalls: row.max_calls,
    media: row.media as MediaMode,
    codecs: parseJsonList(row.codecs),
    dialPlan: row.dial_plan ?? null,
    createdAt: row.created_at,
  };
}

/** `user@domain` with the domain lowercased, as the location table keeps AORs. */
function checkRegister(value: unknown): string {
  const { username, domain } = parseAddress(value, 'register');
  return `${username}@${domain}`;
}

/** The row of a valid input; ValidationError naming the first bad field. */
function toRow(input: TrunkInput, now: number): TrunkTable {
  const name = checkName(input.name, 'name');
  const account = checkName(input.account, 'account');
  const hasIp = input.ip !== undefined && input.ip !== null && !(Array.isArray(input.ip) && input.ip.length === 0);
  const hasRegister = input.register !== undefined && input.register !== null;
  if (hasIp === hasRegister) {
    throw new ValidationError(
      'ip',
      'a trunk is either a static peer (ip) or a registering PBX (register): give exactly one',
    );
  }
  return {
    name,
    account,
    ip: JSON.stringify(hasIp ? checkCidrs(input.ip, 'ip') : []),
    register: hasRegister ? checkRegister(input.register) : null,
    transport: checkTransport(input.transport, 'transport'),
    tls_fingerprint: checkFingerprint(input.tlsFingerprint, 'tlsFingerprint'),
    dest: input.dest === undefined || input.dest === null ? null : checkSipUri(input.dest, 'dest'),
    cpm: input.cpm === undefined ? DEFAULT_TRUNK_CPM : checkLimit(input.cpm, 'cpm'),
    max_calls: checkOptionalLimit(input.maxCalls, 'maxCalls'),
    media: checkMedia(input.media, 'media'),
    codecs: JSON.stringify(checkCodecs(input.codecs, 'codecs')),
    dial_plan: input.dialPlan === undefined || input.dialPlan === null ? null : checkName(input.dialPlan, 'dialPlan'),
    created_at: now,
  };
}

export class TrunkRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /**
   * Adds a trunk. NotFoundError for an unknown account; ConflictError when
   * the name exists or another trunk registers as the same subscriber.
   */
  async add(input: TrunkInput, opts: TrunkWriteOptions = {}): Promise<Trunk> {
    const row = toRow(input, this.#ctx.now());
    try {
      return await this.#ctx.write(async (db) => {
        const acc = await db.selectFrom('accounts').select('name').where('name', '=', row.account).executeTakeFirst();
        if (acc === undefined) throw new NotFoundError(`unknown account ${row.account}`);
        await dialPlanExists(db, row.dial_plan ?? null);
        const same = await db.selectFrom('trunks').select('name').where('name', '=', row.name).executeTakeFirst();
        if (same !== undefined) throw new ConflictError(`trunk ${row.name} exists`);
        if (row.register !== null) await this.#registerFree(db, row.register, row.name);
        if (opts.force !== true) await this.#rangesFree(db, row.ip);
        return toTrunk(await db.insertInto('trunks').values(row).returningAll().executeTakeFirstOrThrow());
      });
    } catch (err) {
      throw this.#translate(err, row);
    }
  }

  /**
   * Replaces a trunk's settings with `input` (all of them, as add takes
   * them; its name and creation time stay). NotFoundError when unknown.
   */
  async update(input: TrunkInput, opts: TrunkWriteOptions = {}): Promise<Trunk> {
    const row = toRow(input, this.#ctx.now());
    try {
      return await this.#ctx.write(async (db) => {
        const old = await db.selectFrom('trunks').select('created_at').where('name', '=', row.name).executeTakeFirst();
        if (old === undefined) throw new NotFoundError(`unknown trunk ${row.name}`);
        const acc = await db.selectFrom('accounts').select('name').where('name', '=', row.account).executeTakeFirst();
        if (acc === undefined) throw new NotFoundError(`unknown account ${row.account}`);
        await dialPlanExists(db, row.dial_plan ?? null);
        if (row.register !== null) await this.#registerFree(db, row.register, row.name);
        if (opts.force !== true) await this.#rangesFree(db, row.ip);
        const { name: _n, created_at: _c, ...set } = row;
        return toTrunk(
          await db.updateTable('trunks').set(set).where('name', '=', row.name).returningAll().executeTakeFirstOrThrow(),
        );
      });
    } catch (err) {
      throw this.#translate(err, row);
    }
  }

  async #registerFree(db: StoreContext['db'], register: string, self: string): Promise<void> {
    const other = await db
      .selectFrom('trunks')
      .select('name')
      .where('register', '=', register)
      .where('name', '!=', self)
      .executeTakeFirst();
    if (other !== undefined) throw new ConflictError(`trunk ${other.name} already registers as ${register}`);
  }

  /** TrunkRangeError when a range (`row.ip`, JSON) holds a carrier gateway's address or every address. */
  async #rangesFree(db: StoreContext['db'], ipJson: string): Promise<void> {
    const cidrs = parseJsonList(ipJson);
    if (cidrs.length === 0) return;
    const rows = await db
      .selectFrom('carrier_gateways')
      .select(['carrier', 'uri'])
      .orderBy('carrier')
      .orderBy('position')
      .execute();
    const byCarrier = new Map<string, string[]>();
    for (const r of rows) {
      const list = byCarrier.get(r.carrier);
      if (list === undefined) byCarrier.set(r.carrier, [r.uri]);
      else list.push(r.uri);
    }
    const problems = trunkRangeProblems(
      cidrs,
      [...byCarrier].map(([name, gateways]) => ({ name, gateways })),
    );
    if (problems.length > 0) throw new TrunkRangeError(describeRangeProblems(problems));
  }

  /** A constraint another process raced us to, in words. */
  #translate(err: unknown, row: TrunkTable): unknown {
    if (isForeignKeyViolation(err))
      return new NotFoundError(
        row.dial_plan
          ? `unknown account ${row.account} or dial plan ${row.dial_plan}`
          : `unknown account ${row.account}`,
      );
    if (isUniqueViolation(err)) {
      return row.register !== null
        ? new ConflictError(`trunk ${row.name} exists, or another trunk registers as ${row.register}`)
        : new ConflictError(`trunk ${row.name} exists`);
    }
    return err;
  }

  /**
   * Removes a trunk. With DIDs: ConflictError unless `cascade`, which
   * removes them too.
   */
  async rm(name: string, opts: { cascade?: boolean } = {}): Promise<TrunkRemoval> {
    const n = checkName(name, 'name');
    try {
      return await this.#ctx.write(async (db) => {
        const found = await db.selectFrom('trunks').select('account').where('name', '=', n).executeTakeFirst();
        if (found === undefined) throw new NotFoundError(`unknown trunk ${n}`);
        const { c } = await db
          .selectFrom('dids')
          .select((eb) => eb.fn.countAll<number>().as('c'))
          .where('trunk', '=', n)
          .executeTakeFirstOrThrow();
        const dids = Number(c);
        const removal: TrunkRemoval = { name: n, account: found.account, dids: 0 };
        if (dids > 0) {
          if (opts.cascade !== true) {
            throw new ConflictError(
              `trunk ${n} has ${dids} DID${dids === 1 ? '' : 's'} (remove them first, or cascade)`,
            );
          }
          removal.dids = count((await db.deleteFrom('dids').where('trunk', '=', n).executeTakeFirst()).numDeletedRows);
        }
        await db.deleteFrom('trunks').where('name', '=', n).execute();
        return removal;
      });
    } catch (err) {
      if (isForeignKeyViolation(err)) throw new ConflictError(`trunk ${n} has DIDs`);
      throw err;
    }
  }

  /** Every trunk, by name; with `account`, that account's only (NotFoundError when it is unknown); `after` and `limit` give one page. */
  async list(opts: { account?: string; after?: string; limit?: number } = {}): Promise<Trunk[]> {
    const db = this.#ctx.db;
    let q = db.selectFrom('trunks').selectAll().orderBy(this.#ctx.orderText('name'));
    if (opts.after !== undefined) q = q.where(this.#ctx.afterText('name', opts.after));
    if (opts.limit !== undefined) q = q.limit(opts.limit);
    if (opts.account !== undefined) {
      const a = checkName(opts.account, 'account');
      const acc = await db.selectFrom('accounts').select('name').where('name', '=', a).executeTakeFirst();
      if (acc === undefined) throw new NotFoundError(`unknown account ${a}`);
      q = q.where('account', '=', a);
    }
    return (await q.execute()).map(toTrunk);
  }

  /** One trunk; NotFoundError when unknown. */
  async show(name: string): Promise<Trunk> {
    const n = checkName(name, 'name');
    const row = await this.#ctx.db.selectFrom('trunks').selectAll().where('name', '=', n).executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`unknown trunk ${n}`);
    return toTrunk(row);
  }
}
