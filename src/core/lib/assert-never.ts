/**
 * Exhaustiveness helper for `switch` statements over closed unions (states, events, effects).
 * Invariant: reaching it at runtime means a value escaped the type system (e.g. an unvalidated
 * wire value); it throws because that is a programming error, never a domain error.
 */

/** The exhaustiveness check: a compile error when a union member is unhandled. */
export function assertNever(value: never, what = 'value'): never {
  throw new Error(`unexpected ${what}: ${JSON.stringify(value)}`)
}
