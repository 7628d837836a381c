/**
 * File I/O for the CLI with operator-grade errors: every failure names the file and the
 * problem in one line. Writes are atomic (tmp + fsync + rename + directory fsync) so a crash
 * never leaves a half-written artifact, key or signature behind.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { CliError } from './errors.ts'

function reason(e: unknown): string {
  const code = (e as { code?: string }).code
  switch (code) {
    case 'ENOENT':
      return 'no such file'
    case 'EACCES':
    case 'EPERM':
      return 'permission denied'
    case 'EISDIR':
      return 'is a directory'
    case 'ENOTDIR':
      return 'a parent is not a directory'
    default:
      return code ?? (e instanceof Error ? e.message : String(e))
  }
}

/** Reads a whole file, or throws `CliError` naming it ("-" reads stdin). */
export async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    if (path === '-') return new Uint8Array(await Bun.stdin.arrayBuffer())
    return new Uint8Array(readFileSync(path))
  } catch (e) {
    throw new CliError(`${what} ${path}: ${reason(e)}`)
  }
}

/** Reads a whole text file, or throws `CliError` naming it. */
export async function readText(path: string, what: string): Promise<string> {
  return new TextDecoder().decode(await readInput(path, what))
}

/** Writes `data` to `path` atomically with the given mode; throws `CliError` naming the file. */
export function writeAtomic(path: string, data: Uint8Array | string, mode = 0o644): void {
  const dir = dirname(path)
  const tmp = join(dir, `.${basename(path)}.tmp-${process.pid}`)
  try {
    const fd = openSync(tmp, 'w', mode)
    try {
      const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data
      let off = 0
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off)
      fsyncSync(fd)
    } finally {
      closeSync(fd)
    }
    renameSync(tmp, path)
    syncDir(dir)
  } catch (e) {
    try {
      unlinkSync(tmp)
    } catch {
      // the temp file may not exist; nothing to clean up then
    }
    throw new CliError(`cannot write ${path}: ${reason(e)}`)
  }
}

/** fsyncs a directory so a rename in it survives power loss. */
export function syncDir(dir: string): void {
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
