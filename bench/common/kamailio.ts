/**
 * Kamailio as a benchmark peer: its binary, module path, command line
 * (test/helpers/kamailio.ts: -DD -E -m -M -x tlsf, as its production users
 * run it) and a config template whose `#!substdef` values are set per run.
 * Started as a Child (own process group, log file), so the whole tree of
 * forked workers is measured and stopped together.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { kamailioArgs, kamailioBinary, kamailioModulePath } from '../../test/helpers/kamailio.js';
import { Child } from './children.js';

/** The kamailio binary, or undefined when it is not installed. */
export function findKamailio(): string | undefined {
  return kamailioBinary() ?? undefined;
}

/** Where Kamailio's modules are; throws a clear error when tm.so is nowhere. */
export function requireModulePath(): string {
  const p = kamailioModulePath();
  if (p === null)
    throw new Error(
      'Kamailio modules (tm.so) not found: install the Debian package kamailio (scripts/install-deps.sh)',
    );
  return p;
}

/** Sets the value of `#!substdef "!NAME!value!"` lines of the template. */
export function substdef(cfg: string, values: Record<string, string>): string {
  let out = cfg;
  for (const [name, value] of Object.entries(values)) {
    if (value.includes('!')) throw new Error(`substdef value for ${name} must not contain '!'`);
    const re = new RegExp(`^#!substdef "!${name}!.*!"$`, 'm');
    if (!re.test(out)) throw new Error(`kamailio template has no substdef line for ${name}`);
    out = out.replace(re, `#!substdef "!${name}!${value}!"`);
  }
  return out;
}

/**
 * Writes the template with its substdef values (BENCH_MPATH, the module
 * path, is filled in) to dir/kamailio.cfg and starts Kamailio on it with
 * 256 MB shared and 32 MB private memory.
 */
export function startKamailioFromTemplate(o: {
  kamailio: string;
  template: string;
  dir: string;
  values: Record<string, string>;
}): { child: Child; args: string[] } {
  const cfg = substdef(readFileSync(o.template, 'utf8'), { ...o.values, BENCH_MPATH: requireModulePath() });
  const file = join(o.dir, 'kamailio.cfg');
  writeFileSync(file, cfg);
  const args = kamailioArgs(file, { sharedMb: 256, privateMb: 32 });
  const child = new Child('kamailio', o.kamailio, args, join(o.dir, 'kamailio.log'), o.dir);
  return { child, args };
}
