/**
 * Structured logging: one JSON object per line on stderr, with a stable `msg` and fields, so
 * operators can grep and machines can parse. Invariant: log calls never throw.
 */
import { toRfc3339 } from '../proto/common.ts'
import { systemClock } from './clock.ts'

/** Log levels, in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/** A logger bound to a component name. */
export type Logger = {
  debug(msg: string, fields?: Record<string, unknown>): void
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
  child(component: string): Logger
}

/** A JSON-lines logger writing to `sink` (stderr by default) at `level` and above. */
export function createLogger(opts: {
  component: string
  level?: LogLevel
  now?: () => number
  sink?: (line: string) => void
}): Logger {
  const min = ORDER[opts.level ?? 'info']
  const now = opts.now ?? systemClock.now
  const sink = opts.sink ?? ((line: string) => process.stderr.write(line))
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>): void => {
    if (ORDER[level] < min) return
    try {
      const record = { ts: toRfc3339(now()), level, component: opts.component, msg, ...fields }
      sink(
        `${JSON.stringify(record, (_k, v) => (v instanceof Error ? v.message : typeof v === 'bigint' ? String(v) : v))}\n`
      )
    } catch {
      // Logging must never take the process down (e.g. a closed stderr).
    }
  }
  return {
    debug: (m, f) => emit('debug', m, f),
    info: (m, f) => emit('info', m, f),
    warn: (m, f) => emit('warn', m, f),
    error: (m, f) => emit('error', m, f),
    child: (component) => createLogger({ ...opts, component: `${opts.component}.${component}` }),
  }
}
