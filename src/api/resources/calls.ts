/**
 * /api/v1/calls: the live calls of the running B2BUA (`trunkline calls`);
 * DELETE /api/v1/calls/SID hangs one up (BYE to both sides, CDR "Hung up by
 * operator"). Served only in a server with a B2BUA (ApiContext.calls). In a
 * cluster: every live node's calls, each with its node, and a hang-up of
 * any of them (503 when the call is not here and Redis cannot be reached).
 * The ladder of a live or recent call is GET /api/v1/calls/SID/trace (src/api/extra-routes.ts).
 */
import type { LiveCall } from '../../b2bua/b2bua.js';
import { NotFoundError } from '../../store/errors.js';
import { callViews as v, type CallJson } from '../shapes.js';
import { defineResource } from '../resource.js';
import { isoTime as iso } from '../../store/json.js';
import { RedisUnavailableError } from '../../cluster/errors.js';
import { ApiError } from '../errors.js';

const out = (c: LiveCall, now: number): CallJson => ({
  ...c,
  startAt: iso(c.startAt),
  answerAt: c.answerAt === null ? null : iso(c.answerAt),
  seconds: Math.max(0, Math.round((now - c.startAt) / 1000)),
});

export default defineResource({
  name: 'calls',
  key: 'callSid',
  description: 'live calls (DELETE hangs one up)',
  object: v.object,
  available: (ctx) => ctx.calls !== undefined,
  list: { run: async (ctx) => (await ctx.calls!.list()).map((c) => out(c, ctx.now())) },
  get: async (ctx, key) => {
    const c = (await ctx.calls!.list()).find((x) => x.callSid === key);
    if (c === undefined) throw new NotFoundError(`unknown call ${key} (not live)`);
    return out(c, ctx.now());
  },
  remove: {
    run: async (ctx, key) => {
      let found: boolean;
      try {
        found = await ctx.calls!.hangUp(key);
      } catch (err) {
        if (err instanceof RedisUnavailableError)
          throw new ApiError(503, `call ${key} is not on this node: ${err.message}`);
        throw err;
      }
      if (!found) throw new NotFoundError(`unknown call ${key} (not live)`);
    },
  },
});
