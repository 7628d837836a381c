/**
 * Structured logging: one JSON object per line on stderr, with a stable `msg` and fields, so
 * operators can grep and machines can parse. Each line starts with its syslog priority, `<3>`
 * (error) … `<7>` (debug), which journald strips and records as the entry's priority
 * (`SyslogLevelPrefix=`, on by default), so `journalctl -u nixfleet-agent -p warning` filters.
 * Invariants: log calls never throw; the prefix is the only text outside the JSON object
 * (`parseLogLine` reads a line back).
 */
import { toRfc3339 } from '../proto/common.ts'
import { systemClock } from './clock.ts'

/** Log levels, in increasing severity. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

/** The syslog priority of each level (RFC 5424: 3 err, 4 warning, 6 info, 7 debug). */
export const SYSLOG_PRIORITY: Readonly<Record<LogLevel, number>> = {
  debug: 7,
  info: 6,
  warn: 4,
  error: 3,
}

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
      const json = JSON.stringify(record, (_k, v) =>
        v instanceof Error ? v.message : typeof v === 'bigint' ? String(v) : v
      )
      sink(`<${SYSLOG_PRIORITY[level]}>${json}\n`)
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

const PRIORITY_PREFIX = /^<([0-7])>/

/** A log line read back: its syslog priority and its JSON record; `undefined` if not one. */
export function parseLogLine(
  line: string
): { priority: number; record: Record<string, unknown> } | undefined {
  const m = PRIORITY_PREFIX.exec(line)
  if (m === null) return undefined
  try {
    const record: unknown = JSON.parse(line.slice(m[0].length))
    if (typeof record !== 'object' || record === null || Array.isArray(record)) return undefined
    return { priority: Number(m[1]), record: record as Record<string, unknown> }
  } catch {
    return undefined
  }
}

// Keys whose values are secrets (a key's PEM, a token); keys naming a file or path are not.
const SECRET_KEY = /(keypem|privatekey|token|secret|password|passphrase)$/i
const NAMES_A_FILE = /(path|file|dir)$/i
// Credentials in a URL's userinfo (`https://user:pass@forge/...`).
const URL_USERINFO = /^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i

/**
 * `config` as the start line logs it: values under secret keys replaced by `[redacted]`, PEM
 * blocks by `[pem]` (long, and the certificate's file is what an operator recognises),
 * credentials in URLs by `[redacted]`, functions dropped.
 */
export function redactConfig(config: unknown): unknown {
  if (typeof config === 'string') {
    if (config.startsWith('-----BEGIN')) return '[pem]'
    return config.replace(URL_USERINFO, '$1[redacted]@')
  }
  if (Array.isArray(config)) return config.map(redactConfig)
  if (config instanceof Uint8Array) return '[redacted]'
  if (typeof config !== 'object' || config === null) return config
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(config)) {
    if (typeof v === 'function') continue
    out[k] = SECRET_KEY.test(k) && !NAMES_A_FILE.test(k) ? '[redacted]' : redactConfig(v)
  }
  return out
}
