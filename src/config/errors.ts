/**
 * The one error type of configuration: a bad key or value, an unreadable file,
 * a YAML syntax error. Its message is one line starting `config:`; the CLI
 * prints it as is and exits 2.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** Each problem found, without the `config: ` prefix (the message joins them). */
  readonly problems: readonly string[];
  /** The file being read, when there was one. */
  readonly file: string | undefined;

  constructor(problems: string | readonly string[], file?: string) {
    const list = typeof problems === 'string' ? [problems] : [...problems];
    super(`config: ${list.join('; ')}`.replace(/[\r\n]+/g, ' '));
    this.problems = list;
    this.file = file;
  }
}
