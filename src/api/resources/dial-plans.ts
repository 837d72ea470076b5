/**
 * /api/v1/dialplans: how trunks' PBXs and carriers write numbers (`trunkline
 * dialplan`, src/trunking/dial-plan.ts): country code, national and
 * international prefixes, the format numbers are sent in, the emergency
 * numbers and the rewrite rules. A trunk or carrier names its plan
 * (`dialPlan`). PATCH changes the fields given; DELETE refused (409) while
 * a trunk or carrier uses the plan.
 */
import { dialPlanViews as v } from '../shapes.js';
import { defineResource } from '../resource.js';
import { dialPlanJson as out } from '../../store/json.js';
import { patchDialPlan } from '../patch.js';

export default defineResource({
  name: 'dialplans',
  key: 'name',
  description: 'dial plans: how trunks and carriers write numbers, and their emergency numbers',
  object: v.object,
  list: { run: async (ctx) => (await ctx.store.dialPlans.list()).map(out) },
  get: async (ctx, key) => out(await ctx.store.dialPlans.show(key)),
  create: {
    body: v.create,
    run: async (ctx, b) =>
      out(
        await ctx.store.dialPlans.add({
          name: b.name,
          country: b.country,
          nationalPrefix: b.nationalPrefix ?? null,
          internationalPrefix: b.internationalPrefix ?? null,
          format: b.format ?? null,
          emergency: b.emergency ?? null,
          rules: (b.rules ?? []).map((r) => ({ ...r, direction: r.direction ?? 'in' })),
        }),
      ),
  },
  update: {
    body: v.patch,
    run: async (ctx, key, b) => out(await patchDialPlan(ctx.store, key, b)),
  },
  remove: {
    run: async (ctx, key) => {
      await ctx.store.dialPlans.rm(key);
    },
  },
});
