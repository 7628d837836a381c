/**
 * Unit tests of the host views as pure functions of a `CpState` built by hand, at an injected
 * `now`: the operator API's row fields, the problem each host shows, the filters, a host's
 * detail, and a host the CP knows but the fleet no longer declares.
 */
import { describe, expect, test } from 'bun:test'
import * as v from 'valibot'
import { newPendingHost } from '../../../core/index.ts'
import type { KnownHost } from '../../../db/store.ts'
import { FleetResolvedSchema } from '../../../proto/fleet.ts'
import { CpState, type AdoptedArtifact } from '../../state.ts'
import { fleetJson } from '../../../../tests/support/fixtures.ts'
import { hostDetailView, hostsView } from './hosts.ts'

const NOW = Date.UTC(2026, 4, 1, 12)
const MIN = 60_000
const RID = `stable@${'a'.repeat(40)}`
const ctx = { now: NOW, heartbeatIntervalMs: MIN }

function artifact<T>(value: T): AdoptedArtifact<T> {
  return {
    bytes: new Uint8Array(),
    signature: new Uint8Array(),
    sha256: '0'.repeat(64),
    signedAt: '2026-05-01T11:00:00Z',
    signedAtMs: NOW - 60 * MIN,
    ciCommit: null,
    value,
  }
}

function known(hostname: string, over: Partial<KnownHost> = {}): KnownHost {
  return {
    hostname,
    channel: 'stable',
    currentClosure: `c-${hostname}-0`,
    currentClosureAt: NOW - 30 * MIN,
    targetClosure: null,
    lastSeenAt: NOW - 30 * MIN,
    lastRolloutId: null,
    lastRolloutOutcome: null,
    enrolledAt: NOW - 60 * MIN,
    cert: { serial: 'abc1', notBefore: NOW - 60 * MIN, notAfter: NOW + 30 * 86_400_000 },
    closureHistory: [],
    ...over,
  }
}

/** A fleet of web-1..web-4 on `stable`, rollout RID open with web-1 Pending. */
function fleet(): CpState {
  const s = new CpState()
  const value = v.parse(
    FleetResolvedSchema,
    fleetJson({ hosts: { 'web-1': {}, 'web-2': {}, 'web-3': {}, 'web-4': {} } })
  )
  const manifest = { ...artifact(null as never), rolloutId: RID }
  s.release = { fleet: artifact(value), manifests: { stable: manifest }, adoptedAt: NOW }
  s.putHost(
    newPendingHost({
      rolloutId: RID,
      hostname: 'web-1',
      channel: 'stable',
      targetClosure: 'c-web-1-1',
      dispatchedAt: NOW - MIN,
    }),
    0
  )
  return s
}

const rows = (s: CpState, filter = {}) =>
  Object.fromEntries(hostsView(s, ctx, filter).hosts.map((h) => [h['hostname'], h]))

