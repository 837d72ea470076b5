// The console's only way to the server: /api/v1 with the token the user
// logged in with (kept in sessionStorage for the tab's life). An API error
// becomes an ApiError carrying the server's own message.
const TOKEN_KEY = 'trunkline.token';

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export const getToken = (): string | null => sessionStorage.getItem(TOKEN_KEY);
export const setToken = (t: string | null): void =>
  t === null ? sessionStorage.removeItem(TOKEN_KEY) : sessionStorage.setItem(TOKEN_KEY, t);

/** Called when the server refuses the token (401): the app goes back to the login page. */
let onUnauthorized: () => void = () => {};
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

async function errorOf(res: Response, what: string): Promise<ApiError> {
  const text = await res.text();
  let message = `${what}: ${res.status}`;
  try {
    const body = JSON.parse(text) as { error?: unknown };
    if (typeof body.error === 'string') message = body.error;
  } catch {
    // not JSON: keep the status line
  }
  return new ApiError(res.status, message);
}

/** A raw request with the token; throws ApiError when not 2xx. */
export async function request(
  method: string,
  path: string,
  opts: { body?: unknown; accept?: string } = {},
): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${getToken() ?? ''}` };
  if (opts.body !== undefined) headers['content-type'] = 'application/json';
  if (opts.accept !== undefined) headers.accept = opts.accept;
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers,
    ...(opts.body !== undefined && { body: JSON.stringify(opts.body) }),
  });
  if (res.status === 401) {
    const err = await errorOf(res, `${method} ${path}`);
    onUnauthorized();
    throw new ApiError(401, `the token was refused: ${err.message}`);
  }
  if (!res.ok) throw await errorOf(res, `${method} ${path}`);
  return res;
}

/** JSON in, JSON out (null for a 204). */
export async function api<T = unknown>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await request(method, path, body === undefined ? {} : { body });
  const text = await res.text();
  return (text === '' ? null : JSON.parse(text)) as T;
}

export const enc = encodeURIComponent;

/** The /metrics text (no token needed), as name{labels} value samples. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export async function metrics(): Promise<Sample[]> {
  const res = await fetch('/metrics');
  if (!res.ok) throw new ApiError(res.status, `/metrics: ${res.status}`);
  const out: Sample[] = [];
  for (const line of (await res.text()).split('\n')) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null) continue;
    const labels = Object.fromEntries(
      [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1]!, x[2]!]),
    );
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

export const errorText = (err: unknown): string => (err instanceof Error ? err.message : String(err));
