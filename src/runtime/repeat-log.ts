/**
 * Logging of lines a peer can provoke at will (a refused event, a refused synthesis): the first
 * occurrence of a key is logged, identical ones within `intervalMs` are only counted, and the
 * first one after the interval is logged with `repeated: <count suppressed>`. One hostile agent
 * posting refused events in a loop thus costs a line a minute, not a line a request.
 * Invariants: memory is bounded (`maxKeys`; the oldest key is forgotten first, its count lost);
 * nothing is ever dropped silently without being counted in `suppressed`.
 */
import type { Logger, LogLevel } from './log.ts'

/** A logger of repeatable lines. */
export type RepeatLog = {
  /** Logs `msg` unless the same `key` was logged less than the interval ago. */
  (level: LogLevel, key: string, msg: string, fields?: Record<string, unknown>): void
}

type Seen = { at: number; suppressed: number }

// Distinct keys are bounded by hosts × reasons; 10,000 covers a large fleet refusing at once.
const DEFAULT_MAX_KEYS = 10_000

/** A repeat-suppressing logger over `log`; `onSuppressed` counts each line not written. */
export function repeatLog(opts: {
  log: Logger
  intervalMs: number
  now: () => number
  onSuppressed?: (() => void) | undefined
  maxKeys?: number
}): RepeatLog {
  const seen = new Map<string, Seen>()
  const maxKeys = opts.maxKeys ?? DEFAULT_MAX_KEYS
  return (level, key, msg, fields = {}) => {
    const now = opts.now()
    const k = `${msg}\u0000${key}`
    const s = seen.get(k)
    if (s !== undefined && now - s.at < opts.intervalMs) {
      s.suppressed++
      opts.onSuppressed?.()
      return
    }
    const repeated = s?.suppressed ?? 0
    seen.delete(k)
    if (seen.size >= maxKeys) seen.delete(seen.keys().next().value!)
    seen.set(k, { at: now, suppressed: 0 })
    opts.log[level](msg, repeated > 0 ? { ...fields, repeated } : fields)
  }
}
