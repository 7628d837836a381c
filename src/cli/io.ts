/**
 * File I/O for the CLI with operator-grade errors: every failure names the file and the
 * problem in one line. Writes are atomic (tmp + fsync + rename + directory fsync) so a crash
 * never leaves a half-written artifact, key or signature behind.
 */
import { readFileSync } from 'node:fs'
import { fsReason, writeFileDurable } from '../runtime/durable-fs.ts'
import { CliError } from './errors.ts'

/** Reads a whole file, or throws `CliError` naming it ("-" reads stdin). */
export async function readInput(path: string, what: string): Promise<Uint8Array> {
  try {
    if (path === '-') return new Uint8Array(await Bun.stdin.arrayBuffer())
    return new Uint8Array(readFileSync(path))
  } catch (e) {
    throw new CliError(`${what} ${path}: ${fsReason(e)}`)
  }
}

/** Reads a whole text file, or throws `CliError` naming it. */
export async function readText(path: string, what: string): Promise<string> {
  return new TextDecoder().decode(await readInput(path, what))
}

/** Writes `data` to `path` atomically with the given mode; throws `CliError` naming the file. */
export function writeAtomic(path: string, data: Uint8Array | string, mode = 0o644): void {
  try {
    writeFileDurable(path, data, mode)
  } catch (e) {
    throw new CliError(`cannot write ${path}: ${fsReason(e)}`)
  }
}
