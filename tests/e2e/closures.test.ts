/**
 * Closure availability end to end (compiled binary: control plane, one agent per host, mTLS on
 * loopback, a binary cache directory served over HTTP): a host whose target closure has no
 * narinfo in the cache is held with a sentence saying what to push, shows the `closure-missing`
 * problem, is counted in `nixfleet_cp_closures_missing` and is never dispatched (its closure never
 * switched to), while a host whose closure is there converges; once CI pushes the narinfo the
 * held host proceeds, with no restart of anything.
 */
import { afterAll, describe, expect, setDefaultTimeout, test } from 'bun:test'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { narinfoName } from '../../src/runtime/binary-cache.ts'
import { serveDir } from '../support/binary-cache.ts'
import * as e2e from './support.ts'

const {
  converged,
  cpMetric,
  dispatchesOf,
  eventsOf,
  hostsOf,
  logOf,
  planPassAfterNow,
  rid,
  until,
} = e2e

// One fleet of processes on a loaded 2-core machine; a pushed closure is re-checked within 30 s.
setDefaultTimeout(240_000)
const env = e2e.labPerTest()

const cacheDir = mkdtempSync(join(tmpdir(), 'nixfleet-e2e-cache-'))
afterAll(() => rmSync(cacheDir, { recursive: true, force: true }))

/** What `nix copy --to` leaves for a closure: its narinfo (the NAR itself is not fetched here). */
function push(dir: string, closure: string): void {
  mkdirSync(dir, { recursive: true })
  writeFileSync(
    join(dir, narinfoName(closure)),
    [
      `StorePath: /nix/store/${closure}`,
      'URL: nar/17gd6zzlkx90irc6qawagdkgh1d7qvlnq46yjf7xiqw9ycz7zq4a.nar.xz',
      'Compression: xz',
      'NarHash: sha256:04zwf782yjwnh3q6hz5izfd6jyip8kgw6g6yj43fiqhbyhdd0dqw',
      'NarSize: 120',
      'References: ',
      '',
    ].join('\n')
  )
}

type Row = {
  problem: { kind: string; message: string } | null
  gate: { gate: string; reason: string } | null
}

describe('closure availability', () => {
  test('a missing closure holds its host until it is pushed; a present one converges', async () => {
    const l = (env.lab = await e2e.makeLab({
      channels: [
        { name: 'stable', soakMinutes: [0], onHealthFailure: 'halt', freshnessWindow: 1440 },
      ],
      hosts: [
        { name: 'web-01', channel: 'stable', wave: 0 },
        { name: 'web-02', channel: 'stable', wave: 0 },
      ],
    }))
    const closures = {
      'web-01': l.closure('web-01', 'web-01'),
      'web-02': l.closure('web-02', 'web-02'),
    }
    const http = serveDir(cacheDir)
    try {
      push(cacheDir, closures['web-02'])
      const commit = await l.release(closures)
      const id = rid('stable', commit)
      await l.startControlPlane(['--closure-check-url', http.url])
      for (const h of l.hosts.keys()) l.startAgent(h)
      expect(logOf(l, 'control-plane')).toContain('closure availability check on')

      await until('web-02 converged', () => converged(l, commit, ['web-02']), 90_000)
      const row = await until('web-01 held for its closure', async () => {
        const r = (await hostsOf(l))['web-01'] as unknown as Row
        return r.gate?.gate === 'closure-availability' && r.problem !== null ? r : undefined
      })
      const short = `${closures['web-01'].slice(0, 8)}…-nixos-system-web-01`
      expect(row.gate?.reason).toBe(
        `web-01 waits: closure ${short} not in ${http.url}; push it with nix copy`
      )
      expect(row.problem).toMatchObject({
        kind: 'closure-missing',
        message: `closure ${closures['web-01']} not in ${http.url}; push it with nix copy`,
      })
      expect(await cpMetric(l, 'nixfleet_cp_closures_missing{channel="stable"}')).toBe(1)
      expect(
        await cpMetric(
          l,
          'nixfleet_cp_host_problem{channel="stable",host="web-01",problem="closure-missing"}'
        )
      ).toBe(1)
      // Never dispatched, never switched to, while the narinfo is missing.
      await planPassAfterNow(l)
      expect(dispatchesOf(await eventsOf(l, id), 'web-01')).toEqual([])
      expect(l.switchCount('web-01', closures['web-01'])).toBe(0)
      expect(http.requests).toContain(`HEAD /${narinfoName(closures['web-01'])}`)

      // CI pushes it: the held host proceeds.
      push(cacheDir, closures['web-01'])
      await until('web-01 converged', () => converged(l, commit, ['web-01']), 120_000)
      expect(l.switchCount('web-01', closures['web-01'])).toBe(1)
      expect(await cpMetric(l, 'nixfleet_cp_closures_missing{channel="stable"}')).toBe(0)
      expect(((await hostsOf(l))['web-01'] as unknown as Row).problem).toBeNull()
    } finally {
      http.stop()
    }
  })

  test('without a cache configured the check is off, and says so', async () => {
    const l = (env.lab = await e2e.makeLab({
      channels: [
        { name: 'stable', soakMinutes: [0], onHealthFailure: 'halt', freshnessWindow: 1440 },
      ],
      hosts: [{ name: 'web-01', channel: 'stable', wave: 0 }],
    }))
    const commit = await l.release({ 'web-01': l.closure('web-01', 'web-01') })
    await l.startControlPlane()
    l.startAgent('web-01')
    await until('web-01 converged', () => converged(l, commit, ['web-01']), 90_000)
    expect(logOf(l, 'control-plane')).toContain('closure availability check off')
  })
})
