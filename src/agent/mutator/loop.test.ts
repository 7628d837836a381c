/**
 * The agent's mutator with a fake clock and recording stand-ins for its workers: seq assignment,
 * persistence order and crash replay, the happy path to convergence, sustained failure and
 * rollback, crash recovery of each state, CP snapshots, replay and garbage collection.
 * Long (one file): every scenario runs on the same recording world, built once below.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import type { HostPolicy, Unsequenced } from '../../core/index.ts'
import type { HostRolloutSnapshot } from '../../proto/agent.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { createLogger } from '../../runtime/log.ts'
import type { ActivationIntent } from '../workers/activation.ts'
import { closureId, removeDir, tempDir } from '../../../tests/support/fixtures.ts'
import { HostStore } from '../host-store.ts'
import type { AcceptedDispatch } from '../manifests/admission.ts'
import { Metrics } from '../metrics.ts'
import { Outbox } from '../outbox.ts'
import { NONDURABLE_OUTBOX_LIMIT } from '../applier.ts'
import { AgentMutator } from './loop.ts'

const T0 = Date.UTC(2026, 4, 1, 12)
const R1 = 'stable@1111'
const R2 = 'stable@2222'
const PRIOR = closureId('prior')
const V1 = closureId('v1')
const V2 = closureId('v2')
const POLICY: HostPolicy = {
  onHealthFailure: 'rollback-and-halt',
  soakMs: 60_000,
  sustainedFailureMs: 30_000,
}

type World = {
  mutator: AgentMutator
  /** The topology the stand-in probe worker declares on reset. */
  topology?: Unsequenced
  intents: ActivationIntent[]
  resets: string[]
  stops: string[]
  kicks: number
  logs: string[]
}

let dir = ''
let clock: FakeClock
let current: string | undefined
let switchRunning = false
type Facts = { targetClosure: string; channel: string; waveIndex: number; policy: HostPolicy }
let facts: Facts | undefined

function makeWorld(opts: { signedRecordFacts?: (id: string) => Facts | undefined } = {}): World {
  const w: World = {
    mutator: undefined as unknown as AgentMutator,
    intents: [],
    resets: [],
    stops: [],
    kicks: 0,
    logs: [],
  }
  w.mutator = new AgentMutator({
    machineId: 'web-01',
    store: new HostStore(dir),
    outbox: new Outbox(dir),
    clock,
    log: createLogger({ component: 't', level: 'debug', sink: (l) => void w.logs.push(l) }),
    metrics: new Metrics(),
    currentClosure: () => current,
    activation: {
      submit: (i) => {
        w.intents.push(i)
        return true
      },
      current: undefined,
      switchRunning: () => switchRunning,
    },
    probes: {
      reset: (id) => {
        w.resets.push(id)
        return w.topology ? [w.topology] : []
      },
      stopFor: (id) => void w.stops.push(id),
      keepWatching: () => {},
    },
    kickDrainer: () => void w.kicks++,
    signedRecordFacts: opts.signedRecordFacts ?? (() => facts),
  })
  return w
}

const accepted = (rolloutId: string, target: string, policy = POLICY): AcceptedDispatch => ({
  rolloutId,
  channel: 'stable',
  targetClosure: target,
  waveIndex: 0,
  policy,
})

function pending(outbox: Outbox, rolloutId: string): { seq: number; kind: string }[] {
  return (outbox.pending().find((p) => p.rolloutId === rolloutId)?.entries ?? []).map((e) => ({
    seq: e.seq,
    kind: e.kind,
  }))
}

const local = (w: World, rolloutId: string, event: Unsequenced) =>
  w.mutator.handle({ type: 'Local', rolloutId, event })

/** A new agent over the same state dir, after start-up: records loaded and recovered. */
function restart(): World {
  const w = makeWorld()
  w.mutator.load()
  w.mutator.recoverAll()
  return w
}

/** Dispatches R1 (target V1) and completes its activation at T0: the record is Soaking. */
function soaking(w: World): void {
  w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
  local(w, R1, {
    type: 'LocalActivationCompleted',
    observedCurrentClosure: V1,
    exitCode: 0,
    completedAt: T0,
  })
}

beforeEach(() => {
  dir = tempDir()
  clock = new FakeClock(T0)
  current = PRIOR
  switchRunning = false
  facts = undefined
})
afterEach(() => removeDir(dir))

