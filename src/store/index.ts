/**
 * The store's public face: open it, its repositories, their types and errors.
 * See README.md in this directory.
 */
export {
  DATABASE_URL_ENV,
  SQLITE_BUSY_TIMEOUT_MS,
  maskUrl,
  openStore,
  resolveDatabaseConfig,
  type Store,
  type StoreDialect,
  type StoreOptions,
} from './db.js';
export { StoreContext } from './context.js';
export {
  ConflictError,
  NotFoundError,
  StaleRegistrationError,
  StoreError,
  TrunkRangeError,
  ValidationError,
} from './errors.js';
export type { Database } from './schema.js';
export { aorOf, normalizeAor, normalizeDomain, parseAddress, parseAlias } from './validate.js';
export type { Domain, DomainRemoval } from './repos/domains.js';
export {
  ha1Md5,
  ha1Sha256,
  type Subscriber,
  type SubscriberAuth,
  type SubscriberRemoval,
} from './repos/subscribers.js';
export type { Alias, AliasMatch } from './repos/aliases.js';
export {
  BINDING_PROTOS,
  holdsFlow,
  type BindingOwner,
  type BindingProto,
  type LocationBinding,
  type LocationWrite,
  type NewBinding,
} from './repos/location.js';
export type { AccountInput, AccountRemoval } from './repos/accounts.js';
export type { TrunkInput, TrunkRemoval, TrunkWriteOptions } from './repos/trunks.js';
export type { DidRow } from './repos/dids.js';
export type { DialPlanInput } from './repos/dial-plans.js';
export { withoutSecret, type CarrierInfo, type CarrierInput } from './repos/carriers.js';
export { CDR_DEFAULT_LIMIT, CDR_MAX_LIMIT, type CdrPage } from './repos/cdrs.js';
export {
  RATE_DEFAULT_LIMIT,
  RATE_MAX_LIMIT,
  type RateDeck,
  type RateImportResult,
  type RateInfo,
  type RateListFilter,
  type RateShow,
} from './repos/rate-types.js';
