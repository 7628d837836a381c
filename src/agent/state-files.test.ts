/**
 * The agent's own state files read back: a full host record round-trips, a damaged one is
 * refused naming the file and the field, an event file whose event disagrees with its entry is
 * skipped, damaged anti-rollback marks are unreadable as a whole, and text cut inside a
 * surrogate pair (a truncated stderr tail) still reads back.
 */
import { afterEach, beforeEach, describe, expect, test } from 'bun:test'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { newPendingHost } from '../core/index.ts'
import { removeDir, tempDir } from '../../tests/support/fixtures.ts'
import { AnchorStore } from './anchors.ts'
import { HostStore, NEW_META, type StoredHost } from './host-store.ts'
import { Outbox } from './outbox.ts'

const R1 = 'stable@1111'
let dir = ''

const host = (over: Partial<StoredHost['state']> = {}): StoredHost => ({
  state: {
    ...newPendingHost({
      rolloutId: R1,
      hostname: 'web-01',
      channel: 'stable',
      targetClosure: 'v1',
      dispatchedAt: 5,
    }),
    phase: 'Failed',
    policyApplied: 'rollback-and-halt',
    probeTopology: [{ probeName: 'http', kind: 'http', mode: 'enforce' }],
    probes: {
      http: {
        status: 'fail',
        mode: 'enforce',
        lastObservedAt: 9,
        lastPassAt: null,
        failingSince: 7,
        failureReason: 'x',
      },
    },
    lastEventSeq: 4,
    ...over,
  },
  policy: { onHealthFailure: 'rollback-and-halt', soakMs: 60_000, sustainedFailureMs: 30_000 },
  waveIndex: 2,
  meta: { activationAttempts: 1, rollbackAttempts: 1, priorFromCp: true },
})

beforeEach(() => {
  dir = tempDir()
})
afterEach(() => removeDir(dir))

describe('host records', () => {
  test('a full record round-trips', () => {
    const store = new HostStore(dir)
    store.save(host())
    expect(new HostStore(dir).loadAll()).toEqual({ hosts: [host()], unreadable: [] })
  })

  test('a damaged field is refused with the file and the field named', () => {
    const store = new HostStore(dir)
    store.save(host())
    const path = join(dir, 'hosts', `${R1}.json`)
    const raw = JSON.parse(readFileSync(path, 'utf8'))
    raw.state.probes.http.failingSince = 'yesterday'
    writeFileSync(path, JSON.stringify(raw))
    const { hosts, unreadable } = store.loadAll()
    expect(hosts).toEqual([])
    expect(unreadable).toHaveLength(1)
    expect(unreadable[0]!.file).toBe(`${R1}.json`)
    expect(unreadable[0]!.reason).toContain(path)
    expect(unreadable[0]!.reason).toContain('state.probes.http.failingSince')
  })

  test("a record without priorFromCp (older file) reads as the host's own prior", () => {
    const store = new HostStore(dir)
    store.save(host())
    const path = join(dir, 'hosts', `${R1}.json`)
    const raw = JSON.parse(readFileSync(path, 'utf8'))
    delete raw.meta.priorFromCp
    writeFileSync(path, JSON.stringify(raw))
    expect(store.loadAll().hosts[0]!.meta).toEqual({
      ...NEW_META,
      activationAttempts: 1,
      rollbackAttempts: 1,
    })
  })
})

test('a stderr tail cut inside a surrogate pair still reads back', () => {
  const box = new Outbox(dir)
  const stderrTail = 'boom \ud83d'
  const event = { kind: 'ActivationFailed' as const, seq: 1, exitCode: 1, stderrTail, failedAt: 1 }
  box.enqueue({
    rolloutId: R1,
    seq: 1,
    kind: 'ActivationFailed',
    durable: true,
    createdAt: 1,
    event,
  })
  expect(box.pending()[0]!.entries[0]!.event).toEqual(event)
  expect(box.corrupt).toEqual([])
})

test('an event file whose event disagrees with its entry is skipped and reported', () => {
  const box = new Outbox(dir)
  const event = { kind: 'ActivationStarted' as const, seq: 1, startedAt: 1, switchMethod: 's' }
  box.enqueue({
    rolloutId: R1,
    seq: 1,
    kind: 'ActivationStarted',
    durable: true,
    createdAt: 1,
    event,
  })
  box.enqueue({
    rolloutId: R1,
    seq: 2,
    kind: 'ActivationStarted',
    durable: true,
    createdAt: 1,
    event,
  })
  expect(box.pending()[0]!.entries.map((e) => e.seq)).toEqual([1])
  expect(box.corrupt).toHaveLength(1)
  expect(box.corrupt[0]!.reason).toContain('kind and seq differ')
})

test('damaged anti-rollback marks are unreadable as a whole, with the field named', () => {
  const path = join(dir, 'anti-rollback.json')
  writeFileSync(
    path,
    JSON.stringify({
      version: 1,
      marks: { fleet: { signedAtMs: 5, ciCommit: null }, x: { signedAtMs: 'x' } },
      reanchoredAt: null,
    })
  )
  const anchors = new AnchorStore(dir)
  expect(anchors.startProblem).toBe('unreadable')
  expect(anchors.get('fleet')).toBeUndefined()
  expect(anchors.unreadableReason).toContain('marks.x.signedAtMs')
  expect(new AnchorStore(join(dir, 'elsewhere')).startProblem).toBe('missing')
})
