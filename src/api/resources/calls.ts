/**
 * /api/v1/calls: the live calls of the running B2BUA (`trunkline calls`);
 * DELETE /api/v1/calls/SID hangs one up (BYE to both sides, CDR "Hung up by
 * operator"). Served only in a server with a B2BUA (ApiContext.calls). The
 * ladder of a live or recent call is GET /api/v1/calls/SID/trace (src/api/extra-routes.ts).
 */
import type { LiveCall } from '../../b2bua/b2bua.js';
import { NotFoundError } from '../../store/errors.js';
import { callViews as v, type CallJson } from '../shapes.js';
import { defineResource } from '../resource.js';
import { isoTime as iso } from '../../store/json.js';

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
  list: { run: async (ctx) => ctx.calls!.list().map((c) => out(c, ctx.now())) },
  get: async (ctx, key) => {
    const c = ctx.calls!.list().find((x) => x.callSid === key);
    if (c === undefined) throw new NotFoundError(`unknown call ${key} (not live)`);
    return out(c, ctx.now());
  },
  remove: {
    run: async (ctx, key) => {
      if (!ctx.calls!.hangUp(key)) throw new NotFoundError(`unknown call ${key} (not live)`);
    },
  },
});
