/**
 * Access-list entries (0003_security), see src/security/acl.ts for what
 * they mean. Take a StoreContext: `new AclRepo(store.ctx)`.
 */
import { isIP } from 'node:net';
import { parseCidr } from '../../net/cidr.js';
import type { StoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { AclEntryTable } from '../schema.js';

export type AclAction = 'allow' | 'deny';
export type AclDirection = 'any' | 'inbound' | 'outbound';

export interface AclRow {
  id: number;
  group: string;
  action: AclAction;
  cidr: string;
  method: string;
  direction: AclDirection;
  createdAt: number;
}

export interface AclInput {
  group: string;
  action: AclAction;
  cidr: string;
  method?: string;
  direction?: AclDirection;
}

function toRow(r: AclEntryTable & { id: number }): AclRow {
  return {
    id: Number(r.id),
    group: r.grp,
    action: r.action as AclAction,
    cidr: r.cidr,
    method: r.method,
    direction: r.direction as AclDirection,
    createdAt: Number(r.created_at),
  };
}

/** `IP` or `IP/PREFIX`, normalised (lowercase, no brackets); ValidationError otherwise. */
export function normalizeCidr(text: string, field = 'cidr'): string {
  const s = text.trim().toLowerCase();
  const slash = s.indexOf('/');
  let ip = slash < 0 ? s : s.slice(0, slash);
  if (ip.startsWith('[') && ip.endsWith(']')) ip = ip.slice(1, -1);
  if (isIP(ip) === 0) throw new ValidationError(field, `not an IP address or CIDR: ${text}`);
  if (slash < 0) return ip;
  const c = parseCidr(`${ip}${s.slice(slash)}`);
  if (c === null) throw new ValidationError(field, `bad prefix length: ${text}`);
  return `${ip}/${c.bits}`;
}

function checkGroup(g: string): string {
  const v = g.trim();
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(v))
    throw new ValidationError('group', `expected a name of letters, digits, . _ -, got ${JSON.stringify(g)}`);
  return v;
}

function checkMethod(m: string | undefined): string {
  const v = (m ?? '*').trim().toUpperCase();
  if (v !== '*' && !/^[A-Z]{1,32}$/.test(v))
    throw new ValidationError('method', `expected a SIP method or *, got ${JSON.stringify(m)}`);
  return v;
}

export class AclRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  async add(input: AclInput): Promise<AclRow> {
    const row = {
      grp: checkGroup(input.group),
      action: input.action,
      cidr: normalizeCidr(input.cidr),
      method: checkMethod(input.method),
      direction: input.direction ?? 'any',
      created_at: this.#ctx.now(),
    };
    if (row.action !== 'allow' && row.action !== 'deny')
      throw new ValidationError('action', `expected allow or deny, got ${String(row.action)}`);
    if (!['any', 'inbound', 'outbound'].includes(row.direction))
      throw new ValidationError('direction', `expected any, inbound or outbound, got ${row.direction}`);
    return this.#ctx.write(async (db) => {
      const r = await db
        .insertInto('acl_entries')
        .values(row)
        .onConflict((oc) => oc.columns(['grp', 'action', 'cidr', 'method', 'direction']).doNothing())
        .returningAll()
        .executeTakeFirst();
      if (r === undefined)
        throw new ConflictError(`acl ${row.grp} already has ${row.action} ${row.cidr} ${row.method} ${row.direction}`);
      return toRow(r as AclEntryTable & { id: number });
    });
  }

  /** Removes a group's entries (all, or those of one CIDR); NotFoundError when none matched. */
  async rm(group: string, cidr?: string): Promise<number> {
    const g = checkGroup(group);
    const c = cidr === undefined ? undefined : normalizeCidr(cidr);
    return this.#ctx.write(async (db) => {
      let q = db.deleteFrom('acl_entries').where('grp', '=', g);
      if (c !== undefined) q = q.where('cidr', '=', c);
      const r = await q.executeTakeFirst();
      const n = Number(r.numDeletedRows ?? 0);
      if (n === 0)
        throw new NotFoundError(c === undefined ? `unknown acl group ${g}` : `acl group ${g} has no entry ${c}`);
      return n;
    });
  }

  async list(): Promise<AclRow[]> {
    const rows = await this.#ctx.db
      .selectFrom('acl_entries')
      .selectAll()
      .orderBy(this.#ctx.orderText('grp'))
      .orderBy('id')
      .execute();
    return rows.map((r) => toRow(r as AclEntryTable & { id: number }));
  }
}
