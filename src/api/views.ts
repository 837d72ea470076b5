/**
 * The three views of one object schema (src/api/shapes.ts):
 *   object  what GET returns: every field but the writeOnly ones
 *   create  the POST body: every field but the readOnly ones, unknown refused
 *   patch   the PATCH body: like create, without the key, every field optional
 *
 * readOnly fields (times, derived parts) are not accepted, writeOnly ones
 * (a password) are accepted but never returned, and the key cannot be
 * patched. Imports nothing but zod: the console's build reads the types.
 */
import { z } from 'zod';

function mask<K extends PropertyKey>(keys: readonly K[]): Record<K, true> {
  return Object.fromEntries(keys.map((k) => [k, true])) as Record<K, true>;
}

export function views<
  Sh extends z.ZodRawShape,
  K extends keyof Sh & string,
  RO extends keyof Sh & string = never,
  WO extends keyof Sh & string = never,
>(schema: z.ZodObject<Sh>, o: { key: K; readOnly?: readonly RO[]; writeOnly?: readonly WO[] }) {
  const ro = o.readOnly ?? [];
  const wo = o.writeOnly ?? [];
  const object = schema.omit(mask(wo) as never) as unknown as z.ZodObject<Omit<Sh, WO>>;
  const create = z.strictObject(schema.omit(mask(ro) as never).shape) as unknown as z.ZodObject<
    Omit<Sh, RO>,
    z.core.$strict
  >;
  const patch = z.strictObject(schema.omit(mask([...ro, o.key]) as never).partial().shape) as unknown as z.ZodObject<
    { [F in Exclude<keyof Sh, RO | K>]: z.ZodOptional<Sh[F]> },
    z.core.$strict
  >;
  return { object, create, patch };
}
