/**
 * Notices the state database file deleted or replaced under the running CP. SQLite keeps
 * writing to the open (now nameless) inode, so every later commit would be lost at the next
 * start, silently. Policy: that is fatal — the CP stops and exits non-zero, and the restart opens
 * (or creates) the file the path names, rebuilding its memory from it — instead of serving on
 * from state no restart will see. Checked by `stat` on a cadence: a few microseconds per check.
 */
import { statSync } from 'node:fs'
import { every, type Worker } from './every.ts'

/** How often the database path is checked: a deletion is noticed within this. */
export const DB_WATCH_INTERVAL_MS = 1_000

/** Watches `path` (nothing for `:memory:`); calls `onGone` once when it no longer names the file opened. */
export function watchDatabaseFile(path: string, onGone: (error: Error) => void): Worker {
  if (path === ':memory:') return { stop() {} }
  const identity = (): string | undefined => {
    try {
      const st = statSync(path)
      return `${st.dev}:${st.ino}`
    } catch {
      return undefined
    }
  }
  const opened = identity()
  let reported = false
  const worker = every(
    DB_WATCH_INTERVAL_MS,
    () => {
      if (reported || identity() === opened) return
      reported = true
      onGone(new Error(`database file ${path} was deleted or replaced while the control plane ran`))
    },
    { unref: true }
  )
  return worker
}
