/**
 * Crash-safe file primitives (the agent state directory, release files, keys). Every write that must survive
 * `kill -9` or power loss goes through `writeFileDurable`: tmp file + fsync + rename +
 * directory fsync, so a reader sees either the old bytes or the new ones, never a torn file.
 * Invariants: temporary files are named `.<name>.tmp` (dot-prefixed, never `*.json`), so every
 * scan that only looks at `*.json` ignores a write torn by a crash; calls are synchronous so the
 * reducer's ordering (events before state) is the order the disk sees.
 */
import {
  accessSync,
  closeSync,
  constants,
  fsyncSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs'
import { basename, dirname, join, resolve } from 'node:path'

/** The suffix of a temporary file being written; never matched by `*.json` scans. */
const TMP_SUFFIX = '.tmp'

/** The errno code of a filesystem error, or `undefined`. */
export function errnoOf(e: unknown): string | undefined {
  const code = (e as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** A short reason for a filesystem error ("ENOENT", "EACCES", …) for one-line messages. */
export function fsReason(e: unknown): string {
  const code = errnoOf(e)
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory'
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EROFS':
      return 'read-only file system'
    case 'ENOSPC':
      return 'no space left on device'
    case 'EISDIR':
      return 'is a directory'
    case 'ENOTDIR':
      return 'a parent is not a directory'
    default:
      return code ?? (e instanceof Error ? e.message : String(e))
  }
}

/** fsyncs a directory so renames and unlinks in it survive power loss. */
function syncDir(dir: string): void {
  let fd: number | undefined
  try {
    fd = openSync(dir, 'r')
    fsyncSync(fd)
  } catch {
    // Some filesystems refuse fsync on directories; the rename itself is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

/** Creates `dir` and its parents (mode 0700 for new directories). */
export function ensureDir(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 })
}

/** Writes `data` to `path` atomically and durably (tmp + fsync + rename + dir fsync). */
export function writeFileDurable(path: string, data: Uint8Array | string, mode = 0o600): void {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}${TMP_SUFFIX}`)
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
  try {
    const fd = openSync(tmp, 'w', mode)
    try {
      let off = 0
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
  } catch (e) {
    // Leave nothing half-written behind: the old file (if any) stays as it was.
    try {
      unlinkSync(tmp)
    } catch {
      // the temporary file may never have been created
    }
    throw e
  }
  syncDir(dir)
}

/** Renames `from` to `to` (creating `to`'s directory) and fsyncs both directories. */
export function moveDurable(from: string, to: string): void {
  ensureDir(dirname(to))
  renameSync(from, to)
  syncDir(dirname(to))
  if (dirname(from) !== dirname(to)) syncDir(dirname(from))
}

/** Removes `path` if it exists; true when something was removed. */
export function removeFile(path: string): boolean {
  try {
    unlinkSync(path)
    return true
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return false
    throw e
  }
}

/** Removes a directory tree if it exists. */
export function removeTree(path: string): void {
  rmSync(path, { recursive: true, force: true })
}

/** The bytes of `path`, or `undefined` when it does not exist. */
export function readFileIfExists(path: string): Uint8Array | undefined {
  try {
    return new Uint8Array(readFileSync(path))
  } catch (e) {
    if (errnoOf(e) === 'ENOENT') return undefined
    throw e
  }
}

/** The entry names of `dir` (empty when it does not exist), sorted. */
export function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort()
  } catch (e) {
    if (errnoOf(e) === 'ENOENT' || errnoOf(e) === 'ENOTDIR') return []
    throw e
  }
}

/** Deletes temporary files a crash left behind in `dir` (torn writes are never read). */
export function sweepTmpFiles(dir: string): number {
  let n = 0
  for (const name of listDir(dir)) {
    if (name.startsWith('.') && name.endsWith(TMP_SUFFIX)) {
      if (removeFile(join(dir, name))) n++
    }
  }
  return n
}

/**
 * Checks that `dir` exists (creating it) and that files can be created, synced and removed in
 * it; returns a one-line reason when not. Run at start so a read-only or foreign-owned state
 * directory stops the agent before it accepts any work.
 */
export function checkWritableDir(dir: string): string | undefined {
  try {
    ensureDir(dir)
    const probe = join(dir, `.write-check-${process.pid}${TMP_SUFFIX}`)
    writeFileDurable(probe, 'ok')
    unlinkSync(probe)
    return undefined
  } catch (e) {
    return fsReason(e)
  }
}

/**
 * Where `dir` (created with its parents if missing) could not be written, judged without
 * writing or creating anything (configuration checks): the nearest existing ancestor, and why;
 * `undefined` when it can be written.
 */
export function dirWriteProblem(dir: string): { at: string; reason: string } | undefined {
  for (let d = resolve(dir); ; d = dirname(d)) {
    try {
      if (!statSync(d).isDirectory()) return { at: d, reason: 'not a directory' }
      accessSync(d, constants.W_OK | constants.X_OK)
      return undefined
    } catch (e) {
      if (errnoOf(e) !== 'ENOENT' || dirname(d) === d) return { at: d, reason: fsReason(e) }
    }
  }
}
