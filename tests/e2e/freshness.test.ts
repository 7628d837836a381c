/**
 * The freshness contract end to end (compiled binary: control plane, one agent per host, mTLS on
 * loopback): a canary soak longer than what is left of the manifest's freshness window. While
 * the manifest is expired the control plane dispatches nothing and says why ("CI must re-sign"),
 * even after the soak is over and once its poller refuses the manifest too; once CI re-signs (`nixfleet release --resign`, same content, new
 * signedAt) the same rollout continues: no new rollout, no second dispatch to the canary.
 * The channel's window is one minute (the unit is minutes), so the release is signed 30 s in the
 * past: it expires 30 s later, well inside the canary's one-minute soak.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import { join } from 'node:path'
import type { Lab } from '../../src/lab/lab.ts'
import * as e2e from './support.ts'

const { converged, dispatchesOf, eventsOf, hostsOf, lifecycleOf, planPassAfterNow, rid, until } =
  e2e

// One fleet of processes through a one-minute soak on a loaded 2-core machine.
setDefaultTimeout(240_000)
const env = e2e.labPerTest()

type Channel = { rolloutId: string; signedAt: string; stale: boolean; gates: string[] }
const channelOf = async (l: Lab): Promise<Channel> =>
  (await l.api<Channel>('/v1/channels/stable')).body

/** The gate holding `host` now, if any. */
const gateOf = async (l: Lab, host: string) =>
  ((await hostsOf(l))[host] as { gate?: { gate: string; reason: string } } | undefined)?.gate

/** `nixfleet release --resign` on the lab's release directory, as a CI timer runs it. */
async function resign(l: Lab): Promise<void> {
  const p = Bun.spawn(
    [
      l.opts.bin,
      'release',
      '--resign',
      '--key',
      join(l.layout.keys, 'ci-release.key'),
      '--release-dir',
      l.layout.releases,
    ],
    { stdout: 'pipe', stderr: 'pipe' }
  )
  const [err, code] = await Promise.all([new Response(p.stderr).text(), p.exited])
  if (code !== 0) throw new Error(`release --resign exited ${code}: ${err}`)
}

describe('freshness', () => {
  test('an expired manifest holds the rollout with "CI must re-sign"; a re-sign continues the same rollout', async () => {
    const l = (env.lab = await e2e.makeLab({
      channels: [
        { name: 'stable', soakMinutes: [1, 0], onHealthFailure: 'halt', freshnessWindow: 1 },
      ],
      hosts: [
        { name: 'canary', channel: 'stable', wave: 0 },
        { name: 'web-1', channel: 'stable', wave: 1 },
      ],
    }))
    const closures = Object.fromEntries(
      [...l.hosts.keys()].map((h) => [h, l.closure(h, `r1-${h}`, { kind: 'ok' })])
    )
    const signedAt = new Date(Date.now() - 30_000).toISOString().slice(0, 19) + 'Z'
    const commit = await l.release(closures, { signedAt })
    const id = rid('stable', commit)
    await l.startControlPlane()
    for (const h of l.hosts.keys()) l.startAgent(h)

    await until(
      'the canary soaking',
      async () => (await hostsOf(l))['canary']?.rolloutState === 'Soaking',
      60_000
    )
    // The CP starts the soak when it sees the activation, which is before this point.
    const soakOverAt = Date.now() + 60_000

    // Expired: the control plane says so, per channel and per held host.
    const sentence = await until(
      'web-1 held by the freshness gate',
      async () => {
        const g = await gateOf(l, 'web-1')
        return g?.gate === 'freshness' ? g.reason : undefined
      },
      60_000
    )
    expect(sentence).toMatch(
      /^stable waits: manifest expired at \d\d:\d\d:\d\d \(signed \d\d:\d\d:\d\d, window 1m\); CI must re-sign: nixfleet release --resign$/
    )
    expect(await channelOf(l)).toMatchObject({ rolloutId: id, stale: true, gates: [sentence] })

    // Without a re-sign nothing moves, even once the soak is over.
    await until('the canary soak is over', () => Date.now() > soakOverAt, 90_000)
    await planPassAfterNow(l)
    expect((await gateOf(l, 'web-1'))?.gate).toBe('freshness')
    expect(dispatchesOf(await eventsOf(l, id), 'web-1')).toEqual([])

    // Nor once the poller, too, refuses the expired manifest: the rollout stays held and named.
    await until(
      'the poller refusing the manifest as Stale',
      async () =>
        (await l.api<{ manifest: { lastError: { kind: string } | null } }>('/v1/channels/stable'))
          .body.manifest.lastError?.kind === 'Stale',
      90_000
    )
    await planPassAfterNow(l)
    expect(await gateOf(l, 'web-1')).toMatchObject({ gate: 'freshness' })
    expect(await channelOf(l)).toMatchObject({ rolloutId: id, stale: true })

    // CI re-signs: the same rollout continues where it stood.
    await resign(l)
    await l.refresh()
    await until('web-1 converged', () => converged(l, commit, ['web-1']), 60_000)
    await until('the rollout Terminal', async () => (await lifecycleOf(l, id)) === 'Terminal')
    const channel = await channelOf(l)
    expect(channel).toMatchObject({ rolloutId: id, stale: false })
    expect(Date.parse(channel.signedAt)).toBeGreaterThan(Date.parse(signedAt))
    const events = await eventsOf(l, id)
    expect(dispatchesOf(events, 'canary')).toHaveLength(1)
    expect(dispatchesOf(events, 'web-1')).toHaveLength(1)
    const opened = events.filter(
      (e) => e.kind === 'plan_action' && e.payload.action === 'OpenRollout'
    )
    expect(opened).toHaveLength(1)
  })
})
