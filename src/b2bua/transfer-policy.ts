/** What the B2BUA does with a REFER inside a call (transfers.ts). */
export const TRANSFER_POLICIES = ['refuse', 'relay', 'perform'] as const;
export type TransferPolicyName = (typeof TRANSFER_POLICIES)[number];

/** One override of `trunking.transfer.overrides`: for REFERs from one trunk or carrier. */
export interface TransferOverride {
  trunk?: string | undefined;
  carrier?: string | undefined;
  policy: TransferPolicyName;
}

/** `trunking.transfer` as the config gives it (src/config/schema.ts checks it). */
export interface TransferConfig {
  policy: TransferPolicyName;
  overrides: TransferOverride[];
}

/**
 * Which policy a REFER (or an INVITE with Replaces) from a trunk or a
 * carrier meets: the server-wide one, or the override naming it. A config
 * reload replaces them for the requests to come.
 */
export class TransferPolicy {
  private base: TransferPolicyName = 'relay';
  private readonly byName = new Map<string, TransferPolicyName>();

  constructor(config: TransferConfig) {
    this.update(config);
  }

  update(config: TransferConfig): void {
    this.base = config.policy;
    this.byName.clear();
    for (const o of config.overrides)
      this.byName.set(o.trunk !== undefined ? `trunk:${o.trunk}` : `carrier:${o.carrier ?? ''}`, o.policy);
  }

  /** The policy for a request from a trunk or carrier (`name` null: unknown, the server-wide one). */
  forParty(kind: 'trunk' | 'carrier', name: string | null): TransferPolicyName {
    return (name === null ? undefined : this.byName.get(`${kind}:${name}`)) ?? this.base;
  }
}
