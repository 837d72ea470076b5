/**
 * API tokens: a name, a role (`admin` reads and writes, `read` only reads)
 * and the SHA-256 of the token. The token itself (`tl_` and 43 base64url
 * characters, 256 random bits) is returned once by `add` and never kept:
 * a leaked database does not give API access.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { StoreContext } from '../context.js';
import { ConflictError, NotFoundError, ValidationError } from '../errors.js';
import type { ApiTokenTable } from '../schema.js';

export const TOKEN_ROLES = ['admin', 'read'] as const;
export type TokenRole = (typeof TOKEN_ROLES)[number];

/** Prefix of every token: recognisable in a secret scanner's rules. */
export const TOKEN_PREFIX = 'tl_';

/** How often `last_used_at` is written for one token, at most. */
const TOUCH_MS = 60_000;

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export interface ApiToken {
  name: string;
  role: TokenRole;
  /** Milliseconds since the epoch. */
  createdAt: number;
  lastUsedAt: number | null;
}

/** What `add` returns: the token, shown this once. */
export interface NewApiToken extends ApiToken {
  token: string;
}

export function checkTokenName(value: unknown, field = 'name'): string {
  if (typeof value === 'string' && NAME.test(value)) return value;
  throw new ValidationError(
    field,
    `expected 1-64 letters, digits, '.', '_' or '-' (starting with a letter or digit), got ${JSON.stringify(String(value)).slice(0, 80)}`,
  );
}

export function checkTokenRole(value: unknown, field = 'role'): TokenRole {
  if (typeof value === 'string' && (TOKEN_ROLES as readonly string[]).includes(value)) return value as TokenRole;
  throw new ValidationError(field, `expected admin|read, got ${JSON.stringify(String(value)).slice(0, 80)}`);
}

/** Hex SHA-256 of a token: what the store keeps and looks up. */
export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

function toToken(row: ApiTokenTable): ApiToken {
  return { name: row.name, role: row.role as TokenRole, createdAt: row.created_at, lastUsedAt: row.last_used_at };
}

const PUBLIC = ['name', 'role', 'created_at', 'last_used_at'] as const;

export class TokenRepo {
  readonly #ctx: StoreContext;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Makes a token; ConflictError when the name is taken. The result's `token` is never stored. */
  async add(name: string, role: string): Promise<NewApiToken> {
    const n = checkTokenName(name);
    const r = checkTokenRole(role);
    const token = `${TOKEN_PREFIX}${randomBytes(32).toString('base64url')}`;
    const now = this.#ctx.now();
    return this.#ctx.write(async (db) => {
      const row = await db
        .insertInto('api_tokens')
        .values({ name: n, role: r, token_hash: hashToken(token), created_at: now, last_used_at: null })
        .onConflict((oc) => oc.column('name').doNothing())
        .returning(PUBLIC)
        .executeTakeFirst();
      if (row === undefined) throw new ConflictError(`token ${n} exists`);
      return { ...toToken(row as ApiTokenTable), token };
    });
  }

  /** Removes a token; NotFoundError when unknown. Requests with it fail from then on. */
  async rm(name: string): Promise<ApiToken> {
    const n = checkTokenName(name);
    return this.#ctx.write(async (db) => {
      const row = await db.deleteFrom('api_tokens').where('name', '=', n).returning(PUBLIC).executeTakeFirst();
      if (row === undefined) throw new NotFoundError(`unknown token ${n}`);
      return toToken(row as ApiTokenTable);
    });
  }

  /** Every token by name (never a hash). */
  async list(): Promise<ApiToken[]> {
    const rows = await this.#ctx.db
      .selectFrom('api_tokens')
      .select(PUBLIC)
      .orderBy(this.#ctx.orderText('name'))
      .execute();
    return rows.map((r) => toToken(r as ApiTokenTable));
  }

  async show(name: string): Promise<ApiToken> {
    const n = checkTokenName(name);
    const row = await this.#ctx.db.selectFrom('api_tokens').select(PUBLIC).where('name', '=', n).executeTakeFirst();
    if (row === undefined) throw new NotFoundError(`unknown token ${n}`);
    return toToken(row as ApiTokenTable);
  }

  /**
   * The token a request presented, or undefined when it is not one of ours.
   * Looked up by hash; `last_used_at` is refreshed at most once a minute.
   */
  async verify(token: string): Promise<ApiToken | undefined> {
    if (typeof token !== 'string' || !token.startsWith(TOKEN_PREFIX) || token.length > 256) return undefined;
    const hash = hashToken(token);
    const row = await this.#ctx.db
      .selectFrom('api_tokens')
      .selectAll()
      .where('token_hash', '=', hash)
      .executeTakeFirst();
    // The index found it by equality; compare again in constant time all the same.
    if (row === undefined || !timingSafeEqual(Buffer.from(row.token_hash, 'hex'), Buffer.from(hash, 'hex')))
      return undefined;
    const now = this.#ctx.now();
    if (row.last_used_at === null || now - row.last_used_at >= TOUCH_MS) {
      row.last_used_at = now;
      // In a transaction: on SQLite that waits for another writer without blocking the event loop.
      await this.#ctx.tx((db) =>
        db.updateTable('api_tokens').set({ last_used_at: now }).where('name', '=', row.name).execute(),
      );
    }
    return toToken(row);
  }
}
