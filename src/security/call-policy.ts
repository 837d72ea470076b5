/**
 * The call policy: the security edge's rules that need a call's direction,
 * asked by the trunking stage once it classified the call
 * (src/b2bua/planner.ts; the request pipeline ran the direction-less steps
 * before routing, src/security/pipeline.ts):
 *
 *  - inbound (carrier -> customer): the access lists for an INVITE inbound;
 *  - outbound (trunk -> PSTN): the access lists for an INVITE outbound, then
 *    the `dest` black/white lists on the normalised number (E.164), then
 *    call barring by time of day (`security.callBarring`).
 *
 * Each answers null (allowed) or the reason phrase of the 403.
 */
import type { AclDirection, AclVerdict } from './acl.js';
import type { BarringVerdict } from './call-barring.js';
import type { ListVerdict } from './lists.js';

export interface CallPolicy {
  /** An inbound call from a carrier gateway at `ip`: null, or why not. */
  inbound(ip: string): string | null;
  /** An outbound call from `trunk` of `account` at `ip` to `dialled` (E.164): null, or why not. */
  outbound(ip: string, account: string, trunk: string, dialled: string): string | null;
}

/** The checks of the security edge the policy combines (src/security/service.ts: they read its current config). */
export interface CallChecks {
  checkAcl(ip: string, method: string, direction: AclDirection): AclVerdict;
  checkDestination(dialled: string): ListVerdict | null;
  checkBarring(account: string | null, trunk: string | null, dialled: string): BarringVerdict;
}

export class SecurityCallPolicy implements CallPolicy {
  constructor(private readonly checks: CallChecks) {}

  inbound(ip: string): string | null {
    const v = this.checks.checkAcl(ip, 'INVITE', 'inbound');
    return v.allowed ? null : v.reason;
  }

  outbound(ip: string, account: string, trunk: string, dialled: string): string | null {
    if (!this.checks.checkAcl(ip, 'INVITE', 'outbound').allowed) return 'Forbidden';
    if (this.checks.checkDestination(dialled) !== null) return 'Destination barred';
    return this.checks.checkBarring(account, trunk, dialled).barred ? 'Call barred at this time' : null;
  }
}
