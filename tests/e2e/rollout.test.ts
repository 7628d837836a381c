/**
 * End-to-end rollouts on a real fleet (compiled binary: one control plane, one agent process per
 * host, mTLS on loopback, SQLite file): the happy path through channel edges, waves and a
 * disruption budget; a failing canary; a failing activation; a switch that needs a reboot; and
 * an agent that is down during its wave. Assertions read the control plane's API, the event
 * log and the hosts' own files (which closures were switched to), never log wording.
 */
import { afterEach, describe, expect, setDefaultTimeout, test } from 'bun:test'
import type { Lab } from '../../src/lab/lab.ts'
import { parseLogLine } from '../../src/runtime/log.ts'
import {
  agentEventsOf,
  converged,
  cpMetric,
  dispatchesOf,
  eventsOf,
  hostsOf,
  lifecycleOf,
  logOf,
  makeLab,
  planPassAfterNow,
  rid,
  until,
} from './support.ts'

// Each scenario runs a whole fleet of processes on a loaded 2-core machine.
setDefaultTimeout(180_000)

let lab: Lab | undefined
afterEach(async () => {
  await lab?.close()
  lab = undefined
})

const closuresFor = (
  l: Lab,
  release: string,
  special: Record<string, Parameters<Lab['closure']>[2]> = {}
) =>
  Object.fromEntries(
    [...l.hosts.keys()].map((h) => [
      h,
      l.closure(h, `${release}-${h}`, special[h] ?? { kind: 'ok' }),
    ])
  )

const startAll = async (l: Lab, except: readonly string[] = []) => {
  await l.startControlPlane()
  for (const h of l.hosts.keys()) if (!except.includes(h)) l.startAgent(h)
}

/** Releases `r1` with kernel-1's switch needing a reboot, starts the fleet, waits for Deferred. */
const releaseNeedingReboot = async (l: Lab) => {
  const closures = closuresFor(l, 'r1', { 'kernel-1': { kind: 'reboot' } })
  const c1 = await l.release(closures)
  await startAll(l)
  await until(
    'kernel-1 Deferred',
    async () => (await hostsOf(l))['kernel-1']?.rolloutState === 'Deferred',
    30_000
  )
  return { closures, c1 }
}

/** The reboot: the agent goes down, the machine comes back running `closure`. */
const rebootInto = async (l: Lab, host: string, closure: string) => {
  await l.stopAgent(host)
  l.reboot(host, closure)
  l.startAgent(host)
}

