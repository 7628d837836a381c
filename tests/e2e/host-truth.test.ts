/**
 * End-to-end host truth: the hosts view shows a host's new closure as soon as it switches (long
 * before its next periodic heartbeat), keeps its record after the rollout closes, and names the
 * one problem that keeps a host from moving — a dispatch refused as Stale (also named in the gate
 * sentence of the wave it holds), a revoked certificate, a stopped agent, a host that never
 * enrolled — within a heartbeat interval of the CP being able to know it.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Lab } from '../../src/lab/lab.ts'
import { converged, hostsOf, logOf, makeLab, revokeInNewRelease, rid, until } from './support.ts'

// Each scenario runs a whole fleet of processes on a loaded 2-core machine.
setDefaultTimeout(180_000)

let lab: Lab | undefined
afterEach(async () => {
  await lab?.close()
  lab = undefined
})

type Problem = { kind: string; message: string; since: string | null } | null
type Row = {
  currentClosure: string | null
  lastSeenAt: string | null
  lastRollout: { id: string; outcome: string | null } | null
  enrolment: { state: string; at: string | null; reason: string | null }
  certificate: { serial: string; notAfter: string; revoked: boolean } | null
  problem: Problem
  gate: { gate: string; reason: string } | null
}
const rowOf = async (l: Lab, host: string): Promise<Row> =>
  (await hostsOf(l))[host] as unknown as Row

/** Waits until `host` shows a problem of `kind`; that problem. */
const problemShows = (l: Lab, host: string, kind: string, timeoutMs: number) =>
  until(
    `${host} to show a ${kind} problem`,
    async () => {
      const p = (await rowOf(l, host)).problem
      return p?.kind === kind ? p : undefined
    },
    timeoutMs
  )

const plan = (hosts: readonly [string, number][]) => ({
  channels: [
    {
      name: 'stable',
      soakMinutes: [0, 0],
      onHealthFailure: 'halt' as const,
      freshnessWindow: 1440,
    },
  ],
  hosts: hosts.map(([name, wave]) => ({ name, channel: 'stable', wave })),
})

const closuresFor = (l: Lab, release: string, hosts = [...l.hosts.keys()]) =>
  Object.fromEntries(hosts.map((h) => [h, l.closure(h, `${release}-${h}`)]))

// The CP is told the agents' interval, so "offline" means three of them without a word.
const HEARTBEAT_SECS = 1