describe('dispatch to convergence', () => {
  test('assigns seqs, persists events before state, fires the switch, soaks, converges', () => {
    const w = makeWorld()
    w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
    const rec = w.mutator.record(R1)!
    expect(rec.state).toMatchObject({
      phase: 'Activating',
      currentClosureAtDispatch: PRIOR,
      lastEventSeq: 1,
    })
    expect(rec.meta.activationAttempts).toBe(1)
    expect(w.intents).toEqual([{ rolloutId: R1, closure: V1, kind: 'switch', mayRealise: true }])
    const outbox = new Outbox(dir)
    expect(pending(outbox, R1)).toEqual([{ seq: 1, kind: 'DispatchAck' }])

    local(w, R1, {
      type: 'LocalActivationStarted',
      startedAt: T0 + 10,
      switchMethod: 'switch-to-configuration',
    })
    clock.advance(1_000)
    local(w, R1, {
      type: 'LocalActivationCompleted',
      observedCurrentClosure: V1,
      exitCode: 0,
      completedAt: clock.now(),
    })
    expect(w.mutator.record(R1)!.state).toMatchObject({
      phase: 'Soaking',
      lastEventSeq: 3,
      soakDueAt: T0 + 1_000 + 60_000,
    })
    expect(w.resets).toEqual([R1])

    local(w, R1, {
      type: 'LocalProbeTopologyDeclared',
      probes: [{ probeName: 'http', kind: 'http', mode: 'enforce' }],
      declaredAt: clock.now(),
    })
    local(w, R1, {
      type: 'LocalProbeResult',
      probeName: 'http',
      mode: 'enforce',
      status: 'pass',
      observedAt: clock.now(),
      failureReason: null,
      subResults: null,
    })
    w.mutator.handle({ type: 'Tick' })
    expect(w.mutator.record(R1)!.state.phase).toBe('Soaking') // soak not elapsed
    clock.advance(60_000)
    w.mutator.handle({ type: 'Tick' })
    expect(w.mutator.record(R1)!.state).toMatchObject({
      phase: 'Converged',
      lastEventSeq: 6,
      currentClosure: V1,
    })
    expect(pending(outbox, R1).map((e) => e.kind)).toEqual([
      'DispatchAck',
      'ActivationStarted',
      'ActivationCompleted',
      'ProbeTopologyDeclared',
      'ProbeResult',
      'Converged',
    ])
    expect(w.stops).toContain(R1)
    expect(w.kicks).toBe(6)
  })

  test('a duplicate dispatch for a started rollout is ignored', () => {
    const w = makeWorld()
    expect(
      w.mutator.handle({
        type: 'Dispatch',
        accepted: accepted(R1, V1),
        receivedAt: T0,
        prior: PRIOR,
      })
    ).toBe('accepted')
    expect(
      w.mutator.handle({
        type: 'Dispatch',
        accepted: accepted(R1, V1),
        receivedAt: T0 + 5,
        prior: PRIOR,
      })
    ).toBe('duplicate')
    expect(w.intents.length).toBe(1)
    expect(w.mutator.record(R1)!.state.lastEventSeq).toBe(1)
    expect(w.logs.some((l) => l.includes('duplicate dispatch ignored'))).toBe(true)
  })

  test('non-durable probe chatter is dropped once the rollout has too many undelivered events', () => {
    const w = makeWorld()
    soaking(w)
    const result = (status: 'pass' | 'fail'): Unsequenced => ({
      type: 'LocalProbeResult',
      probeName: 'p',
      mode: 'observe',
      status,
      observedAt: clock.now(),
      failureReason: null,
      subResults: null,
    })
    for (let i = 0; i < NONDURABLE_OUTBOX_LIMIT + 5; i++) local(w, R1, result('pass'))
    const outbox = new Outbox(dir)
    expect(outbox.depth(R1)).toBe(NONDURABLE_OUTBOX_LIMIT)
    // A durable event (status change) is still queued, with the next seq.
    local(w, R1, result('fail'))
    const last = pending(outbox, R1).at(-1)!
    expect(last).toEqual({ seq: w.mutator.record(R1)!.state.lastEventSeq, kind: 'ProbeResult' })
    // Hundreds of fsynced steps: more than the default 5 s on a loaded CI disk.
  }, 30_000)
})

