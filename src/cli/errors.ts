/**
 * The CLI's error type and exit-code contract: 0 success, 1 verification failed, 2 usage or
 * I/O error. Commands throw `CliError`; `main.ts` prints its one-line message (no stack).
 */

/** Exit code: success. */
export const EXIT_OK = 0
/** Exit code: a verification (signature, freshness, schema of a signed artifact) failed. */
export const EXIT_VERIFY_FAILED = 1
/** Exit code: bad usage, unreadable/invalid input or an I/O failure. */
export const EXIT_USAGE = 2

/** A failure to report as one line on stderr with the given exit code. */
export class CliError extends Error {
  override readonly name = 'CliError'
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE
  ) {
    super(message)
  }
}
