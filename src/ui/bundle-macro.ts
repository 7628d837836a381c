/**
 * Build-time bundling of the dashboard's browser code (imported `with { type: 'macro' }`): runs
 * while Bun transpiles the server, so `bun build --compile` inlines the minified script into
 * the binary and nothing is read from disk at run time. Bun.build cannot run inside a macro (the
 * bundler waits on it), hence the `bun build` child process.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const CLIENT = join(import.meta.dir, 'client')

/** The minified browser bundle of `client/main.ts`. */
export function clientScript(): string {
  const r = Bun.spawnSync(
    [
      process.execPath,
      'build',
      join(CLIENT, 'main.ts'),
      '--minify',
      '--target=browser',
      '--format=esm',
    ],
    { env: { ...process.env, NO_COLOR: '1' } }
  )
  if (r.exitCode !== 0) throw new Error(`bundling the dashboard failed: ${r.stderr.toString()}`)
  return r.stdout.toString()
}

/** The dashboard's stylesheet. */
export function clientStyle(): string {
  return readFileSync(join(CLIENT, 'style.css'), 'utf8')
}
