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

export const RESOURCES: readonly Resource[] = [
  domains,
  subscribers,
  aliases,
  location,
  tokens,
  // accounts, trunks, dids, carriers, routes, bans, calls, cdrs: added with their modules.
];
