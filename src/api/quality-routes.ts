/**
 * Carrier quality (src/trunking/quality.ts) over the API:
 *
 *   GET /api/v1/quality                  every carrier's and gateway's rolling ASR, NER, ACD,
 *                                        PDD, MOS, demotion and history (one point a minute)
 *   GET /api/v1/carriers/NAME/quality    one carrier's, with its gateways'
 *
 * Times are ISO 8601. The figures are the running server's own (404 from
 * an API without a B2BUA).
 */
import type { FastifyInstance } from 'fastify';
import type { EntityQuality, QualityConfig, QualityPoint, QualitySnapshot } from '../trunking/quality.js';
import { checkName } from '../trunking/validate.js';
import { ApiError } from './errors.js';
import type { ApiContext } from './resource.js';

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** One carrier's or gateway's figures as the API answers them: times in ISO 8601. */
export type QualityEntityJson = Omit<EntityQuality, 'demotedUntil' | 'history'> & {
  demotedUntil: string | null;
  history: Array<Omit<QualityPoint, 'at'> & { at: string }>;
};

/** GET /api/v1/quality. */
export interface QualityJson {
  config: QualityConfig;
  carriers: QualityEntityJson[];
  gateways: QualityEntityJson[];
}

function entityJson(q: EntityQuality): QualityEntityJson {
  return {
    ...q,
    demotedUntil: iso(q.demotedUntil),
    history: q.history.map((p) => ({ ...p, at: new Date(p.at).toISOString() })),
  };
}

function snapshotJson(s: QualitySnapshot): QualityJson {
  return { config: s.config, carriers: s.carriers.map(entityJson), gateways: s.gateways.map(entityJson) };
}

export function registerQualityRoutes(v1: FastifyInstance, ctx: ApiContext): void {
  const read = (): QualitySnapshot => {
    if (ctx.quality === undefined) throw new ApiError(404, 'quality: not a running server');
    return ctx.quality();
  };
  v1.get('/quality', async () => snapshotJson(read()));
  v1.get('/carriers/:key/quality', async (req) => {
    const name = checkName((req.params as { key: string }).key, 'carrier');
    await ctx.store.carriers.show(name); // NotFoundError: 404 unknown carrier
    const s = read();
    const carrier = s.carriers.find((c) => c.carrier === name);
    return {
      carrier: name,
      quality: carrier === undefined ? null : entityJson(carrier),
      gateways: s.gateways.filter((g) => g.carrier === name).map(entityJson),
    };
  });
}

const figures = 'attempts, answered, asr and ner (percent), acd (s), pdd (ms), mos, demotedUntil, demotedFor, history';

export const QUALITY_PATHS: Record<string, unknown> = {
  '/api/v1/quality': {
    get: {
      summary: `carriers' and gateways' rolling quality figures and demotions (${figures}), and the thresholds`,
      responses: { 200: { description: '{config, carriers: [...], gateways: [...]}' } },
    },
  },
  '/api/v1/carriers/{name}/quality': {
    get: {
      summary: "one carrier's quality figures and its gateways'",
      parameters: [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
      responses: {
        200: { description: '{carrier, quality (null before its first attempt), gateways}' },
        404: { description: 'unknown carrier' },
      },
    },
  },
};