describe('rollouts', () => {
  test('happy path: channel edge, canary wave, two waves under a budget of 1; all Terminal, full story per host', async () => {
    lab = await makeLab({
      channels: [
        { name: 'edge', soakMinutes: [0], onHealthFailure: 'halt' },
        { name: 'stable', soakMinutes: [0, 0, 0], onHealthFailure: 'rollback-and-halt' },
        { name: 'staging', soakMinutes: [0], onHealthFailure: 'halt' },
      ],
      hosts: [
        { name: 'edge-1', channel: 'edge', wave: 0 },
        { name: 'stage-1', channel: 'staging', wave: 0 },
        { name: 'canary', channel: 'stable', wave: 0, tags: ['stable'] },
        { name: 'web-1', channel: 'stable', wave: 1, tags: ['stable'] },
        { name: 'web-2', channel: 'stable', wave: 1, tags: ['stable'] },
        { name: 'db-1', channel: 'stable', wave: 2, tags: ['stable'] },
        { name: 'db-2', channel: 'stable', wave: 2, tags: ['stable'] },
      ],
      channelEdges: [['edge', 'stable']],
      budgets: [{ tags: ['stable'], maxInFlight: 1 }],
    })
    const l = lab
    const hosts = [...l.hosts.keys()]
    const installed = Object.fromEntries(hosts.map((h) => [h, l.currentClosure(h)]))
    const closures = closuresFor(l, 'r1')
    const commit = await l.release(closures)
    await startAll(l)
    await until('every host converged', () => converged(l, commit, hosts), 60_000)

    for (const channel of ['edge', 'staging', 'stable']) {
      await until(
        `${channel} rollout Terminal`,
        async () => (await lifecycleOf(l, rid(channel, commit))) === 'Terminal'
      )
    }
    for (const h of hosts) expect(l.currentClosure(h)).toBe(closures[h]!)
    // The CP log tells the same story at info: stable's two wave advances, each convergence.
    const said = (msg: string, rolloutId: string) =>
      logOf(l, 'control-plane')
        .split('\n')
        .map((line) => parseLogLine(line))
        .filter((e) => e?.record['msg'] === msg && e.record['rolloutId'] === rolloutId)
    // Written to the log file by the CP's stderr: read once the last line is there.
    await until('the CP log line of the last convergence', () =>
      ['edge', 'staging', 'stable'].every(
        (channel) => said('rollout converged', rid(channel, commit)).length > 0
      )
    )
    expect(said('wave advanced', rid('stable', commit)).map((e) => e?.record['wave'])).toEqual([
      1, 2,
    ])
    for (const channel of ['edge', 'staging', 'stable'])
      expect(said('rollout converged', rid(channel, commit)).map((e) => e?.priority)).toEqual([6])

    // The full story of each host, with consecutive sequence numbers.
    for (const h of hosts) {
      const channel = l.hosts.get(h)!.plan.channel
      const rows = await eventsOf(l, rid(channel, commit))
      const events = agentEventsOf(rows, h)
      const kinds = events.map(([, k]) => k)
      for (const k of ['DispatchAck', 'ActivationStarted', 'ActivationCompleted', 'Converged'])
        expect(kinds).toContain(k)
      expect(kinds.indexOf('DispatchAck')).toBeLessThan(kinds.indexOf('ActivationCompleted'))
      expect(kinds.indexOf('ActivationCompleted')).toBeLessThan(kinds.indexOf('Converged'))
      expect(events.map(([s]) => s)).toEqual(events.map((_, i) => i + 1))
      // The DispatchAck reports the closure the host really ran before, the rollback target
      // (DECISIONS §3.7), not the target.
      const ack = rows.find(
        (r) => r.kind === 'agent_event' && r.host === h && r.payload.kind === 'DispatchAck'
      )
      expect(ack?.payload.currentClosureAtDispatch).toBe(installed[h]!)
    }

    // Order, from the global event-log sequence: edge before stable (channel edge), canary before
    // wave 1 before wave 2, and never two stable hosts in flight (budget 1).
    const edgeRows = await eventsOf(l, rid('edge', commit))
    const rows = await eventsOf(l, rid('stable', commit))
    const at = (rs: typeof rows, host: string, kind: string) =>
      rs.find((r) => r.kind === 'agent_event' && r.host === host && r.payload.kind === kind)!.seq
    const span = (h: string) => [at(rows, h, 'DispatchAck'), at(rows, h, 'Converged')] as const
    expect(at(edgeRows, 'edge-1', 'Converged')).toBeLessThan(at(rows, 'canary', 'DispatchAck'))
    for (const w1 of ['web-1', 'web-2']) expect(span('canary')[1]).toBeLessThan(span(w1)[0])
    for (const w2 of ['db-1', 'db-2']) {
      for (const w1 of ['web-1', 'web-2']) expect(span(w1)[1]).toBeLessThan(span(w2)[0])
    }
    const spans = ['canary', 'web-1', 'web-2', 'db-1', 'db-2'].map(span).sort((a, b) => a[0] - b[0])
    for (let i = 1; i < spans.length; i++) expect(spans[i - 1]![1]).toBeLessThan(spans[i]![0])
  })

  test('a canary failing its probe under rollback-and-halt is reverted and quarantined; nobody else is dispatched; a fixed release completes', async () => {
    lab = await makeLab({
      channels: [
        {
          name: 'stable',
          soakMinutes: [0, 0],
          onHealthFailure: 'rollback-and-halt',
          sustainedFailureSecs: 2,
        },
      ],
      hosts: [
        { name: 'canary', channel: 'stable', wave: 0 },
        { name: 'web-1', channel: 'stable', wave: 1 },
        { name: 'web-2', channel: 'stable', wave: 1 },
      ],
    })
    const l = lab
    const installed = Object.fromEntries([...l.hosts.keys()].map((h) => [h, l.currentClosure(h)]))
    const bad = closuresFor(l, 'r1', { canary: { kind: 'probe-fails' } })
    const c1 = await l.release(bad)
    await startAll(l)
    await until(
      'canary Reverted',
      async () => (await hostsOf(l)).canary?.rolloutState === 'Reverted',
      45_000
    )

    expect(l.currentClosure('canary')).toBe(installed.canary!)
    const quarantines = (
      await l.api<{ quarantines: { channel: string; closure: string }[] }>(
        '/v1/operator/quarantines'
      )
    ).body.quarantines
    expect(quarantines).toContainEqual(
      expect.objectContaining({ channel: 'stable', closure: bad.canary! })
    )
    const rollout = (
      await l.api<{ rollouts: { id: string; halt: unknown }[] }>('/v1/rollouts')
    ).body.rollouts.find((r) => r.id === rid('stable', c1))
    expect(rollout?.halt).toBeTruthy()
    // What on-call sees: the halt gauge, and one warning line naming the host, probe and reason.
    expect(
      await cpMetric(
        l,
        `nixfleet_cp_rollout_halted{channel="stable",rollout="${rid('stable', c1)}"}`
      )
    ).toBe(1)
    expect(await cpMetric(l, 'nixfleet_cp_quarantined_closures{channel="stable"}')).toBe(1)
    const halts = await until('the halt line in the CP log', () => {
      const found = logOf(l, 'control-plane')
        .split('\n')
        .map((line) => parseLogLine(line))
        .filter((e) => e?.record['msg'] === 'rollout halted')
      return found.length > 0 ? found : undefined
    })
    expect(halts).toHaveLength(1)
    expect(halts[0]).toEqual({
      priority: 4,
      record: expect.objectContaining({
        level: 'warn',
        rolloutId: rid('stable', c1),
        channel: 'stable',
        host: 'canary',
        probe: 'system-healthy',
        reason: expect.any(String),
      }),
    })
    // The canary's own log says it too, at warning, with the failing probe and its reason; a
    // new host's first anchoring of its anti-rollback marks is no warning.
    const agentLines = () =>
      logOf(l, 'agent-canary')
        .split('\n')
        .map((line) => parseLogLine(line))
    const failedLine = await until('the canary logging its failure', () =>
      agentLines().find(
        (e) => e?.record['msg'] === 'host transition' && e.record['to'] === 'Failed'
      )
    )
    expect(failedLine).toEqual({
      priority: 4,
      record: expect.objectContaining({
        failingProbes: [{ probe: 'system-healthy', reason: expect.any(String) }],
      }),
    })
    expect(
      agentLines().filter(
        (e) => e !== undefined && e.priority <= 4 && /anchor/.test(String(e.record['msg']))
      )
    ).toEqual([])
    // Once the planner has planned on the halt, nobody else was dispatched or moved.
    await planPassAfterNow(l)
    const rows = await eventsOf(l, rid('stable', c1))
    expect(dispatchesOf(rows, 'canary').length).toBe(1)
    for (const h of ['web-1', 'web-2']) {
      expect(dispatchesOf(rows, h)).toEqual([])
      expect(agentEventsOf(rows, h)).toEqual([])
      expect(l.switchCount(h, bad[h]!)).toBe(0)
      expect(l.currentClosure(h)).toBe(installed[h]!)
    }
    expect(agentEventsOf(rows, 'canary').map(([, k]) => k)).toContain('RollbackComplete')

    const fixed = closuresFor(l, 'r2')
    const c2 = await l.release(fixed)
    await l.refresh()
    await until(
      'fixed release converged',
      () => converged(l, c2, ['canary', 'web-1', 'web-2']),
      45_000
    )
    expect(await lifecycleOf(l, rid('stable', c1))).toBe('Superseded')
    // The new rollout is the channel's now; it is not halted.
    expect(
      await cpMetric(
        l,
        `nixfleet_cp_rollout_halted{channel="stable",rollout="${rid('stable', c2)}"}`
      )
    ).toBe(0)
    await until(
      'fixed rollout Terminal',
      async () => (await lifecycleOf(l, rid('stable', c2))) === 'Terminal'
    )
  })

  test('a failing activation on a wave-1 host is rolled back, halts the rollout, and leaves later waves untouched', async () => {
    lab = await makeLab({
      channels: [{ name: 'stable', soakMinutes: [0, 0, 0], onHealthFailure: 'rollback-and-halt' }],
      hosts: [
        { name: 'canary', channel: 'stable', wave: 0 },
        { name: 'web-1', channel: 'stable', wave: 1 },
        { name: 'db-1', channel: 'stable', wave: 2 },
        { name: 'db-2', channel: 'stable', wave: 2 },
      ],
    })
    const l = lab
    const installed = l.currentClosure('web-1')
    const closures = closuresFor(l, 'r1', {
      'web-1': { kind: 'fail', exitCode: 1, stderr: 'unit nginx.service failed' },
    })
    const c1 = await l.release(closures)
    await startAll(l)
    await until(
      'web-1 Reverted',
      async () => (await hostsOf(l))['web-1']?.rolloutState === 'Reverted',
      45_000
    )
    expect(l.currentClosure('web-1')).toBe(installed)
    // Once the planner has planned on the halt, wave 2 was never dispatched.
    await planPassAfterNow(l)
    const rows = await eventsOf(l, rid('stable', c1))
    const failed = rows.find((r) => r.host === 'web-1' && r.payload.kind === 'ActivationFailed')
    expect(failed?.payload.exitCode).toBe(1)
    expect(String(failed?.payload.stderrTail)).toContain('nginx.service')
    expect(dispatchesOf(rows, 'web-1').length).toBe(1)
    for (const h of ['db-1', 'db-2']) {
      expect(dispatchesOf(rows, h)).toEqual([])
      expect(agentEventsOf(rows, h)).toEqual([])
      expect(l.switchCount(h, closures[h]!)).toBe(0)
    }
    expect((await hostsOf(l)).canary?.rolloutState).toBe('Converged')
  })

  test('a switch that needs a reboot leaves the host Deferred; after the reboot it soaks and converges', async () => {
    lab = await makeLab({
      channels: [{ name: 'stable', soakMinutes: [0], onHealthFailure: 'halt' }],
      hosts: [{ name: 'kernel-1', channel: 'stable', wave: 0 }],
    })
    const l = lab
    const { closures, c1 } = await releaseNeedingReboot(l)
    expect((await hostsOf(l))['kernel-1']?.pendingReboot).toBe(true)
    expect(l.currentClosure('kernel-1')).not.toBe(closures['kernel-1']!)

    await rebootInto(l, 'kernel-1', closures['kernel-1']!)
    await until(
      'the rollout Terminal after the reboot',
      async () => (await lifecycleOf(l, rid('stable', c1))) === 'Terminal',
      30_000
    )
    expect(l.currentClosure('kernel-1')).toBe(closures['kernel-1']!)
    const kinds = agentEventsOf(await eventsOf(l, rid('stable', c1)), 'kernel-1').map(([, k]) => k)
    expect(kinds.indexOf('ActivationDeferred')).toBeGreaterThan(-1)
    expect(kinds.indexOf('ActivationDeferred')).toBeLessThan(kinds.lastIndexOf('Converged'))
  })

  test('a wave-0 host that needs a reboot holds wave 1 until it has rebooted into the new system and soaked', async () => {
    lab = await makeLab({
      channels: [{ name: 'stable', soakMinutes: [0, 0], onHealthFailure: 'halt' }],
      hosts: [
        { name: 'kernel-1', channel: 'stable', wave: 0 },
        { name: 'web-1', channel: 'stable', wave: 1 },
      ],
    })
    const l = lab
    const { closures, c1 } = await releaseNeedingReboot(l)
    // However often the planner runs, web-1 is not dispatched while kernel-1 waits for its reboot,
    // and the operator is told why.
    await planPassAfterNow(l)
    expect(dispatchesOf(await eventsOf(l, rid('stable', c1)), 'web-1')).toEqual([])
    expect(l.switchCount('web-1', closures['web-1']!)).toBe(0)
    const held = (await hostsOf(l))['web-1']
    expect(held?.rolloutState).toBe('Pending')
    expect(held?.gate).toMatchObject({
      gate: 'wave-promotion',
      reason: 'wave 1 waits: kernel-1 waiting for reboot',
    })

    // The reboot: kernel-1 comes back running its target, soaks, converges; only then web-1 goes.
    await rebootInto(l, 'kernel-1', closures['kernel-1']!)
    await until('both hosts converged', () => converged(l, c1, ['kernel-1', 'web-1']), 45_000)
    const rows = await eventsOf(l, rid('stable', c1))
    const at = (pred: (r: (typeof rows)[number]) => boolean): number => rows.findIndex(pred)
    const kernelEvent = (kind: string) =>
      at((r) => r.kind === 'agent_event' && r.host === 'kernel-1' && r.payload.kind === kind)
    const webDispatch = at(
      (r) => r.kind === 'plan_action' && r.host === 'web-1' && r.payload.action === 'QueueDispatch'
    )
    expect(kernelEvent('ActivationDeferred')).toBeGreaterThan(-1)
    expect(webDispatch).toBeGreaterThan(kernelEvent('ActivationDeferred'))
    // Converged follows the soak after the reboot; the dispatch of wave 1 follows Converged.
    const kernelConverged = rows.findIndex(
      (r) =>
        r.host === 'kernel-1' && (r.payload.kind === 'Converged' || r.payload.to === 'Converged')
    )
    expect(kernelConverged).toBeGreaterThan(kernelEvent('ActivationDeferred'))
    expect(webDispatch).toBeGreaterThan(kernelConverged)
    expect(l.currentClosure('kernel-1')).toBe(closures['kernel-1']!)
    expect(l.currentClosure('web-1')).toBe(closures['web-1']!)
  })

  test('an agent that is down during its wave holds only what the policy says; it catches up when back', async () => {
    lab = await makeLab({
      channels: [{ name: 'stable', soakMinutes: [0, 0, 0], onHealthFailure: 'halt' }],
      hosts: [
        { name: 'canary', channel: 'stable', wave: 0, tags: ['stable'] },
        { name: 'web-1', channel: 'stable', wave: 1, tags: ['stable'] },
        { name: 'web-2', channel: 'stable', wave: 1, tags: ['stable'] },
        { name: 'web-3', channel: 'stable', wave: 1, tags: ['stable'] },
        { name: 'db-1', channel: 'stable', wave: 2, tags: ['stable'] },
      ],
      budgets: [{ tags: ['stable'], maxInFlight: 2 }],
    })
    const l = lab
    const closures = closuresFor(l, 'r1')
    const c1 = await l.release(closures)
    await startAll(l, ['web-2'])
    // The rest of wave 1 is not blocked by the absent host (a Pending host is not in flight)...
    await until(
      'canary, web-1 and web-3 converged',
      () => converged(l, c1, ['canary', 'web-1', 'web-3']),
      45_000
    )
    // ...but wave 2 waits for all of wave 1, as the policy says, however often the planner runs.
    await planPassAfterNow(l)
    expect(dispatchesOf(await eventsOf(l, rid('stable', c1)), 'db-1')).toEqual([])
    expect(l.switchCount('db-1', closures['db-1']!)).toBe(0)
    const h = await hostsOf(l)
    expect(h['web-2']?.rolloutState).toBe('Pending')
    expect(h['db-1']?.rolloutState).toBe('Pending')

    l.startAgent('web-2')
    await until(
      'everyone converged once web-2 is back',
      () => converged(l, c1, [...l.hosts.keys()]),
      45_000
    )
    expect(
      await until(
        'Terminal',
        async () => (await lifecycleOf(l, rid('stable', c1))) === 'Terminal' && 'Terminal'
      )
    ).toBe('Terminal')
  })
})
