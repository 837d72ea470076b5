/** The package version, for the OpenAPI document and `trunkline --version` (package.json sits three levels above dist/src/api/). */
import { readFileSync } from 'node:fs';

let cached: string | undefined;

export function packageVersion(): string {
  if (cached !== undefined) return cached;
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    cached = pkg.version ?? '0.0.0';
  } catch {
    cached = '0.0.0'; // no package.json beside the build (dist copied alone): no version to tell
  }
  return cached;
}
