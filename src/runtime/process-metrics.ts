/**
 * The standard `process_*` series of the Prometheus client libraries, for both daemons:
 * resident memory, CPU seconds, open and maximum file descriptors, start time. Read at scrape
 * time from the runtime and `/proc/self` (Linux); a series whose source is unavailable (another
 * OS) is left out rather than reported as 0.
 * Invariant: never throws.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { familyHeader, sampleLine } from './prometheus.ts'

// Unix time the process started: the runtime's time origin is the process start.
const STARTED_SECS = Math.floor(performance.timeOrigin) / 1000

function openFds(): number | undefined {
  try {
    // The directory listing holds one descriptor itself while it is read.
    return readdirSync('/proc/self/fd').length - 1
  } catch {
    return undefined
  }
}

function maxFds(): number | undefined {
  try {
    const m = /^Max open files\s+(\d+)/m.exec(readFileSync('/proc/self/limits', 'utf8'))
    return m === null ? undefined : Number(m[1])
  } catch {
    return undefined
  }
}

/** The exposition lines of the process metrics, now. */
export function processMetricLines(): string[] {
  const out: string[] = []
  const add = (name: string, type: 'counter' | 'gauge', help: string, v: number | undefined) => {
    if (v === undefined || !Number.isFinite(v)) return
    out.push(...familyHeader(name, type, help), sampleLine(name, '', v))
  }
  const cpu = process.cpuUsage()
  add(
    'process_cpu_seconds_total',
    'counter',
    'Total user and system CPU time spent in seconds.',
    (cpu.user + cpu.system) / 1e6
  )
  add(
    'process_resident_memory_bytes',
    'gauge',
    'Resident memory size in bytes.',
    process.memoryUsage.rss()
  )
  add('process_open_fds', 'gauge', 'Number of open file descriptors.', openFds())
  add('process_max_fds', 'gauge', 'Maximum number of open file descriptors.', maxFds())
  add(
    'process_start_time_seconds',
    'gauge',
    'Start time of the process since unix epoch in seconds.',
    STARTED_SECS
  )
  return out
}