describe('hosts view', () => {
  test('each host with its closure, last rollout, enrolment, certificate and problem', () => {
    const s = fleet()
    // web-1: heard a moment ago, refusing its dispatch as Stale.
    s.knownHosts.set('web-1', known('web-1', { lastSeenAt: NOW - 5000 }))
    s.heartbeats.set('web-1', {
      at: NOW - 5000,
      receivedAt: NOW - 5000,
      closure: 'c-web-1-0',
      seqs: {},
      refusal: { rolloutId: RID, kind: 'Stale', message: 'manifest signed 2h ago', at: NOW - MIN },
    })
    // web-2: last heard 30 minutes ago (before this process started), revoked since.
    s.knownHosts.set(
      'web-2',
      known('web-2', { lastRolloutId: RID, lastRolloutOutcome: 'converged' })
    )
    s.revocations.set('web-2', {
      hostname: 'web-2',
      notBefore: NOW - 10 * MIN,
      reason: 'stolen',
      revokedBy: null,
      revokedAt: NOW - 10 * MIN,
    })
    // web-3: refused at enrolment; web-4: nothing at all.
    s.enrolmentRefusals.set('web-3', { at: NOW - MIN, reason: 'bootstrap token has expired' })
    const r = rows(s)
    expect(r['web-1']).toMatchObject({
      channel: 'stable',
      currentClosure: 'c-web-1-0',
      targetClosure: 'c-web-1-1',
      declaredClosure: null,
      rolloutState: 'Pending',
      converged: false,
      lastSeenAt: '2026-05-01T11:59:55.000Z',
      lastRollout: { id: RID, outcome: 'in-progress' },
      enrolment: { state: 'enrolled', at: '2026-05-01T11:00:00.000Z', reason: null },
      certificate: { serial: 'abc1', revoked: false, denied: false },
      problem: {
        kind: 'refused-dispatch',
        message: 'refused: Stale: manifest signed 2h ago',
        since: '2026-05-01T11:59:00.000Z',
      },
      gate: null,
      pendingReboot: false,
    })
    // The rollout closed for web-2 (no live record): its outcome is the kept one.
    expect(r['web-2']).toMatchObject({
      rolloutState: null,
      lastRollout: { id: RID, outcome: 'converged' },
      certificate: { revoked: true },
      problem: { kind: 'cert-revoked' },
    })
    expect(r['web-3']).toMatchObject({
      enrolment: { state: 'refused', reason: 'bootstrap token has expired' },
      problem: {
        kind: 'enrolment-refused',
        message: 'enrolment refused: bootstrap token has expired',
      },
      certificate: null,
    })
    expect(r['web-4']).toMatchObject({
      enrolment: { state: 'never', at: null, reason: null },
      problem: { kind: 'never-enrolled' },
      lastSeenAt: null,
    })
  })

  test('a host silent for three intervals is offline; ?problem=1 and ?channel= filter', () => {
    const s = fleet()
    for (const h of ['web-1', 'web-2', 'web-3', 'web-4'])
      s.knownHosts.set(h, known(h, { lastSeenAt: NOW - 10_000 }))
    s.knownHosts.set('web-2', known('web-2', { lastSeenAt: NOW - 3 * MIN - 10_000 }))
    expect(rows(s)['web-2']?.['problem']).toEqual({
      kind: 'offline',
      message: 'not seen for 3m10s',
      since: '2026-05-01T11:56:50.000Z',
    })
    expect(Object.keys(rows(s, { problem: true }))).toEqual(['web-2'])
    expect(Object.keys(rows(s, { channel: 'stable' }))).toHaveLength(4)
    expect(Object.keys(rows(s, { channel: 'edge' }))).toEqual([])
  })

  test('a host the fleet no longer declares is still listed from its record', () => {
    const s = fleet()
    const last = `stable@${'b'.repeat(40)}`
    s.knownHosts.set(
      'old-1',
      known('old-1', { lastSeenAt: NOW - 1000, lastRolloutId: last, lastRolloutOutcome: 'failed' })
    )
    expect(rows(s)['old-1']).toMatchObject({
      channel: 'stable',
      currentClosure: 'c-old-1-0',
      rolloutState: null,
      lastRollout: { id: last, outcome: 'failed' },
    })
  })
})

describe('host detail', () => {
  test('the row with its closure history, probes and latest events; 404 when unknown', () => {
    const s = fleet()
    const history = [
      { closure: 'c-web-1-0', at: NOW - 30 * MIN, rolloutId: RID },
      { closure: 'c-web-1-x', at: NOW - 90 * MIN, rolloutId: null },
    ]
    s.knownHosts.set('web-1', known('web-1', { lastSeenAt: NOW - 1000, closureHistory: history }))
    const events = [
      {
        seq: 7,
        ts: NOW - MIN,
        kind: 'agent_event' as const,
        host: 'web-1',
        rolloutId: RID,
        payload: {},
      },
    ]
    const d = hostDetailView(s, 'web-1', ctx, events)
    expect(d).toMatchObject({
      ok: true,
      body: {
        hostname: 'web-1',
        closureHistory: [
          { closure: 'c-web-1-0', at: '2026-05-01T11:30:00.000Z', rolloutId: RID },
          { closure: 'c-web-1-x', at: '2026-05-01T10:30:00.000Z', rolloutId: null },
        ],
        probes: [],
        events: [{ seq: 7, at: '2026-05-01T11:59:00.000Z', rolloutId: RID, kind: 'agent_event' }],
      },
    })
    expect(hostDetailView(s, 'nobody', ctx, [])).toEqual({
      ok: false,
      status: 404,
      error: 'unknown host nobody',
    })
  })
})
