/**
 * The `cluster:` key of the config file. Absent: one node alone, as before.
 *
 * ```yaml
 * cluster:
 *   redis: redis://127.0.0.1:6379/0          # or {sentinels: [redis://h1:26379, ...], name: mymaster}
 *   node: edge-a                             # unique per node; default: the host name
 *   onRedisDown: reject                      # or local: limits shared out as limit/N
 * ```
 *
 * A cluster needs a shared store (`database: postgres://...`): load.ts
 * refuses SQLite with a line that says so.
 */
import { z } from 'zod';
import { hostname } from 'node:os';
import { leaf } from '../config/leaf.js';

function isRedisUrl(s: string, schemes: readonly string[]): boolean {
  try {
    const u = new URL(s);
    return schemes.includes(u.protocol) && u.hostname !== '';
  } catch {
    return false; // TypeError: not a URL, the message names the key
  }
}

const redisUrl = leaf('a redis:// or rediss:// URL', (v) =>
  typeof v === 'string' && isRedisUrl(v, ['redis:', 'rediss:']) ? v : undefined,
);

const sentinelUrl = leaf('a redis://HOST:PORT URL of a sentinel', (v) =>
  typeof v === 'string' && isRedisUrl(v, ['redis:', 'rediss:']) ? v : undefined,
);

/** Node ids go into Redis keys and SIP parameters: a token. */
const nodeId = leaf('a node name of letters, digits, ".", "_" or "-" (at most 64)', (v) =>
  typeof v === 'string' && /^[A-Za-z0-9._-]{1,64}$/.test(v) ? v : undefined,
);

const sentinelSchema = z.strictObject({
  sentinels: z.array(sentinelUrl).min(1, { error: 'expected at least one sentinel URL' }),
  /** The master's name the sentinels watch. */
  name: leaf('the master name the sentinels watch', (v) => (typeof v === 'string' && v !== '' ? v : undefined)),
  db: leaf('a database number 0-15', (v) =>
    typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 15 ? v : undefined,
  ).default(0),
  password: leaf('a password', (v) => (typeof v === 'string' ? v : undefined)).optional(),
});

export const ON_REDIS_DOWN = ['reject', 'local'] as const;
export type OnRedisDown = (typeof ON_REDIS_DOWN)[number];

/** A node name from the host name, cut to what nodeId allows. */
export function defaultNodeId(host = hostname()): string {
  const id = host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 64);
  return id === '' ? 'node' : id;
}

export const clusterSchema = z
  .strictObject({
    redis: z.union([redisUrl, sentinelSchema]),
    node: nodeId.default(() => defaultNodeId()),
    onRedisDown: leaf(ON_REDIS_DOWN.join('|'), (v) =>
      typeof v === 'string' && (ON_REDIS_DOWN as readonly string[]).includes(v) ? (v as OnRedisDown) : undefined,
    ).default('reject'),
  })
  .optional();

export type ClusterConfig = NonNullable<z.output<typeof clusterSchema>>;
export type RedisTarget = ClusterConfig['redis'];