test('the probe topology is declared before any queued tick can converge on soak alone', () => {
  const w = makeWorld()
  w.topology = {
    type: 'LocalProbeTopologyDeclared',
    probes: [{ probeName: 'http', kind: 'http', mode: 'enforce' }],
    declaredAt: T0,
  }
  w.mutator.handle({
    type: 'Dispatch',
    accepted: accepted(R1, V1, { ...POLICY, soakMs: 0 }),
    receivedAt: T0,
    prior: PRIOR,
  })
  local(w, R1, {
    type: 'LocalActivationCompleted',
    observedCurrentClosure: V1,
    exitCode: 0,
    completedAt: T0,
  })
  expect(w.mutator.record(R1)!.state.probeTopology).toEqual([
    { probeName: 'http', kind: 'http', mode: 'enforce' },
  ])
  w.mutator.handle({ type: 'Tick' })
  expect(w.mutator.record(R1)!.state.phase).toBe('Soaking') // waits for the probe
  local(w, R1, {
    type: 'LocalProbeResult',
    probeName: 'http',
    mode: 'enforce',
    status: 'pass',
    observedAt: T0,
    failureReason: null,
    subResults: null,
  })
  w.mutator.handle({ type: 'Tick' })
  expect(w.mutator.record(R1)!.state.phase).toBe('Converged')
})

describe('failure and rollback', () => {
  test('a sustained enforce failure fails the host and rolls back to the recorded prior', () => {
    const w = makeWorld()
    soaking(w)
    local(w, R1, {
      type: 'LocalProbeResult',
      probeName: 'http',
      mode: 'enforce',
      status: 'fail',
      observedAt: T0,
      failureReason: 'HTTP 503',
      subResults: null,
    })
    clock.advance(29_000)
    w.mutator.handle({ type: 'Tick' })
    expect(w.mutator.record(R1)!.state.phase).toBe('Soaking')
    clock.advance(1_000)
    w.mutator.handle({ type: 'Tick' })
    expect(w.mutator.record(R1)!.state).toMatchObject({
      phase: 'Failed',
      policyApplied: 'rollback-and-halt',
    })
    expect(w.intents.at(-1)).toEqual({
      rolloutId: R1,
      closure: PRIOR,
      kind: 'rollback',
      mayRealise: true,
    })
    local(w, R1, {
      type: 'LocalRollbackCompleted',
      revertedToClosure: PRIOR,
      exitCode: 0,
      completedAt: clock.now(),
    })
    expect(w.mutator.record(R1)!.state).toMatchObject({
      phase: 'Reverted',
      revertedTo: PRIOR,
      currentClosure: PRIOR,
    })
    expect(
      pending(new Outbox(dir), R1)
        .map((e) => e.kind)
        .slice(-2)
    ).toEqual(['Failed', 'RollbackComplete'])
  })

  test('halt policy: activation failure fails without a rollback', () => {
    const w = makeWorld()
    w.mutator.handle({
      type: 'Dispatch',
      accepted: accepted(R1, V1, { ...POLICY, onHealthFailure: 'halt' }),
      receivedAt: T0,
      prior: PRIOR,
    })
    local(w, R1, {
      type: 'LocalActivationFailed',
      exitCode: 4,
      stderrTail: 'boom',
      failedAt: T0,
    })
    expect(w.mutator.record(R1)!.state).toMatchObject({ phase: 'Failed', policyApplied: 'halt' })
    expect(w.intents.map((i) => i.kind)).toEqual(['switch'])
  })
})

