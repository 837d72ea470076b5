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
  /** In a cluster: the node that took the REGISTER (it holds the flow), and its incarnation; null alone. */
  node_id: string | null;
  node_inc: string | null;
}

/** Key/value rows of the store itself; `changes` counts provisioning writes. */
export interface StoreMetaTable {
  key: string;
  value: number;
}

/** A customer (0002_trunking); null limits = unlimited. */
export interface AccountTable {
  name: string;
  cpm: number | null;
  max_calls: number | null;
  created_at: number;
  /** 0010_sell_prices: 1 lets calls through that cost more than the account pays. */
  sell_below_cost?: number;
}

export interface TrunkTable {
  name: string;
  account: string;
  /** JSON array of CIDRs (`127.0.0.2/32`), `[]` for a registration trunk. */
  ip: string;
  /** `user@domain` of a registration trunk, null for a static-IP trunk. */
  register: string | null;
  /** `udp`, `tcp`, `tls` or null (any). */
  transport: string | null;
  /** Uppercase hex SHA-256, colon separated, or null. */
  tls_fingerprint: string | null;
  dest: string | null;
  cpm: number;
  max_calls: number | null;
  /** `rtp`, `srtp` or `any`. */
  media: string;
  /** JSON array of codec names, `[]` = as offered. */
  codecs: string;
  /** 0008_dial_plans: the plan its numbers are read and written by, or null. */
  dial_plan?: string | null;
  created_at: number;
}

export interface DidTable {
  /** `+912240001234` or a prefix `+9122400012*`. */
  number: string;
  trunk: string;
  created_at: number;
}

export interface CarrierTable {
  name: string;
  username: string | null;
  /** Kept for digest answers; never listed or logged. */
  password: string | null;
  /** 0 or 1. */
  register: number;
  prefix: string | null;
  /** 1: numbers with `+`; 0: without. */
  plus: number;
  media: string;
  codecs: string;
  /** 0008_dial_plans: the plan its numbers are read and written by, or null. */
  dial_plan?: string | null;
  created_at: number;
}

/** 0008_dial_plans: how a trunk or carrier writes numbers; `emergency` and `rules` JSON lists. */
export interface DialPlanTable {
  name: string;
  country: string;
  national_prefix: string;
  international_prefix: string;
  format: string;
  emergency: string;
  rules: string;
  created_at: number;
}

/** A carrier's gateways; position 0 is the first tried. */
export interface CarrierGatewayTable {
  carrier: string;
  position: number;
  uri: string;
}

/** An outbound route: `+` (default) or `+` and digits. */
export interface RouteTable {
  prefix: string;
  created_at: number;
  /** 0007_rates: `priority` (list order), `lcr` (cheapest rate first), `weighted` (random by weight). */
  mode: Generated<string>;
}

/** A route's carriers; position 0 is the first tried. */
export interface RouteCarrierTable {
  prefix: string;
  position: number;
  carrier: string;
  /** 0007_rates: the carrier's weight in a weighted route, else null. */
  weight: number | null;
}

export interface CdrTable {
  call_sid: string;
  account: string | null;
  trunk: string | null;
  carrier: string | null;
  /** `inbound` or `outbound`. */
  direction: string;
  call_from: string;
  call_to: string;
  start_at: number;
  answer_at: number | null;
  end_at: number;
  duration: number;
  status: number;
  reason: string;
  /** `caller`, `callee` or `system`. */
  hangup_by: string;
  extra: string | null;
  /** 0007_rates: the buy cost (fee + rate x billed / 60), micro-units; null when not priced. */
  cost: number | null;
  /** The price per minute it was priced by, micro-units. */
  rate: number | null;
  /** The deck's prefix that matched. */
  rate_prefix: string | null;
  /** Seconds billed by the deck's increments. */
  billed: number | null;
  /** 0008_dial_plans: caller and callee as received; 1 for an emergency call. */
  from_received?: string | null;
  to_received?: string | null;
  emergency?: number;
  /** 0009_cdr_quality: the answering (or last) carrier gateway, the post-dial delay (ms), the Q.850 cause, the MOS estimate. */
  gateway: string | null;
  pdd_ms: number | null;
  q850: number | null;
  mos: number | null;
  /** 0010_sell_prices: the sell price of an answered call, micro-units; null when not priced. */
  price: number | null;
  /** 0011_cdr_legs: both legs' Call-IDs, the ring time and the answered duration (ms). */
  a_call_id: string | null;
  b_call_id: string | null;
  ring_ms: number | null;
  duration_ms: number | null;
}

/** 0007_rates: a carrier's rate deck; `loading` while an import fills it, then `active`, then `retired`. */
export interface RateDeckTable {
  id: Generated<number>;
  carrier: string;
  state: string;
  row_count: number;
  /** Where it came from (a file name), or null. */
  source: string | null;
  created_at: number;
  activated_at: number | null;
}

/** 0007_rates: one row of a deck. Money in micro-units; effective_at 0 = always. */
export interface RateTable {
  deck: number;
  /** `+` and digits. */
  prefix: string;
  effective_at: number;
  /** Price per minute. */
  rate: number;
  /** Per call. */
  fee: number;
  /** Seconds: the first increment and the next ones (30/6). */
  first_incr: number;
  next_incr: number;
}

/** HTTP API bearer tokens (0004_api): the SHA-256 of the token, never the token. */
export interface ApiTokenTable {
  name: string;
  /** `admin` (read and write) or `read`. */
  role: string;
  /** Hex SHA-256 of the token. */
  token_hash: string;
  created_at: number;
  /** Milliseconds since the epoch of the last request it authorized (at most once a minute), null when never. */
  last_used_at: number | null;
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

/** A CDR still to be POSTed to the CDR webhook (migration 0007). */
export interface CdrOutboxTable {
  id: Generated<number>;
  call_sid: string;
  /** Failed POSTs so far. */
  attempts: Generated<number>;
  /** Of those, answers that refused this CDR (4xx but 408, 429). */
  refusals: Generated<number>;
  /** Due at (ms); null: parked (sent again once Trunkline restarts). */
  next_at: number | null;
  /** The sender holding it (until next_at), or null. */
  claim: string | null;
  last_error: string | null;
  created_at: number;
}

export interface Database {
  domains: DomainTable;
  subscribers: SubscriberTable;
  aliases: AliasTable;
  location: LocationTable;
  store_meta: StoreMetaTable;
  accounts: AccountTable;
  trunks: TrunkTable;
  dids: DidTable;
  carriers: CarrierTable;
  dial_plans: DialPlanTable;
  carrier_gateways: CarrierGatewayTable;
  routes: RouteTable;
  route_carriers: RouteCarrierTable;
  cdrs: CdrTable;
  api_tokens: ApiTokenTable;
  bans: BanTable;
  acl_entries: AclEntryTable;
  list_entries: ListEntryTable;
  cdr_outbox: CdrOutboxTable;
  rate_decks: RateDeckTable;
  rates: RateTable;
  account_prices: AccountPriceTable;
}

/** 0010_sell_prices: an account's price per prefix. Money in micro-units; effective_at 0 = always. */
export interface AccountPriceTable {
  account: string;
  prefix: string;
  effective_at: number;
  rate: number;
  fee: number;
  first_incr: number;
  next_incr: number;
}
