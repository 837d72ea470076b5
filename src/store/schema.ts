/**
 * The tables as Kysely sees them. Column names are the SQL ones
 * (snake_case); the repositories map rows to camelCase objects.
 *
 * Times are integers: milliseconds since the epoch (SQLite INTEGER,
 * PostgreSQL BIGINT, read back as JS numbers on both).
 *
 * The migrations in ./migrations create exactly this; a later migration that
 * adds a table adds its interface here and its key to `Database`.
 */
import type { Generated } from 'kysely';

export interface DomainTable {
  /** Lowercase host name or IP literal (IPv6 in brackets); the digest realm. */
  domain: string;
  created_at: number;
}

export interface SubscriberTable {
  id: Generated<number>;
  username: string;
  domain: string;
  /** Hex MD5(username:realm:password), realm = domain (RFC 2617 / 7616 HA1). */
  ha1_md5: string;
  /** Hex SHA-256(username:realm:password) (RFC 7616, RFC 8760). */
  ha1_sha256: string;
  created_at: number;
  updated_at: number;
}

export interface AliasTable {
  /** `+912240001234`, `+9122400012*` (a prefix) or a name. */
  alias: string;
  subscriber_id: number;
  created_at: number;
}

export interface LocationTable {
  id: Generated<number>;
  /** `user@domain` (see normalizeAor). */
  aor: string;
  /** The Contact URI as registered. */
  contact: string;
  /** Where the REGISTER came from when that differs from the Contact (a URI or proto:host:port). */
  received: string | null;
  /** JSON array of the Path header values (RFC 3327), `[]` when none. */
  path: string;
  /** +sip.instance (RFC 5626/5627), null when absent. */
  instance: string | null;
  /** reg-id (RFC 5626), null when absent. */
  reg_id: number | null;
  call_id: string;
  cseq: number;
  /** 0..1, 1 when the Contact had no q. */
  q: number;
  /** Milliseconds since the epoch; a binding is live while expires_at > now. */
  expires_at: number;
  /** The flow the REGISTER arrived on: transport and both ends. */
  proto: string;
  local_host: string;
  local_port: number;
  remote_host: string;
  remote_port: number;
  /** The transport's connection id for stream transports, null for UDP. */
  connection_id: string | null;
  user_agent: string | null;
  updated_at: number;
}

/** Key/value rows of the store itself; `changes` counts provisioning writes. */
export interface StoreMetaTable {
  key: string;
  value: number;
}

/** 0003_security: an address banned (by hand, or by the server's flood and brute-force steps). */
export interface BanTable {
  /** Normalised IP literal. */
  ip: string;
  reason: string;
  /** `manual`, `flood`, `brute-force`. */
  source: string;
  /** Milliseconds since the epoch; null = until lifted by hand. */
  expires_at: number | null;
  created_at: number;
}

/** 0003_security: one entry of an IP/CIDR access list (see src/security/acl.ts). */
export interface AclEntryTable {
  id: Generated<number>;
  /** The address group's name. */
  grp: string;
  /** `allow` or `deny`. */
  action: string;
  cidr: string;
  /** Uppercase method or `*`. */
  method: string;
  /** `any`, `inbound`, `outbound`. */
  direction: string;
  created_at: number;
}

/** 0003_security: one black- or whitelist value (see src/security/lists.ts). */
export interface ListEntryTable {
  id: Generated<number>;
  /** `black` or `white`. */
  list: string;
  /** `ua`, `ip`, `domain`, `user`, `dest`. */
  kind: string;
  value: string;
  created_at: number;
}

export interface Database {
  domains: DomainTable;
  subscribers: SubscriberTable;
  aliases: AliasTable;
  location: LocationTable;
  store_meta: StoreMetaTable;
  bans: BanTable;
  acl_entries: AclEntryTable;
  list_entries: ListEntryTable;
}
