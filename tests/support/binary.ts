/**
 * The compiled `nixfleet` executable for integration tests. `nixfleetBin()` returns the absolute
 * path of `dist/nixfleet`, first running `bun run build` in the repository root when the binary is
 * missing or older than any file under `src/` (or `package.json`, whose version it embeds).
 * Invariant: at most one build per test process; concurrent callers share the same promise.
 */
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'

/** The repository root (this file lives in `tests/support/`). */
export const REPO_ROOT: string = resolve(import.meta.dir, '..', '..')

const BIN_PATH = join(REPO_ROOT, 'dist', 'nixfleet')

function newestMtimeMs(path: string): number {
  const st = statSync(path)
  if (!st.isDirectory()) return st.mtimeMs
  let newest = st.mtimeMs
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtimeMs(join(path, entry)))
  return newest
}

function isStale(): boolean {
  if (!existsSync(BIN_PATH)) return true
  const built = statSync(BIN_PATH).mtimeMs
  const sources = Math.max(
    newestMtimeMs(join(REPO_ROOT, 'src')),
    newestMtimeMs(join(REPO_ROOT, 'package.json'))
  )
  return sources > built
}

async function build(): Promise<string> {
  if (!isStale()) return BIN_PATH
  const proc = Bun.spawn([process.execPath, 'run', 'build'], {
    cwd: REPO_ROOT,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  })
  const [out, err, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ])
  if (code !== 0 || !existsSync(BIN_PATH)) {
    throw new Error(`bun run build failed (exit ${code}):\n${out}\n${err}`)
  }
  return BIN_PATH
}

let pending: Promise<string> | undefined

/** The absolute path of `dist/nixfleet`, built once per test process when out of date. */
export function nixfleetBin(): Promise<string> {
  pending ??= build()
  return pending
}

/** Runs the compiled binary with `args`; its exit code and output. */
export async function runNixfleet(
  args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = Bun.spawn([await nixfleetBin(), ...args], { stdout: 'pipe', stderr: 'pipe' })
  const [stdout, stderr, code] = await Promise.all([
    new Response(p.stdout).text(),
    new Response(p.stderr).text(),
    p.exited,
  ])
  return { code, stdout, stderr }
}
