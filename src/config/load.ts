/**
 * Finding, reading and checking the config file.
 *
 *   loadConfig({file, env, cwd})  --config FILE, else $TRUNKLINE_CONFIG, else
 *                                 ./trunkline.yaml if present, else defaults
 *   parseConfig(text, baseDir)    YAML text -> TrunklineConfig (or ConfigError)
 *
 * Relative paths in the file (data, database, tls.*, routing.module) are resolved against the
 * directory of the file; with no file, against the working directory.
 */
import { readFile, stat } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from './errors.js';
import { configSchema, showValue, type DatabaseConfig, type RawConfig, type TrunklineConfig } from './schema.js';

export { ConfigError } from './errors.js';
export type { TrunklineConfig } from './schema.js';

/** The environment variable naming the config file. */
export const CONFIG_ENV = 'TRUNKLINE_CONFIG';
/** Read from the working directory when neither --config nor the variable is given. */
export const DEFAULT_CONFIG_FILE = 'trunkline.yaml';

export interface LoadConfigOptions {
  /** --config FILE (relative to cwd). */
  file?: string;
  /** Defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Defaults to process.cwd(). */
  cwd?: string;
}

/**
 * The config file to read for these options: absolute path, or undefined when
 * the embedded defaults apply. An explicitly named file must exist (checked by
 * the read); ./trunkline.yaml is used only if it is there.
 */
export async function findConfigFile(opts: LoadConfigOptions = {}): Promise<string | undefined> {
  const cwd = opts.cwd ?? process.cwd();
  const env = opts.env ?? process.env;
  const named = opts.file ?? (env[CONFIG_ENV] !== undefined && env[CONFIG_ENV] !== '' ? env[CONFIG_ENV] : undefined);
  if (named !== undefined) return resolve(cwd, named);
  const local = resolve(cwd, DEFAULT_CONFIG_FILE);
  try {
    if ((await stat(local)).isFile()) return local;
  } catch {
    // not there: the embedded defaults apply
  }
  return undefined;
}

/** Finds, reads and checks the config; throws ConfigError. */
export async function loadConfig(opts: LoadConfigOptions = {}): Promise<TrunklineConfig> {
  const cwd = opts.cwd ?? process.cwd();
  const file = await findConfigFile(opts);
  if (file === undefined) return parseConfig('', cwd);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${describeFsError(err)}`, file);
  }
  return parseConfig(text, dirname(file), file);
}

/**
 * YAML text to config. `baseDir` anchors relative paths; `source` (the file's
 * path, if any) is recorded in the result and in errors.
 */
export function parseConfig(yamlText: string, baseDir: string, source?: string): TrunklineConfig {
  const data = parseYaml(yamlText, source);
  const result = configSchema.safeParse(data, { reportInput: true, error: describeIssue });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues), source);
  return finalizeConfig(result.data, resolve(baseDir), source);
}

/** The config with nothing set: what `trunkline serve` runs on without a file. */
export function defaultConfig(cwd: string = process.cwd()): TrunklineConfig {
  return parseConfig('', cwd);
}

function parseYaml(text: string, source: string | undefined): unknown {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  const err = doc.errors[0];
  if (err !== undefined) {
    const pos = err.linePos?.[0];
    const where = pos !== undefined ? `line ${pos.line}, column ${pos.col}` : 'somewhere';
    // yaml's pretty message is "REASON at line L, column C:\n\nCODE FRAME"; keep the reason.
    const reason = (err.message.split('\n')[0] ?? '').replace(/ at line \d+, column \d+:?\s*$/, '').trim();
    throw new ConfigError(`YAML syntax error at ${where}: ${reason}`, source);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new ConfigError(`YAML error: ${e instanceof Error ? e.message : String(e)}`, source);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new ConfigError(`expected a mapping of keys at the top level, got ${showValue(value)}`, source);
  }
  return dropNulls(value);
}

/** `key:` with no value means "not set", as if the key were absent. */
function dropNulls(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(dropNulls);
  if (v !== null && typeof v === 'object' && !(v instanceof Date) && !(v instanceof Uint8Array)) {
    const out: Record<string, unknown> = {};
    for (const [k, val] of Object.entries(v)) if (val !== null) out[k] = dropNulls(val);
    return out;
  }
  return v;
}

/** `media.ports`, `listen[1]`, `routes[0].match.user`. */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out;
}

/** Message for zod's own issues (types of objects and lists); leaf values word their own. */
function describeIssue(iss: z.core.$ZodRawIssue): string | undefined {
  const got = showValue(iss.input);
  switch (iss.code) {
    case 'invalid_type':
      if (iss.expected === 'object') return `expected a mapping of keys, got ${got}`;
      if (iss.expected === 'array') return `expected a list, got ${got}`;
      return `expected ${iss.expected}, got ${got}`;
    case 'too_small':
      return iss.origin === 'array'
        ? `expected at least ${String(iss.minimum)} item(s), got ${got}`
        : `expected at least ${String(iss.minimum)}, got ${got}`;
    case 'too_big':
      return iss.origin === 'array'
        ? `expected at most ${String(iss.maximum)} item(s), got ${got}`
        : `expected at most ${String(iss.maximum)}, got ${got}`;
    case 'invalid_value':
      return `expected ${iss.values.map((v) => String(v)).join('|')}, got ${got}`;
    default:
      return undefined;
  }
}

function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const unknown: string[] = [];
  const other: string[] = [];
  for (const iss of issues) {
    if (iss.code === 'unrecognized_keys') {
      for (const k of iss.keys) unknown.push(`unknown key "${formatKeyPath([...iss.path, k])}"`);
    } else {
      const key = formatKeyPath(iss.path);
      other.push(key === '' ? iss.message : `${key}: ${iss.message}`);
    }
  }
  // Typos first: an unknown key often explains a missing value elsewhere.
  return [...unknown, ...other];
}

/** The schema's output with what depends on where the file is: absolute paths, the database. */
function finalizeConfig(raw: RawConfig, baseDir: string, source: string | undefined): TrunklineConfig {
  const data = resolve(baseDir, raw.data);
  const { tls, routing } = raw;
  return {
    ...raw,
    ...(routing.module !== undefined && { routing: { ...routing, module: resolve(baseDir, routing.module) } }),
    ...(source !== undefined && { source }),
    data,
    database: resolveDatabase(raw.database, baseDir, data),
    tls: {
      ...tls,
      ...(tls.cert !== undefined && { cert: resolve(baseDir, tls.cert) }),
      ...(tls.key !== undefined && { key: resolve(baseDir, tls.key) }),
      ...(tls.ca !== undefined && { ca: resolve(baseDir, tls.ca) }),
    },
  };
}

function resolveDatabase(url: string | undefined, baseDir: string, data: string): DatabaseConfig {
  if (url === undefined) return { kind: 'sqlite', file: join(data, 'trunkline.db') };
  if (/^postgres(ql)?:\/\//i.test(url)) return { kind: 'postgres', url };
  let file = url.slice('sqlite:'.length).trim();
  if (file.startsWith('//')) file = file.slice(2); // sqlite:///abs/path
  return { kind: 'sqlite', file: file === ':memory:' ? file : resolve(baseDir, file) };
}

function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}
