/**
 * Operator actions cannot wedge a rollout: over random fleets driven by random host outcomes,
 * planner steps and operator actions, every reachable open rollout can still be cancelled, a
 * resume is accepted exactly when it is halted, and both ways out an operator has — skipping the
 * failed hosts, or clearing their quarantine and retrying them — bring it to Terminal.
 * The model is the CP's loop in miniature: the same core functions (`stepRollout`,
 * `decideRolloutAction`, `allHostsConverged`), with host outcomes chosen at random.
 */
import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import type { HostPhase } from '../host/state.ts'
import type { OnHealthFailure } from '../types.ts'
import { decideRolloutAction, isBlocked, type ActionFacts, type RolloutAction } from './actions.ts'
import type { RolloutEvent } from './events.ts'
import { isClosed, type RolloutRecord } from './state.ts'
import { allHostsConverged, openRolloutRecord, stepRollout } from './step.ts'

const ID = 'stable@abc'

type Host = {
  hostname: string
  wave: number
  phase: HostPhase
  policyApplied: OnHealthFailure | null
  skipped: boolean
}

type Model = {
  record: RolloutRecord
  hosts: Host[]
  quarantined: Set<string>
  policy: OnHealthFailure
  waves: number
  at: number
}

const targetOf = (h: Host): string => `sys-${h.hostname}`

function apply(m: Model, event: RolloutEvent): void {
  const r = stepRollout(m.record, event, m.at)
  if (!r.ok) throw new Error(`${event.type} refused in ${m.record.phase}`)
  m.record = r.record
}

function moveHost(m: Model, h: Host, to: HostPhase): void {
  const from = h.phase
  h.phase = to
  apply(m, { type: 'HostStateChanged', rolloutId: ID, hostname: h.hostname, from, to, at: ++m.at })
}

const done = (h: Host): boolean => h.skipped || h.phase === 'Converged' || h.phase === 'Deferred'

/** What the CP does after every input: advance done waves, complete a finished rollout. */
function settle(m: Model): void {
  if (isClosed(m.record.phase)) return
  let wave = m.record.currentWave
  if (m.record.halt === null) {
    while (wave + 1 < m.waves && m.hosts.filter((h) => h.wave === wave).every(done)) wave++
  }
  if (wave > m.record.currentWave)
    apply(m, {
      type: 'WaveAdvanced',
      rolloutId: ID,
      fromWave: m.record.currentWave,
      toWave: wave,
      at: ++m.at,
    })
  if (allHostsConverged(m.hosts)) apply(m, { type: 'RolloutTerminal', rolloutId: ID, at: ++m.at })
}

const factsOf = (m: Model): ActionFacts => ({
  record: m.record,
  hosts: m.hosts.map((h) => ({ ...h, targetClosure: targetOf(h) })),
  quarantined: m.quarantined,
})

function act(
  m: Model,
  kind: RolloutAction['kind'],
  hostname = ''
): ReturnType<typeof decideRolloutAction> {
  const base = { operator: 'operator-alice', reason: 'because', at: ++m.at }
  const action: RolloutAction =
    kind === 'retry' || kind === 'skip' ? { ...base, kind, hostname } : { ...base, kind }
  const d = decideRolloutAction(factsOf(m), action)
  if (!d.ok) return d
  if ('event' in d) apply(m, d.event)
  else {
    const h = m.hosts.find((x) => x.hostname === d.host)!
    if (d.change === 'skip') h.skipped = true
    else {
      h.phase = 'Pending'
      h.policyApplied = null
    }
  }
  settle(m)
  return d
}

/** Whether the planner would dispatch a host now. */
const dispatchable = (m: Model, h: Host): boolean =>
  h.phase === 'Pending' &&
  !h.skipped &&
  m.record.halt === null &&
  !isClosed(m.record.phase) &&
  h.wave <= m.record.currentWave &&
  !m.quarantined.has(targetOf(h))

/** One host or planner step; false when it did not apply now. */
function hostStep(
  m: Model,
  h: Host,
  outcome: 'dispatch' | 'succeed' | 'fail' | 'rollback'
): boolean {
  if (isClosed(m.record.phase)) return false
  switch (outcome) {
    case 'dispatch':
      if (!dispatchable(m, h)) return false
      moveHost(m, h, 'Activating')
      break
    case 'succeed':
      if (h.phase !== 'Activating') return false
      moveHost(m, h, 'Converged')
      break
    case 'fail':
      if (h.phase !== 'Activating') return false
      h.policyApplied = m.policy
      moveHost(m, h, 'Failed')
      break
    case 'rollback':
      if (h.phase !== 'Failed' || h.policyApplied !== 'rollback-and-halt') return false
      m.quarantined.add(targetOf(h))
      moveHost(m, h, 'Reverted')
      break
  }
  settle(m)
  return true
}

/** Drives everything that moves on its own to success; the operator uses `way` for the rest. */
function rescue(m: Model, way: 'skip' | 'retry'): void {
  for (let i = 0; i < 200 && !isClosed(m.record.phase); i++) {
    if (m.record.halt !== null) {
      expect(act(m, 'resume').ok).toBe(true)
      continue
    }
    const moved = m.hosts.some(
      (h) => hostStep(m, h, 'rollback') || hostStep(m, h, 'succeed') || hostStep(m, h, 'dispatch')
    )
    if (moved) continue
    const blocked = m.hosts.find((h) => isBlocked({ ...h, targetClosure: targetOf(h) }))
    if (blocked !== undefined) {
      if (way === 'retry') m.quarantined.delete(targetOf(blocked))
      expect(act(m, way, blocked.hostname).ok).toBe(true)
      continue
    }
    // Nothing moves and nothing is blocked: the rollout must be finished by now.
    break
  }
  expect(m.record.phase).toBe('Terminal')
}