describe('crash safety', () => {
  test('events written before a crash but after the last record write are replayed; seqs are never reused', () => {
    const w = makeWorld()
    w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
    // Simulate: the mutator wrote ActivationCompleted (seq 2) to the outbox, then was killed
    // before writing the record.
    new Outbox(dir).enqueue({
      rolloutId: R1,
      seq: 2,
      kind: 'ActivationCompleted',
      durable: true,
      createdAt: T0,
      event: {
        kind: 'ActivationCompleted',
        seq: 2,
        observedCurrentClosure: V1,
        exitCode: 0,
        completedAt: T0 + 5,
      },
    })
    current = V1
    const restarted = makeWorld()
    expect(restarted.mutator.load()).toBe(1)
    expect(restarted.mutator.record(R1)!.state).toMatchObject({
      phase: 'Soaking',
      lastEventSeq: 2,
      activationCompletedAt: T0 + 5,
    })
    restarted.mutator.recoverAll()
    expect(restarted.resets).toEqual([R1])
    local(restarted, R1, { type: 'LocalProbeTopologyDeclared', probes: [], declaredAt: T0 })
    expect(pending(new Outbox(dir), R1).map((e) => e.seq)).toEqual([1, 2, 3])
  })

  test('Activating with the link already on the target completes on restart', () => {
    const w = makeWorld()
    w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
    current = V1
    const restarted = restart()
    expect(restarted.mutator.record(R1)!.state).toMatchObject({
      phase: 'Soaking',
      currentClosure: V1,
    })
    expect(restarted.intents).toEqual([])
  })

  test('Activating elsewhere: resumed once, then failed (and rolled back) on a further restart', () => {
    const w = makeWorld()
    w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
    const second = restart()
    expect(second.intents).toEqual([
      { rolloutId: R1, closure: V1, kind: 'resume-switch', mayRealise: true },
    ])
    expect(second.mutator.record(R1)!.meta.activationAttempts).toBe(2)
    const third = restart()
    expect(third.mutator.record(R1)!.state).toMatchObject({
      phase: 'Failed',
      policyApplied: 'rollback-and-halt',
    })
    expect(third.intents).toEqual([
      { rolloutId: R1, closure: PRIOR, kind: 'rollback', mayRealise: true },
    ])
  })

  test('a switch still running is waited for after any number of restarts; the link on the prior is no rollback', () => {
    const w = makeWorld()
    w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
    switchRunning = true
    for (let i = 0; i < 4; i++) {
      const again = restart()
      expect(again.mutator.record(R1)!.state.phase).toBe('Activating')
      expect(again.intents).toEqual([
        { rolloutId: R1, closure: V1, kind: 'resume-switch', mayRealise: true },
      ])
    }
    // Failed under rollback-and-halt while a switch runs: the rollback waits for its end.
    const failed = restart()
    local(failed, R1, { type: 'LocalActivationFailed', exitCode: 4, stderrTail: 'x', failedAt: T0 })
    const later = restart()
    expect(later.mutator.record(R1)!.state).toMatchObject({ phase: 'Failed', revertedAt: null })
    expect(later.intents).toEqual([
      { rolloutId: R1, closure: PRIOR, kind: 'resume-rollback', mayRealise: true },
    ])
  })

  test('Deferred completes after the reboot into the target', () => {
    const w = makeWorld()
    w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
    local(w, R1, { type: 'LocalActivationDeferred', component: 'systemd', deferredAt: T0 })
    const notYet = restart()
    expect(notYet.mutator.record(R1)!.state.phase).toBe('Deferred')
    expect(notYet.intents).toEqual([])
    current = V1
    const rebooted = restart()
    expect(rebooted.mutator.record(R1)!.state).toMatchObject({
      phase: 'Soaking',
      currentClosure: V1,
    })
  })

  test('an interrupted rollback is resumed; one that finished is recorded', () => {
    const w = makeWorld()
    w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
    current = V1
    local(w, R1, {
      type: 'LocalActivationFailed',
      exitCode: 4,
      stderrTail: 'x',
      failedAt: T0,
    })
    const again = restart()
    expect(again.intents).toEqual([
      { rolloutId: R1, closure: PRIOR, kind: 'resume-rollback', mayRealise: true },
    ])
    current = PRIOR
    const done = restart()
    expect(done.mutator.record(R1)!.state).toMatchObject({ phase: 'Reverted', revertedTo: PRIOR })
  })
})

