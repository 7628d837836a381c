/**
 * Pre-fetch end to end (compiled binary, agents with `--prefetch`): while the canary of wave 0
 * soaks, the wave-1 host realises its target closure in the background — the hosts view shows it
 * `prefetched` while it is still Pending, the rollout's event log records `HostPrefetched` before
 * its dispatch, and the CP counts it (`nixfleet_cp_closures_prefetched_total{before_dispatch}`);
 * when its wave opens it switches once. An agent without the flag never prefetches.
 */
import { describe, expect, setDefaultTimeout, test } from 'bun:test'
import * as e2e from './support.ts'

const { converged, cpMetric, dispatchesOf, eventsOf, hostsOf, logOf, rid, until } = e2e

// A one-minute soak on a loaded 2-core machine.
setDefaultTimeout(240_000)
const env = e2e.labPerTest()

type Row = { rolloutState: string | null; prefetched?: boolean }

describe('prefetch', () => {
  test('a host waiting for its wave fetches its closure before the wave opens', async () => {
    const l = (env.lab = await e2e.makeLab({
      channels: [
        { name: 'stable', soakMinutes: [1, 0], onHealthFailure: 'halt', freshnessWindow: 1440 },
      ],
      hosts: [
        { name: 'canary', channel: 'stable', wave: 0 },
        { name: 'web-01', channel: 'stable', wave: 1 },
      ],
    }))
    const closures = Object.fromEntries(
      [...l.hosts.keys()].map((h) => [h, l.closure(h, `r1-${h}`)])
    )
    const commit = await l.release(closures)
    const id = rid('stable', commit)
    await l.startControlPlane()
    l.startAgent('canary')
    l.startAgent('web-01', ['--prefetch'])

    const row = await until(
      'web-01 prefetched while Pending',
      async () => {
        const r = (await hostsOf(l))['web-01'] as unknown as Row
        return r.prefetched === true ? r : undefined
      },
      60_000
    )
    expect(row.rolloutState).toBe('Pending')
    expect(logOf(l, 'agent-web-01')).toContain('closure prefetched')
    expect(await cpMetric(l, 'nixfleet_cp_closures_prefetched_total{before_dispatch="true"}')).toBe(
      1
    )
    // The canary runs without the flag: nothing prefetched there.
    expect(((await hostsOf(l))['canary'] as unknown as Row).prefetched).toBe(false)
    expect(logOf(l, 'agent-canary')).not.toContain('closure prefetched')

    await until('web-01 converged', () => converged(l, commit, ['web-01']), 150_000)
    const events = await eventsOf(l, id)
    const prefetched = events.filter(
      (e) => e.kind === 'effect' && e.host === 'web-01' && e.payload.effect === 'HostPrefetched'
    )
    expect(prefetched).toHaveLength(1)
    expect(prefetched[0]!.payload).toMatchObject({
      closure: closures['web-01'],
      beforeDispatch: true,
    })
    const dispatched = dispatchesOf(events, 'web-01')
    expect(dispatched).toHaveLength(1)
    expect(prefetched[0]!.seq).toBeLessThan(dispatched[0]!.seq)
    expect(l.switchCount('web-01', closures['web-01']!)).toBe(1)
    // Switched to: no longer shown as prefetched.
    expect(((await hostsOf(l))['web-01'] as unknown as Row).prefetched).toBe(false)
  })
})
