/**
 * How the control plane's start-up fails: one `CpStartError` sentence naming the flag, file,
 * address or database (the command exits 2), built from what went wrong (`messageOf`).
 */

/** A start-up failure: one line naming the flag, file or address (the command exits 2). */
export class CpStartError extends Error {
  override readonly name = 'CpStartError'
}

/** The message of anything thrown. */
export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e))