const clone = (m: Model): Model => ({
  ...m,
  hosts: m.hosts.map((h) => ({ ...h })),
  quarantined: new Set(m.quarantined),
})

const commandArb = fc.oneof(
  fc.record({
    t: fc.constant('host' as const),
    i: fc.nat(5),
    outcome: fc.constantFrom('dispatch', 'succeed', 'fail', 'rollback', 'dispatch', 'succeed'),
  }),
  fc.record({
    t: fc.constant('op' as const),
    i: fc.nat(5),
    kind: fc.constantFrom('resume', 'retry', 'skip', 'resume', 'retry', 'cancel'),
  }),
  fc.record({ t: fc.constant('clear' as const), i: fc.nat(5) })
)

const scenarioArb = fc.record({
  waves: fc.array(fc.nat(2), { minLength: 1, maxLength: 6 }),
  policy: fc.constantFrom<OnHealthFailure>('halt', 'rollback-and-halt'),
  commands: fc.array(commandArb, { maxLength: 60 }),
})

function start(waves: readonly number[], policy: OnHealthFailure): Model {
  const sorted = [...waves].sort()
  const m: Model = {
    record: openRolloutRecord({
      type: 'RolloutOpened',
      rolloutId: ID,
      channel: 'stable',
      targetRef: 'abc',
      at: 0,
    }),
    hosts: sorted.map((wave, i) => ({
      hostname: `h${i}`,
      wave,
      phase: 'Pending',
      policyApplied: null,
      skipped: false,
    })),
    quarantined: new Set(),
    policy,
    waves: Math.max(...sorted) + 1,
    at: 0,
  }
  for (const h of m.hosts)
    apply(m, { type: 'HostJoined', rolloutId: ID, hostname: h.hostname, wave: h.wave, at: ++m.at })
  settle(m)
  return m
}

describe('operator actions never wedge a rollout', () => {
  test('every reachable open rollout can be cancelled, and skipping or retrying its failures completes it', () => {
    let rescued = 0
    fc.assert(
      fc.property(scenarioArb, ({ waves, policy, commands }) => {
        const m = start(waves, policy)
        for (const c of commands) {
          const h = m.hosts[c.i % m.hosts.length]!
          if (c.t === 'host') hostStep(m, h, c.outcome)
          else if (c.t === 'clear') m.quarantined.delete(targetOf(h))
          else {
            const halted = m.record.halt !== null
            const closed = isClosed(m.record.phase)
            const d = act(m, c.kind, h.hostname)
            if (closed) expect(d.ok).toBe(false)
            if (c.kind === 'resume' && !closed) expect(d.ok).toBe(halted)
            if (c.kind === 'cancel' && !closed) expect(m.record.phase).toBe('Cancelled')
            if (!d.ok) expect(d.error.length).toBeGreaterThan(0)
          }
          if (isClosed(m.record.phase)) continue
          // From here, cancel is always possible, and so are both rescues.
          const cancelled = clone(m)
          expect(act(cancelled, 'cancel').ok).toBe(true)
          expect(cancelled.record.cancelled?.operator).toBe('operator-alice')
          rescue(clone(m), 'skip')
          rescue(clone(m), 'retry')
          rescued++
        }
      }),
      { numRuns: 300, seed: 15 }
    )
    expect(rescued).toBeGreaterThan(1000)
  })

  test('resume refuses a rollout that is not halted, naming what blocks it and what to do', () => {
    const m = start([0, 1], 'rollback-and-halt')
    const [canary] = m.hosts
    hostStep(m, canary!, 'dispatch')
    hostStep(m, canary!, 'fail')
    hostStep(m, canary!, 'rollback')
    expect(m.record.halt).not.toBeNull()
    expect(act(m, 'retry', 'h0')).toMatchObject({ ok: false, status: 409 })
    expect(act(m, 'resume').ok).toBe(true)
    const again = act(m, 'resume')
    expect(again).toMatchObject({ ok: false, status: 409 })
    expect(!again.ok && again.error).toContain('h0 Reverted (wave 0)')
    expect(!again.ok && again.error).toContain('skip')
    // The quarantine names itself; once cleared the host is retried.
    const refused = act(m, 'retry', 'h0')
    expect(!refused.ok && refused.error).toContain('quarantined')
    m.quarantined.clear()
    expect(act(m, 'retry', 'h0')).toEqual({ ok: true, host: 'h0', change: 'retry' })
    expect(act(m, 'retry', 'nope')).toMatchObject({ ok: false, status: 404 })
  })

  test('a skipped host is never retried and counts as done', () => {
    const m = start([0, 0, 1], 'halt')
    hostStep(m, m.hosts[0]!, 'dispatch')
    hostStep(m, m.hosts[0]!, 'fail')
    expect(act(m, 'skip', 'h0').ok).toBe(true)
    expect(act(m, 'retry', 'h0')).toMatchObject({ ok: false, status: 409 })
    expect(act(m, 'skip', 'h0')).toMatchObject({ ok: false, status: 409 })
    expect(act(m, 'resume').ok).toBe(true)
    hostStep(m, m.hosts[1]!, 'dispatch')
    hostStep(m, m.hosts[1]!, 'succeed')
    expect(m.record.currentWave).toBe(1)
    hostStep(m, m.hosts[2]!, 'dispatch')
    hostStep(m, m.hosts[2]!, 'succeed')
    expect(m.record.phase).toBe('Terminal')
  })
})