describe('host truth', () => {
  test('a switch shows in the hosts view at once, not at the next heartbeat, and stays after the rollout closes', async () => {
    lab = await makeLab(plan([['web-1', 0]]))
    const l = lab
    const before = l.currentClosure('web-1')
    const r1 = closuresFor(l, 'r1')
    const c1 = await l.release(r1)
    await l.startControlPlane()
    // One boot heartbeat, then none for ten minutes: only the switch itself can tell the CP.
    l.startAgent('web-1', ['--heartbeat-interval-secs', '600'])
    await until('the boot heartbeat reported the old closure', async () =>
      (await rowOf(l, 'web-1')).currentClosure === before ? true : undefined
    )
    await until(
      'the hosts view shows the new closure',
      async () => (await rowOf(l, 'web-1')).currentClosure === r1['web-1'],
      60_000
    )
    expect(l.currentClosure('web-1')).toBe(r1['web-1']!)
    await until('web-1 converged', () => converged(l, c1, ['web-1']))
    await until(
      'the rollout closed and its outcome is kept',
      async () => {
        const row = (await hostsOf(l))['web-1']!
        return (
          row.rolloutState === null && (row as unknown as Row).lastRollout?.outcome === 'converged'
        )
      },
      30_000
    )
    const row = await rowOf(l, 'web-1')
    expect(row.lastRollout).toEqual({ id: rid('stable', c1), outcome: 'converged' })
    expect(row.problem).toBeNull()
    expect(row.enrolment.state).toBe('enrolled')
    expect(row.certificate?.revoked).toBe(false)
    const detail = await l.api<{ closureHistory: { closure: string; rolloutId: string | null }[] }>(
      '/v1/hosts/web-1'
    )
    expect(detail.status).toBe(200)
    expect(detail.body.closureHistory.map((c) => c.closure)).toEqual([r1['web-1']!, before])
    expect((await l.api('/v1/hosts/nobody')).status).toBe(404)
  })

  test('a dispatch refused as Stale is the host problem, and the gate sentence names it', async () => {
    lab = await makeLab(
      plan([
        ['web-1', 0],
        ['web-2', 1],
      ])
    )
    const l = lab
    // Signed two hours ago: the channel's window (a day) lets the CP adopt and dispatch it, the
    // agent's own window (an hour) refuses it.
    const signedAt = new Date(Date.now() - 2 * 3600_000).toISOString().replace(/\.\d+Z$/, 'Z')
    await l.release(closuresFor(l, 'r1'), { signedAt })
    await l.startControlPlane(['--heartbeat-interval-secs', String(HEARTBEAT_SECS)])
    for (const h of l.hosts.keys()) l.startAgent(h, ['--manifest-freshness-window-secs', '3600'])
    await until(
      'web-1 refused its dispatch',
      async () => logOf(l, 'agent-web-1').includes('"msg":"dispatch refused"'),
      60_000
    )
    const refusedAt = performance.now()
    const p = await problemShows(l, 'web-1', 'refused-dispatch', 10_000)
    // The next heartbeat carries it: within one interval (plus a loaded machine's slack).
    expect(performance.now() - refusedAt).toBeLessThan(HEARTBEAT_SECS * 1000 + 5_000)
    expect(p.message).toStartWith('refused: Stale: ')
    expect((await rowOf(l, 'web-2')).problem).toBeNull()
    await until(
      'the wave gate names web-1 and its problem',
      async () =>
        (await rowOf(l, 'web-2')).gate?.reason === 'wave 1 waits: web-1 Pending (refused: Stale)',
      10_000
    )
    const only = await l.api<{ hosts: { hostname: string }[] }>('/v1/hosts?problem=1')
    expect(only.body.hosts.map((h) => h.hostname)).toEqual(['web-1'])
  })

  test('a revoked host, a stopped agent and a host that never enrolled each show their problem', async () => {
    lab = await makeLab(
      plan([
        ['web-1', 0],
        ['web-2', 0],
        ['web-3', 0],
      ])
    )
    const l = lab
    const live = ['web-1', 'web-2']
    await l.release(closuresFor(l, 'r1'))
    await l.startControlPlane(['--heartbeat-interval-secs', String(HEARTBEAT_SECS)])
    for (const h of live) l.startAgent(h)
    await until(
      'web-1 and web-2 run release 1',
      async () => {
        const rows = await hostsOf(l)
        return live.every((h) => (rows[h] as unknown as Row).currentClosure === l.currentClosure(h))
      },
      60_000
    )
    const never = await rowOf(l, 'web-3')
    expect(never.enrolment).toEqual({ state: 'never', at: null, reason: null })
    expect(never.problem).toEqual({
      kind: 'never-enrolled',
      message: 'never enrolled',
      since: null,
    })
    expect((await rowOf(l, 'web-1')).certificate?.serial).toMatch(/^[0-9a-f]+$/)

    // Revoke web-1's certificate in a new signed list.
    await revokeInNewRelease(l, 'web-1', closuresFor(l, 'r2'))
    await until(
      'web-1 shows its certificate revoked',
      async () => {
        const row = await rowOf(l, 'web-1')
        return row.problem?.kind === 'cert-revoked' && row.certificate?.revoked === true
      },
      20_000
    )

    // Stop web-2's agent: offline once three intervals pass without a heartbeat.
    await l.stopAgent('web-2')
    const stoppedAt = performance.now()
    const p = await problemShows(l, 'web-2', 'offline', 20_000)
    // Three intervals after its last heartbeat, and within one more (plus a loaded machine's slack).
    expect(performance.now() - stoppedAt).toBeLessThan(4 * HEARTBEAT_SECS * 1000 + 5_000)
    expect(p.message).toMatch(/^not seen for \d+s$/)
  })
})
