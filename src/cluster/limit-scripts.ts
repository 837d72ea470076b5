/**
 * The Lua of the shared call limits (shared-limits.ts). Every script takes
 * its time from Redis (`TIME`), so the nodes' clocks never matter, and runs
 * whole: no other command comes between its reads and its writes.
 *
 *   tl:cpm:SCOPE    ZSET  NODE|CALLSID -> start (ms): the calls started in the last minute
 *   tl:lease:SCOPE  ZSET  NODE|CALLSID -> lease expiry (ms): the calls up
 *
 * A lease whose expiry passed is no call (its node died or lost Redis): the
 * scripts drop it before they count. Keys expire (PEXPIRE) once nothing in
 * them can count any more, so the keys of idle scopes vanish.
 */

const NOW = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

/**
 * Admits one call in every scope or in none.
 * KEYS: per scope, outermost first: its cpm key, its lease key.
 * ARGV: member, lease ms, then per scope: cpm limit, max calls (-1: no limit).
 * Returns {0, now} when admitted, else {scope index (1-based), 'cpm' | 'concurrent', Retry-After seconds}.
 */
export const ADMIT_LUA = `${NOW}
local member, lease = ARGV[1], tonumber(ARGV[2])
local n = #KEYS / 2
for i = 1, n do
  local cpmKey, leaseKey = KEYS[2 * i - 1], KEYS[2 * i]
  local cpm, max = tonumber(ARGV[1 + 2 * i]), tonumber(ARGV[2 + 2 * i])
  redis.call('ZREMRANGEBYSCORE', leaseKey, '-inf', now)
  if max >= 0 and redis.call('ZCARD', leaseKey) >= max then return {i, 'concurrent', 5} end
  if cpm >= 0 then
    redis.call('ZREMRANGEBYSCORE', cpmKey, '-inf', now - 60000)
    if redis.call('ZCARD', cpmKey) >= cpm then
      local oldest = redis.call('ZRANGE', cpmKey, 0, 0, 'WITHSCORES')
      local retry = 60
      if oldest[2] then retry = math.max(1, math.ceil((tonumber(oldest[2]) + 60000 - now) / 1000)) end
      return {i, 'cpm', retry}
    end
  end
end
for i = 1, n do
  local cpmKey, leaseKey = KEYS[2 * i - 1], KEYS[2 * i]
  if tonumber(ARGV[1 + 2 * i]) >= 0 then
    redis.call('ZADD', cpmKey, now, member)
    redis.call('PEXPIRE', cpmKey, 61000)
  end
  redis.call('ZADD', leaseKey, now + lease, member)
  redis.call('PEXPIRE', leaseKey, lease + 1000)
end
return {0, now}
`;

/**
 * Ends calls: each member leaves its keys (set membership: a second release
 * changes nothing). KEYS: every key named. ARGV: per release (key index, member).
 */
export const RELEASE_LUA = `
for i = 1, #ARGV, 2 do redis.call('ZREM', KEYS[tonumber(ARGV[i])], ARGV[i + 1]) end
return 0
`;

/**
 * A node's calls told to Redis: `renew` pushes the expiry of leases still
 * held (one that lapsed or vanished is counted as missing, not added);
 * `assert` adds them all and the node's call starts of the last minute
 * (NX, at their age: after a Redis restart or an outage). Both remove the
 * members of calls that ended while Redis could not be told.
 * KEYS: every key named. ARGV: lease ms, mode, #leases, #starts, #removals,
 * then per lease (key index, member), per start (key index, member, age ms),
 * per removal (key index, member). Returns the number of missing leases.
 */
export const SYNC_LUA = `${NOW}
local lease, renew = tonumber(ARGV[1]), ARGV[2] == 'renew'
local nl, ns, nr = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local a, missing = 6, 0
local leased, started = {}, {}
for _ = 1, nl do
  local k, m = KEYS[tonumber(ARGV[a])], ARGV[a + 1]
  a = a + 2
  if renew then
    local s = redis.call('ZSCORE', k, m)
    if s and tonumber(s) > now then redis.call('ZADD', k, now + lease, m) else missing = missing + 1 end
  else
    redis.call('ZADD', k, now + lease, m)
  end
  leased[k] = true
end
for _ = 1, ns do
  local k, m, age = KEYS[tonumber(ARGV[a])], ARGV[a + 1], tonumber(ARGV[a + 2])
  a = a + 3
  if age < 60000 then
    redis.call('ZADD', k, 'NX', now - age, m)
    started[k] = true
  end
end
for _ = 1, nr do
  redis.call('ZREM', KEYS[tonumber(ARGV[a])], ARGV[a + 1])
  a = a + 2
end
for k in pairs(leased) do
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now)
  redis.call('PEXPIRE', k, lease + 1000)
end
for k in pairs(started) do
  redis.call('ZREMRANGEBYSCORE', k, '-inf', now - 60000)
  redis.call('PEXPIRE', k, 61000)
end
return missing
`;

/** A scope's figures. KEYS: its cpm key, its lease key. Returns {calls up, calls started in the last minute}. */
export const USAGE_LUA = `${NOW}
return {redis.call('ZCOUNT', KEYS[2], '(' .. now, '+inf'), redis.call('ZCOUNT', KEYS[1], '(' .. (now - 60000), '+inf')}
`;
