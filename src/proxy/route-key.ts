import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';

/** The file in the data directory that keeps the Record-Route stamp key across restarts. */
export const ROUTE_KEY_FILE = 'route-key';

/** The key file exists but does not hold a key. */
export class RouteKeyError extends Error {
  override readonly name = 'RouteKeyError';
}

/**
 * The secret of our Record-Route stamps (src/proxy/dialog-stamp.ts): read
 * from `<data>/route-key`, made there on first start (32 random bytes as
 * hex, file mode 0600). Dialogs outlive a restart, so the key must too: a
 * new key would make every dialog in progress unverifiable.
 */
export async function loadRouteKey(dataDir: string): Promise<Buffer> {
  const file = join(dataDir, ROUTE_KEY_FILE);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
    const made = `${randomBytes(32).toString('hex')}\n`;
    try {
      // 'wx': a server starting at the same moment on the same directory made one first: use that one.
      await writeFile(file, made, { mode: 0o600, flag: 'wx' });
      text = made;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      text = await readFile(file, 'utf8');
    }
  }
  const hex = text.trim();
  if (!/^[0-9a-fA-F]{64}$/.test(hex))
    throw new RouteKeyError(`${file}: expected 64 hex characters (remove the file to make a new key)`);
  return Buffer.from(hex, 'hex');
}
