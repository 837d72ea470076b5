/**
 * The store's typed errors. Each message is one line meant for a user as is
 * (the CLI prints it, the API returns it as `{"error": ...}`); `status` is the
 * HTTP status the API answers with.
 *
 * - NotFoundError: a named object is missing (`unknown domain example.org`).
 * - ConflictError: the object exists, or others depend on it
 *   (`subscriber alice@example.org exists`).
 * - ValidationError: a bad value; `field` names it and the message starts
 *   with it (`domain: expected a host name or IP address, got "a b"`).
 * - StoreError (the base): opening, connecting, migrating.
 */
export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  /** The HTTP status an API answers with. */
  readonly status: number = 500;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message.replace(/[\r\n]+/g, ' '), options);
  }
}

export class NotFoundError extends StoreError {
  override readonly name: string = 'NotFoundError';
  override readonly status: number = 404;
}

export class ConflictError extends StoreError {
  override readonly name: string = 'ConflictError';
  override readonly status: number = 409;
}

/**
 * A trunk range that would hold a carrier gateway's address or every
 * address (src/trunking/ranges.ts): refused unless forced. `problem` is the
 * reason without the hint, for a caller that names its own force option.
 */
export class TrunkRangeError extends ConflictError {
  override readonly name: string = 'TrunkRangeError';
  readonly field = 'ip';
  readonly problem: string;

  constructor(problem: string) {
    super(`ip: ${problem}; force adds it anyway`);
    this.problem = problem;
  }
}

/**
 * A REGISTER that would change a binding last set by the same Call-ID with a
 * CSeq not below its own (RFC 3261 10.3 step 7): the update is aborted and
 * nothing is written.
 */
export class StaleRegistrationError extends ConflictError {
  override readonly name: string = 'StaleRegistrationError';
}

export class ValidationError extends StoreError {
  override readonly name: string = 'ValidationError';
  override readonly status: number = 400;
  /** The field (CLI argument, JSON key) holding the bad value. */
  readonly field: string;

  constructor(field: string, problem: string) {
    super(`${field}: ${problem}`);
    this.field = field;
  }
}

/** A unique or primary key constraint failed (SQLite or PostgreSQL). */
export function isUniqueViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** A foreign key constraint failed (SQLite or PostgreSQL). */
export function isForeignKeyViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** The message of anything thrown, on one line. */
export function messageOf(err: unknown): string {
  let msg: string;
  if (err instanceof AggregateError && err.message === '' && err.errors.length > 0) {
    msg = [...new Set(err.errors.map(messageOf))].join('; ');
  } else if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    msg = err.message || (typeof code === 'string' ? code : err.name);
  } else {
    msg = String(err);
  }
  return msg.replace(/[\r\n]+/g, ' ');
}
