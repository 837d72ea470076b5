-- 0001_initial
create table "store_meta" ("key" text primary key, "value" bigint not null)
insert into "store_meta" ("key", "value") values ($1, $2) -- ["changes",0]
create table "domains" ("domain" text primary key, "created_at" bigint not null)
create table "subscribers" ("id" bigserial primary key, "username" text not null, "domain" text not null references "domains" ("domain") on delete restrict, "ha1_md5" text not null, "ha1_sha256" text not null, "created_at" bigint not null, "updated_at" bigint not null, constraint "subscribers_username_domain" unique ("username", "domain"))
create index "subscribers_domain" on "subscribers" ("domain")
create table "aliases" ("alias" text primary key, "subscriber_id" bigint not null references "subscribers" ("id") on delete cascade, "created_at" bigint not null)
create index "aliases_subscriber" on "aliases" ("subscriber_id")
create table "location" ("id" bigserial primary key, "aor" text not null, "contact" text not null, "received" text, "path" text default '[]' not null, "instance" text, "reg_id" integer, "call_id" text not null, "cseq" integer not null, "q" double precision default 1 not null, "expires_at" bigint not null, "proto" text not null, "local_host" text not null, "local_port" integer not null, "remote_host" text not null, "remote_port" integer not null, "connection_id" text, "user_agent" text, "updated_at" bigint not null, constraint "location_aor_contact" unique ("aor", "contact"))
create unique index location_flow on location (aor, instance, coalesce(reg_id, 0)) where instance is not null
create index "location_expires" on "location" ("expires_at")
-- 0002_trunking
create table "accounts" ("name" text primary key, "cpm" integer, "max_calls" integer, "created_at" bigint not null)
create table "trunks" ("name" text primary key, "account" text not null references "accounts" ("name") on delete restrict, "ip" text default '[]' not null, "register" text unique, "transport" text, "tls_fingerprint" text, "dest" text, "cpm" integer not null, "max_calls" integer, "media" text default 'any' not null, "codecs" text default '[]' not null, "created_at" bigint not null)
create index "trunks_account" on "trunks" ("account")
create table "dids" ("number" text primary key, "trunk" text not null references "trunks" ("name") on delete restrict, "created_at" bigint not null)
create index "dids_trunk" on "dids" ("trunk")
create table "carriers" ("name" text primary key, "username" text, "password" text, "register" integer default 0 not null, "prefix" text, "plus" integer default 1 not null, "media" text default 'any' not null, "codecs" text default '[]' not null, "created_at" bigint not null)
create table "carrier_gateways" ("carrier" text not null references "carriers" ("name") on delete cascade, "position" integer not null, "uri" text not null, constraint "carrier_gateways_pk" primary key ("carrier", "position"))
create table "routes" ("prefix" text primary key, "created_at" bigint not null)
create table "route_carriers" ("prefix" text not null references "routes" ("prefix") on delete cascade, "position" integer not null, "carrier" text not null references "carriers" ("name") on delete restrict, constraint "route_carriers_pk" primary key ("prefix", "position"))
create index "route_carriers_carrier" on "route_carriers" ("carrier")
create table "cdrs" ("call_sid" text primary key, "account" text, "trunk" text, "carrier" text, "direction" text not null, "call_from" text not null, "call_to" text not null, "start_at" bigint not null, "answer_at" bigint, "end_at" bigint not null, "duration" integer not null, "status" integer not null, "reason" text not null, "hangup_by" text not null, "extra" text)
create index "cdrs_start" on "cdrs" ("start_at", "call_sid")
create index "cdrs_trunk_start" on "cdrs" ("trunk", "start_at", "call_sid")
create index "cdrs_account_start" on "cdrs" ("account", "start_at", "call_sid")
-- 0003_security
create table "bans" ("ip" text primary key, "reason" text not null, "source" text not null, "expires_at" bigint, "created_at" bigint not null)
create index "bans_expires" on "bans" ("expires_at")
create table "acl_entries" ("id" bigserial primary key, "grp" text not null, "action" text not null, "cidr" text not null, "method" text not null, "direction" text not null, "created_at" bigint not null, constraint "acl_entries_unique" unique ("grp", "action", "cidr", "method", "direction"))
create table "list_entries" ("id" bigserial primary key, "list" text not null, "kind" text not null, "value" text not null, "created_at" bigint not null, constraint "list_entries_unique" unique ("list", "kind", "value"))
-- 0004_api
create table "api_tokens" ("name" text primary key, "role" text not null, "token_hash" text not null unique, "created_at" bigint not null, "last_used_at" bigint)
-- 0005_location_node
alter table "location" add column "node_id" text
alter table "location" add column "node_inc" text
create index "location_node" on "location" ("node_id")
-- 0006_cdr_outbox
create table "cdr_outbox" ("id" bigserial primary key, "call_sid" text not null unique, "attempts" integer default 0 not null, "refusals" integer default 0 not null, "next_at" bigint, "claim" text, "last_error" text, "created_at" bigint not null)
create index "cdr_outbox_due" on "cdr_outbox" ("next_at", "id")
create index "cdr_outbox_claim" on "cdr_outbox" ("claim")
-- 0007_rates
create table "rate_decks" ("id" bigserial primary key, "carrier" text not null references "carriers" ("name") on delete cascade, "state" text not null, "row_count" bigint default 0 not null, "source" text, "created_at" bigint not null, "activated_at" bigint)
create index "rate_decks_carrier" on "rate_decks" ("carrier")
create unique index rate_decks_active on rate_decks (carrier) where state = 'active'
create table "rates" ("deck" bigint not null, "prefix" text not null, "effective_at" bigint not null, "rate" bigint not null, "fee" bigint not null, "first_incr" integer not null, "next_incr" integer not null, constraint "rates_pk" primary key ("deck", "prefix", "effective_at"))
alter table "routes" add column "mode" text default 'priority' not null
alter table "route_carriers" add column "weight" integer
alter table "cdrs" add column "cost" bigint
alter table "cdrs" add column "rate" bigint
alter table "cdrs" add column "rate_prefix" text
alter table "cdrs" add column "billed" integer
-- 0008_dial_plans
create table "dial_plans" ("name" text primary key, "country" text not null, "national_prefix" text not null, "international_prefix" text not null, "format" text not null, "emergency" text not null, "rules" text not null, "created_at" bigint not null)
alter table "trunks" add column "dial_plan" text references "dial_plans" ("name")
alter table "carriers" add column "dial_plan" text references "dial_plans" ("name")
alter table "cdrs" add column "from_received" text
alter table "cdrs" add column "to_received" text
alter table "cdrs" add column "emergency" integer default 0 not null
-- 0009_cdr_quality
alter table "cdrs" add column "gateway" text
alter table "cdrs" add column "pdd_ms" integer
alter table "cdrs" add column "q850" integer
alter table "cdrs" add column "mos" real
-- 0010_sell_prices
create table "account_prices" ("account" text not null references "accounts" ("name") on delete cascade, "prefix" text not null, "effective_at" bigint not null, "rate" bigint not null, "fee" bigint not null, "first_incr" integer not null, "next_incr" integer not null, constraint "account_prices_pk" primary key ("account", "prefix", "effective_at"))
alter table "accounts" add column "sell_below_cost" integer default 0 not null
alter table "cdrs" add column "price" bigint
-- 0011_cdr_legs
alter table "cdrs" add column "a_call_id" text
alter table "cdrs" add column "b_call_id" text
alter table "cdrs" add column "ring_ms" integer
alter table "cdrs" add column "duration_ms" integer
