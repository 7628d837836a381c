/**
 * The heartbeat worker against a scripted HTTPS stand-in, wired to a real mutator and outbox:
 * the body carries the agent's uptime and the last seq of each of its rollouts, and a
 * Replay-From the CP answers with reaches the outbox (the delivered events above it are queued
 * again), spec runtime.md §6.3 and protocol §10.3.
 */
import { afterAll, afterEach, beforeAll, beforeEach, expect, test } from 'bun:test'
import type { HostPolicy } from '../../core/index.ts'
import { REPLAY_FROM_HEADER } from '../../proto/agent.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { createLogger } from '../../runtime/log.ts'
import {
  closureId,
  httpsServer,
  jsonReply,
  removeDir,
  tempDir,
  testPki,
  type TestPki,
  type TestReply,
  type TestServer,
} from '../../../tests/support/fixtures.ts'
import { AgentClient } from '../cp-client.ts'
import { HostStore } from '../host-store.ts'
import { Metrics } from '../metrics.ts'
import { AgentMutator } from '../mutator/loop.ts'
import { Outbox } from '../outbox.ts'
import { HeartbeatWorker } from './heartbeat.ts'

const T0 = Date.UTC(2026, 4, 1, 12)
const R1 = 'stable@1111'
const PRIOR = closureId('prior')
const V1 = closureId('v1')
const POLICY: HostPolicy = {
  onHealthFailure: 'rollback-and-halt',
  soakMs: 60_000,
  sustainedFailureMs: 30_000,
}

let pki: TestPki
let server: TestServer
let bodies: Record<string, unknown>[] = []
let reply: () => TestReply = () => jsonReply({ received_at: '2026-05-01T12:00:00Z' })

beforeAll(async () => {
  pki = await testPki()
  server = await httpsServer(pki, (req) => {
    bodies.push(JSON.parse(req.body) as Record<string, unknown>)
    return reply()
  })
})
afterAll(() => server.stop())

let dir = ''
let clock: FakeClock
let outbox: Outbox
let mutator: AgentMutator
let worker: HeartbeatWorker

beforeEach(() => {
  dir = tempDir()
  bodies = []
  clock = new FakeClock(T0)
  outbox = new Outbox(dir)
  const log = createLogger({ component: 't', level: 'error' })
  const metrics = new Metrics()
  mutator = new AgentMutator({
    machineId: 'web-01',
    store: new HostStore(dir),
    outbox,
    clock,
    log,
    metrics,
    currentClosure: () => V1,
    activation: { submit: () => true, current: undefined, switchRunning: () => false },
    probes: { reset: () => [], stopFor: () => {}, keepWatching: () => {} },
    kickDrainer: () => {},
    signedRecordFacts: () => undefined,
  })
  worker = new HeartbeatWorker({
    client: new AgentClient({
      baseUrls: [server.url],
      identity: () => ({ ca: pki.ca.certPem }),
      userAgent: 't',
    }),
    machineId: 'web-01',
    version: '1.2.3',
    currentSystem: `${dir}/current-system`,
    clock,
    log,
    metrics,
    intervalMs: 60_000,
    backoffMaxMs: 1_000,
    activeRolloutId: () => mutator.activeRolloutId(),
    lastSeqByRollout: () => mutator.lastSeqByRollout(),
    reanchoredAt: () => null,
    lastRefusal: () => undefined,
    submit: (input) => {
      mutator.handle(input)
      return true
    },
  })
  // R1 dispatched and activated: events 1 (DispatchAck) and 2 (ActivationCompleted).
  const accepted = { rolloutId: R1, channel: 'stable', targetClosure: V1, waveIndex: 0 }
  mutator.handle({
    type: 'Dispatch',
    accepted: { ...accepted, policy: POLICY },
    receivedAt: T0,
    prior: PRIOR,
  })
  mutator.handle({
    type: 'Local',
    rolloutId: R1,
    event: {
      type: 'LocalActivationCompleted',
      observedCurrentClosure: V1,
      exitCode: 0,
      completedAt: T0,
    },
  })
})
afterEach(() => removeDir(dir))

const pendingSeqs = (): number[] =>
  (outbox.pending().find((p) => p.rolloutId === R1)?.entries ?? []).map((e) => e.seq)

test('the body carries the uptime and the last seq of each rollout', async () => {
  clock.advance(125_000)
  const r = await worker.beat(R1, { timeoutMs: 5_000 })
  expect(r.ok).toBe(true)
  expect(bodies).toHaveLength(1)
  expect(bodies[0]).toMatchObject({
    hostname: 'web-01',
    rollout_id: R1,
    agent_version: '1.2.3',
    uptime_secs: 125,
    last_event_seq_by_rollout: { [R1]: 2 },
  })
})

test("Replay-From in the CP's answer puts the delivered events above it back in the outbox", async () => {
  for (const e of outbox.pending()[0]!.entries) outbox.markSent(e)
  expect(pendingSeqs()).toEqual([])
  reply = () =>
    jsonReply({ received_at: '2026-05-01T12:00:00Z' }, 200, { [REPLAY_FROM_HEADER]: '1' })
  const r = await worker.beat(R1, { timeoutMs: 5_000 })
  expect(r.ok).toBe(true)
  expect(pendingSeqs()).toEqual([2])
})