describe('control-plane snapshots and replay', () => {
  const snapshot = (over: Partial<HostRolloutSnapshot> = {}): HostRolloutSnapshot =>
    ({
      rolloutId: R1,
      hostname: 'web-01',
      channel: 'stable',
      state: 'Soaking',
      targetClosure: V1,
      currentClosureAtDispatch: PRIOR,
      currentClosure: V1,
      dispatchedAt: toRfc3339(T0),
      dispatchAckedAt: toRfc3339(T0 + 1),
      activationCompletedAt: toRfc3339(T0 + 2),
      soakDueAt: toRfc3339(T0 + 60_000),
      lastEventSeq: 4,
      ...over,
    }) as HostRolloutSnapshot

  test('a lost state dir is rebuilt from a snapshot of the current signed rollout', () => {
    facts = { targetClosure: V1, channel: 'stable', waveIndex: 0, policy: POLICY }
    current = V1
    const w = makeWorld()
    w.mutator.handle({ type: 'Bootstrap', snapshots: [snapshot()], currentClosure: V1 })
    const rec = w.mutator.record(R1)!
    expect(rec.state).toMatchObject({
      phase: 'Soaking',
      lastEventSeq: 4,
      soakDueAt: T0 + 60_000,
      currentClosureAtDispatch: PRIOR,
    })
    expect(rec.meta.priorFromCp).toBe(true)
    expect(w.resets).toEqual([R1])
    local(w, R1, { type: 'LocalProbeTopologyDeclared', probes: [], declaredAt: T0 })
    expect(pending(new Outbox(dir), R1)).toEqual([{ seq: 5, kind: 'ProbeTopologyDeclared' }])
  })

  test('snapshots for another target, or behind the local record, are ignored', () => {
    facts = { targetClosure: V2, channel: 'stable', waveIndex: 0, policy: POLICY }
    const w = makeWorld()
    w.mutator.handle({ type: 'Bootstrap', snapshots: [snapshot()], currentClosure: V1 })
    expect(w.mutator.record(R1)).toBeUndefined()
    w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
    local(w, R1, { type: 'LocalActivationStarted', startedAt: T0, switchMethod: 's' })
    w.mutator.handle({
      type: 'Bootstrap',
      snapshots: [snapshot({ state: 'Activating', lastEventSeq: 1 })],
      currentClosure: PRIOR,
    })
    expect(w.mutator.record(R1)!.state.lastEventSeq).toBe(2)
  })

  test('a CP ahead of the agent (synthesized completion) moves the local record forward', () => {
    const w = makeWorld()
    w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
    current = V1
    w.mutator.handle({
      type: 'Bootstrap',
      snapshots: [snapshot({ lastEventSeq: 2 })],
      currentClosure: V1,
    })
    expect(w.mutator.record(R1)!.state).toMatchObject({
      phase: 'Soaking',
      lastEventSeq: 2,
      currentClosureAtDispatch: PRIOR,
    })
    expect(w.mutator.record(R1)!.meta.priorFromCp).toBe(false)
  })

  test('Replay-From moves delivered events above N back to the outbox', () => {
    const w = makeWorld()
    soaking(w)
    const outbox = new Outbox(dir)
    for (const e of outbox.pending()[0]!.entries) outbox.markSent(e)
    const kicks = w.kicks
    w.mutator.handle({ type: 'ReplayFrom', rolloutId: R1, after: 1 })
    expect(pending(outbox, R1)).toEqual([{ seq: 2, kind: 'ActivationCompleted' }])
    expect(w.kicks).toBe(kicks + 1)
  })
})

test('a superseded rollout is forgotten once its events are delivered', () => {
  const w = makeWorld()
  w.mutator.handle({ type: 'Dispatch', accepted: accepted(R1, V1), receivedAt: T0, prior: PRIOR })
  w.mutator.handle({
    type: 'Dispatch',
    accepted: accepted(R2, V2),
    receivedAt: T0 + 10,
    prior: PRIOR,
  })
  expect(w.stops).toContain(R1)
  expect(w.mutator.activeRolloutId()).toBe(R2)
  w.mutator.handle({ type: 'Tick' })
  expect(w.mutator.record(R1)).toBeDefined() // DispatchAck not delivered yet
  const outbox = new Outbox(dir)
  for (const e of outbox.pending().find((p) => p.rolloutId === R1)!.entries) outbox.markSent(e)
  w.mutator.handle({ type: 'Tick' })
  expect(w.mutator.record(R1)).toBeUndefined()
  expect(new HostStore(dir).loadAll().hosts.map((h) => h.state.rolloutId)).toEqual([R2])
})

test('queued inputs are handled in order and each reply goes to its own callback', async () => {
  const w = makeWorld()
  const replies: unknown[] = []
  const dispatch = {
    type: 'Dispatch',
    accepted: accepted(R1, V1),
    receivedAt: T0,
    prior: PRIOR,
  } as const
  expect(w.mutator.submit(dispatch, (r) => void replies.push(r))).toBe(true)
  expect(w.mutator.submit(dispatch, (r) => void replies.push(r))).toBe(true)
  const started = { type: 'LocalActivationStarted', startedAt: T0, switchMethod: 's' } as const
  w.mutator.submit({ type: 'Local', rolloutId: R1, event: started }, (r) => void replies.push(r))
  w.mutator.submit({ type: 'Local', rolloutId: R2, event: started }, (r) => void replies.push(r))
  w.mutator.submit({ type: 'ReplayFrom', rolloutId: R1, after: 0 }, (r) => void replies.push(r))
  w.mutator.close()
  expect(w.mutator.submit({ type: 'Tick' })).toBe(false)
  await w.mutator.run()
  expect(replies).toEqual(['accepted', 'duplicate', true, false, 0])
  expect(w.mutator.record(R1)!.state.lastEventSeq).toBe(2)
})
