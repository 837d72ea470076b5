/**
 * The registry: every resource of /api/v1, one file each. To add one, write
 * `resources/NAME.ts` (see domains.ts for the shape) and add it here.
 */
import type { Resource } from '../resource.js';
import domains from './domains.js';
import subscribers from './subscribers.js';
import aliases from './aliases.js';
import location from './location.js';
import tokens from './tokens.js';
import accounts from './accounts.js';
import trunks from './trunks.js';
import dids from './dids.js';
import carriers from './carriers.js';
import routes from './routes.js';
import cdrs from './cdrs.js';
import calls from './calls.js';
import bans from './bans.js';
import rates from './rates.js';
import dialPlans from './dial-plans.js';

export const RESOURCES: readonly Resource[] = [
  domains,
  subscribers,
  aliases,
  location,
  tokens,
  accounts,
  trunks,
  dids,
  carriers,
  dialPlans,
  routes,
  rates,
  cdrs,
  calls,
  bans,
];
