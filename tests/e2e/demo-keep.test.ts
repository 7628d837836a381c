/**
 * `nixfleet demo --keep DIR` leaves a running fleet and `DIR/operator.toml` (0600) whose README
 * says to `export NIXFLEET_CONFIG=DIR/operator.toml`: the operator commands then read the demo
 * fleet — every host converged on release 3, the failing canary's closure quarantined — and
 * Ctrl-C stops the demo with exit 0.
 */
import { afterEach, expect, setDefaultTimeout, test } from 'bun:test'
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { nixfleetBin } from '../support/binary.ts'
import { until } from './support.ts'

setDefaultTimeout(180_000)

let demo: ReturnType<typeof Bun.spawn> | undefined
let dir = ''
afterEach(async () => {
  demo?.kill('SIGINT')
  await demo?.exited
  demo = undefined
  rmSync(dir, { recursive: true, force: true })
})

test('demo --keep writes operator.toml; the operator commands read the running demo fleet', async () => {
  const bin = await nixfleetBin()
  dir = mkdtempSync(join(tmpdir(), 'nixfleet-demo-keep-'))
  const keep = join(dir, 'demo')
  demo = Bun.spawn([bin, 'demo', '--keep', keep, '--hosts', '6', '--no-color'], {
    stdout: 'ignore',
    stderr: 'ignore',
    stdin: 'ignore',
  })
  await until('the demo README', () => existsSync(join(keep, 'README.md')), 150_000)
  const config = join(keep, 'operator.toml')
  expect(statSync(config).mode & 0o777).toBe(0o600)
  expect(readFileSync(join(keep, 'README.md'), 'utf8')).toContain(
    `export NIXFLEET_CONFIG=${config}`
  )
  const env = { PATH: process.env['PATH'] ?? '', HOME: dir, NIXFLEET_CONFIG: config }
  const run = (args: string[]) => {
    const r = Bun.spawnSync([bin, ...args, '--json'], { env })
    if (r.exitCode !== 0) throw new Error(`${args.join(' ')}: ${r.stderr.toString()}`)
    return JSON.parse(r.stdout.toString()) as Record<string, unknown[]>
  }
  const status = run(['status']) as { hosts: { converged: boolean }[]; channels: unknown[] }
  expect(status.channels).toHaveLength(3)
  expect(status.hosts).toHaveLength(6)
  for (const h of status.hosts) expect(h.converged).toBe(true)
  expect(run(['quarantine', 'list'])['quarantines']).toHaveLength(1)
  demo.kill('SIGINT')
  expect(await demo.exited).toBe(0)
  demo = undefined
})
