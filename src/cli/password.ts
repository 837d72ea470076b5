/**
 * `--password-stdin`: the password is the first line of standard input, its
 * line break (LF or CRLF) stripped. Never an option value: a password on
 * the command line shows in `ps` and shell history.
 */
import { CliError } from './store.js';

/** The most we read looking for the first line break. */
const MAX_INPUT = 64 * 1024;

export type PasswordInput = NodeJS.ReadableStream & { isTTY?: boolean; destroy?(): unknown };

/**
 * Reads the password from `input` (standard input by default). A CliError
 * naming `password` when the input is a terminal, missing, or its first line
 * is empty.
 */
export async function readPasswordFromStdin(input: PasswordInput = process.stdin): Promise<string> {
  if (input.isTTY === true) {
    throw new CliError('password: --password-stdin reads standard input, which is a terminal: pipe the password in');
  }
  const text = await new Promise<string>((resolve, reject) => {
    let buf = '';
    const finish = (err?: Error): void => {
      input.off('data', onData);
      input.off('end', onEnd);
      input.off('error', onError);
      input.pause();
      input.destroy?.();
      if (err !== undefined) reject(err);
      else resolve(buf);
    };
    const onData = (chunk: string): void => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl >= 0) {
        buf = buf.slice(0, nl);
        finish();
      } else if (buf.length > MAX_INPUT) {
        finish(new CliError(`password: no line break in the first ${MAX_INPUT} bytes of standard input`));
      }
    };
    const onEnd = (): void => finish();
    const onError = (err: Error): void => finish(new CliError(`password: cannot read standard input: ${err.message}`));
    input.setEncoding('utf8');
    input.on('data', onData);
    input.on('end', onEnd);
    input.on('error', onError);
  });
  const password = text.endsWith('\r') ? text.slice(0, -1) : text;
  if (password === '') throw new CliError('password: no password on standard input (its first line is empty)');
  return password;
}
