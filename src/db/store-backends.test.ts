// The Store contract on both backends: one test body run against SQLite (`:memory:`) and a
// fresh PostgreSQL database, plus what only the PostgreSQL write buffer does (fence, failure,
// commit order).
import { describe, expect, test } from 'bun:test'
import { type HostRolloutState, type RolloutRecord } from '../core/index.ts'
import { usePostgres } from '../../tests/support/postgres.ts'
import { pendingHost, rolloutRecord } from '../../tests/support/records.ts'
import { FencedOut } from './pg/fence.ts'
import { openPostgres } from './pg/client.ts'
import { applyPgMigrations } from './pg/migrate.ts'
import { openPgStore, type PgStore } from './pg/store.ts'
import { openStore, type FrozenPolicy, type KnownHost, type Store } from './store.ts'

const pg = usePostgres()
let databases = 0

/** A migrated fresh PostgreSQL database and a store on it (no fence unless given). */
async function pgStore(fence: () => number | undefined = () => undefined): Promise<{
  store: PgStore
  url: string
}> {
  const url = await pg().createDatabase(`store_${process.pid}_${++databases}`)
  const open = await openPostgres({ url, passwordFile: pg().passwordFile })
  const { wasEmpty } = await applyPgMigrations(open.sql)
  return { store: openPgStore(open, { fence, wasEmpty }), url }
}

/** A second client on the database at `url`, as another process would have. */
async function otherClient(url: string): Promise<Bun.SQL> {
  return (await openPostgres({ url, passwordFile: pg().passwordFile })).sql
}

const backends: [string, () => Promise<Store>][] = [
  ['sqlite', async () => openStore(':memory:')],
  ['postgres', async () => (await pgStore()).store],
]

const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const POLICY: FrozenPolicy = {
  policyName: 'p',
  policy: null,
  waves: [{ hosts: ['a'], soakMinutes: 1 }],
}

const rollout = (id: string, openedAt: number, over: Partial<RolloutRecord> = {}) =>
  rolloutRecord(id, openedAt, over)
const host = (rolloutId: string, hostname: string, over: Partial<HostRolloutState> = {}) =>
  pendingHost(rolloutId, hostname, T0, over)

/** A host known in every field; tests blank what they need blank. */
function known(hostname: string, over: Partial<KnownHost> = {}): KnownHost {
  return {
    hostname,
    channel: 'stable',
    currentClosure: 'c2',
    currentClosureAt: T0,
    targetClosure: 'c2',
    lastSeenAt: T0 + 1,
    lastRolloutId: 'r1',
    lastRolloutOutcome: 'converged',
    enrolledAt: T0 - 1,
    cert: { serial: 's', notBefore: T0 - 10, notAfter: T0 + 10 },
    closureHistory: [{ closure: 'c2', at: T0, rolloutId: 'r1' }],
    ...over,
  }
}

/** Appends events 1..n: rollouts and records reference their seqs. */
function appendEvents(store: Store, n: number): void {
  for (let seq = 1; seq <= n; seq++)
    store.events.append({ seq, ts: T0, kind: 'rollout_event', payload: {} })
}

const byKey =
  <T>(key: (t: T) => string) =>
  (a: T, b: T) =>
    key(a) < key(b) ? -1 : 1

describe.each(backends)('Store on %s', (_name, open) => {
  test('a fresh database is empty and numbers events from 1', async () => {
    const store = await open()
    expect(store.wasEmpty).toBe(true)
    expect(await store.events.count()).toBe(0)
    expect(await store.events.nextSeq()).toBe(1)
    store.close()
  })

  test('events: append, read by seq, kind, host and rollout, page both ways', async () => {
    const store = await open()
    store.transaction(() => {
      for (let seq = 1; seq <= 6; seq++)
        store.events.append({
          seq,
          ts: T0 + seq,
          kind: seq % 2 === 0 ? 'agent_event' : 'rollout_event',
          host: seq <= 4 ? 'a' : 'b',
          rolloutId: seq === 6 ? null : 'r1',
          payload: { n: seq },
        })
    })
    await store.durable()
    expect(await store.events.count()).toBe(6)
    expect(await store.events.nextSeq()).toBe(7)
    expect(await store.events.bySeq(2)).toEqual({
      seq: 2,
      ts: T0 + 2,
      kind: 'agent_event',
      host: 'a',
      rolloutId: 'r1',
      payload: { n: 2 },
    })
    expect(await store.events.bySeq(99)).toBeUndefined()
    const seqs = (es: { seq: number }[]) => es.map((e) => e.seq)
    expect(seqs(await store.events.forRollout('r1', 3))).toEqual([1, 2, 3])
    expect(seqs(await store.events.ofKind('agent_event'))).toEqual([2, 4, 6])
    expect(seqs(await store.events.ofKind('agent_event', 2))).toEqual([4, 6])
    expect(seqs(await store.events.forHost('a', 3))).toEqual([4, 3, 2])
    const page = (q: Partial<Parameters<Store['events']['pageOfRollout']>[1]>) =>
      store.events.pageOfRollout('r1', {
        cursor: undefined,
        host: undefined,
        kind: undefined,
        order: 'asc',
        limit: 10,
        ...q,
      })
    expect(seqs(await page({ limit: 2 }))).toEqual([1, 2])
    expect(seqs(await page({ cursor: 2, limit: 2 }))).toEqual([3, 4])
    expect(seqs(await page({ order: 'desc', limit: 2 }))).toEqual([5, 4])
    expect(seqs(await page({ order: 'desc', cursor: 4 }))).toEqual([3, 2, 1])
    expect(seqs(await page({ host: 'b' }))).toEqual([5])
    expect(seqs(await page({ kind: 'agent_event' }))).toEqual([2, 4])
    store.close()
  })

  test('trimming probe results keeps the newest and the first failure of each item', async () => {
    const store = await open()
    const probe = { kind: 'ProbeResult' }
    store.transaction(() => {
      for (let seq = 1; seq <= 6; seq++)
        store.events.append({
          seq,
          ts: T0,
          kind: 'agent_event',
          host: 'a',
          rolloutId: 'r1',
          payload: probe,
        })
      // Not a probe result, another host: both untouched.
      store.events.append({
        seq: 7,
        ts: T0,
        kind: 'agent_event',
        host: 'a',
        rolloutId: 'r1',
        payload: { kind: 'Other' },
      })
      store.events.append({
        seq: 8,
        ts: T0,
        kind: 'agent_event',
        host: 'b',
        rolloutId: 'r1',
        payload: probe,
      })
      for (const seq of [2, 3])
        store.safety.insertProbeFailure({
          eventLogSeq: seq,
          rolloutId: 'r1',
          host: 'a',
          probeName: 'p',
          controlId: null,
          framework: null,
          observedAt: T0,
        })
      store.events.trimProbeResults('a', 'r1', 2)
    })
    await store.durable()
    expect((await store.events.forRollout('r1', 100)).map((e) => e.seq)).toEqual([2, 5, 6, 7, 8])
    store.close()
  })

  test('a nested transaction that throws discards only its own writes', async () => {
    const store = await open()
    const result = store.transaction(() => {
      store.events.append({ seq: 1, ts: T0, kind: 'effect', payload: {} })
      expect(() =>
        store.transaction(() => {
          store.events.append({ seq: 2, ts: T0, kind: 'effect', payload: {} })
          throw new Error('inner')
        })
      ).toThrow('inner')
      store.transaction(() => store.events.append({ seq: 3, ts: T0, kind: 'effect', payload: {} }))
      return 'done'
    })
    expect(result).toBe('done')
    expect(() =>
      store.transaction(() => {
        store.events.append({ seq: 4, ts: T0, kind: 'effect', payload: {} })
        throw new Error('outer')
      })
    ).toThrow('outer')
    await store.durable()
    expect((await store.events.ofKind('effect')).map((e) => e.seq)).toEqual([1, 3])
    store.close()
  })

  test('host records: upsert replaces, live and retired split, delete of a rollout', async () => {
    const store = await open()
    store.transaction(() => {
      appendEvents(store, 9)
      store.rollouts.insert(rollout('open', T0), POLICY, [], 1)
      store.rollouts.insert(rollout('closed', T0, { phase: 'Terminal' }), POLICY, [], 2)
      store.hosts.upsert(host('open', 'a'), 0)
      store.hosts.upsert(host('closed', 'b'), 1)
      store.hosts.upsert(host('closed', 'c', { phase: 'Soaking' }), 1)
    })
    const replaced = host('open', 'a', {
      phase: 'Soaking',
      soakDueAt: T0 + 5,
      policyApplied: 'halt',
      probeTopology: [{ probeName: 'p', kind: 'k', mode: 'enforce' }],
      probes: {
        p: {
          status: 'fail',
          mode: 'enforce',
          lastObservedAt: T0 + 2,
          lastPassAt: null,
          failingSince: T0 + 1,
          failureReason: 'down',
        },
      },
      lastEventSeq: 9,
    })
    store.transaction(() => store.hosts.upsert(replaced, 2))
    await store.durable()
    expect(await store.hosts.get('open', 'a')).toEqual({ state: replaced, waveIndex: 2 })
    expect(await store.hosts.get('open', 'zz')).toBeUndefined()
    const names = (hs: { state: HostRolloutState }[]) => hs.map((h) => h.state.hostname).sort()
    expect(names(await store.hosts.loadLive())).toEqual(['a', 'c'])
    expect(names(await store.hosts.loadRetired())).toEqual(['b'])
    expect(names(await store.hosts.ofRollout('closed'))).toEqual(['b', 'c'])
    store.transaction(() => store.hosts.deleteOfRollout('closed'))
    await store.durable()
    expect(await store.hosts.ofRollout('closed')).toEqual([])
    expect(names(await store.hosts.loadLive())).toEqual(['a'])
    store.close()
  })

  test('known hosts: upsert replaces the whole row', async () => {
    const store = await open()
    const blank = known('a', { channel: null, cert: null, lastRolloutOutcome: null })
    const full = known('a', { closureHistory: [] })
    store.transaction(() => {
      store.knownHosts.upsert(blank)
      store.knownHosts.upsert(known('b'))
    })
    store.transaction(() => store.knownHosts.upsert(full))
    await store.durable()
    expect((await store.knownHosts.all()).sort(byKey((h) => h.hostname))).toEqual([
      full,
      known('b'),
    ])
    store.close()
  })

  test('rollouts: insert once, update, page newest first with a cursor and filters', async () => {
    const store = await open()
    store.transaction(() => {
      appendEvents(store, 7)
      store.rollouts.insert(rollout('r1', T0), POLICY, [], 1)
      store.rollouts.insert(rollout('r2', T0 + 1), POLICY, [], 2)
      store.rollouts.insert(rollout('r3', T0 + 1, { channel: 'beta' }), POLICY, [], 3)
      store.rollouts.insert(rollout('r4', T0 + 2, { phase: 'Terminal' }), POLICY, [], 4)
      // The id exists: ignored.
      store.rollouts.insert(rollout('r1', T0 + 9, { channel: 'other' }), POLICY, [], 5)
    })
    const halted = rollout('r1', T0, {
      phase: 'Failed',
      halt: { at: T0 + 3, reason: 'x' } as never,
      supersededBy: 'r2',
    })
    store.transaction(() => {
      store.rollouts.update(halted, 7)
      store.rollouts.update(rollout('r2', T0 + 1, { currentWave: 1 }), null)
    })
    await store.durable()
    const r1 = await store.rollouts.get('r1')
    expect(r1).toEqual({ record: halted, policy: POLICY, budgets: [], openedEventLogSeq: 1 })
    expect((await store.rollouts.get('r2'))?.record.currentWave).toBe(1)
    expect(await store.rollouts.get('nope')).toBeUndefined()
    expect((await store.rollouts.loadAll()).map((r) => r.record.rolloutId).sort()).toEqual([
      'r1',
      'r2',
      'r3',
      'r4',
    ])
    const ids = (rs: { record: RolloutRecord }[]) => rs.map((r) => r.record.rolloutId)
    expect(ids(await store.rollouts.page({ limit: 10 }))).toEqual(['r4', 'r3', 'r2', 'r1'])
    expect(ids(await store.rollouts.page({ limit: 2 }))).toEqual(['r4', 'r3'])
    expect(
      ids(await store.rollouts.page({ limit: 2, after: { openedAt: T0 + 1, rolloutId: 'r3' } }))
    ).toEqual(['r2', 'r1'])
    expect(ids(await store.rollouts.page({ limit: 10, channel: 'beta' }))).toEqual(['r3'])
    expect(ids(await store.rollouts.page({ limit: 10, states: ['Terminal', 'Failed'] }))).toEqual([
      'r4',
      'r1',
    ])
    expect(ids(await store.rollouts.page({ limit: 10, states: [] }))).toEqual([])
    store.close()
  })

  test('dispatch queue: upsert replaces, oldest first, deletes', async () => {
    const store = await open()
    const d = (hostname: string, rolloutId: string, enqueuedAt: number, waveIndex = 0) => ({
      hostname,
      rolloutId,
      targetClosure: 'c',
      soakDueAt: enqueuedAt + 1,
      enqueuedAt,
      waveIndex,
    })
    store.transaction(() => {
      store.dispatch.upsert(d('a', 'r1', T0 + 2))
      store.dispatch.upsert(d('b', 'r1', T0 + 1))
      store.dispatch.upsert(d('c', 'r2', T0 + 3))
      store.dispatch.upsert(d('a', 'r1', T0 + 4, 1))
    })
    await store.durable()
    expect(await store.dispatch.all()).toEqual([
      d('b', 'r1', T0 + 1),
      d('c', 'r2', T0 + 3),
      d('a', 'r1', T0 + 4, 1),
    ])
    store.transaction(() => {
      store.dispatch.delete('b', 'r1')
      store.dispatch.delete('nobody', 'r1')
    })
    await store.durable()
    expect((await store.dispatch.all()).map((x) => x.hostname)).toEqual(['c', 'a'])
    store.transaction(() => store.dispatch.deleteOfRollout('r1'))
    await store.durable()
    expect((await store.dispatch.all()).map((x) => x.hostname)).toEqual(['c'])
    store.close()
  })

  test('security: nonces once, pruned by their retention; revocations replaced', async () => {
    const store = await open()
    store.transaction(() => {
      store.security.insertNonce('n1', 'a', T0, T0 + 10)
      store.security.insertNonce('n2', 'a', T0, T0 + 100)
      store.security.insertNonce('n1', 'b', T0 + 5, T0 + 500)
    })
    await store.durable()
    expect((await store.security.usedNonces()).sort(byKey((n) => n.nonce))).toEqual([
      { nonce: 'n1', firstSeen: T0, keepUntil: T0 + 10 },
      { nonce: 'n2', firstSeen: T0, keepUntil: T0 + 100 },
    ])
    expect(await store.security.nonceUsed('n1')).toBe(true)
    expect(await store.security.nonceUsed('n3')).toBe(false)
    store.transaction(() => store.security.pruneNonces(T0 + 50, T0))
    await store.durable()
    expect((await store.security.usedNonces()).map((n) => n.nonce)).toEqual(['n2'])
    const rev = { hostname: 'a', notBefore: T0, reason: 'lost', revokedBy: 'op', revokedAt: T0 }
    const again = { ...rev, notBefore: T0 + 1, reason: null, revokedBy: null, revokedAt: T0 + 1 }
    store.transaction(() => store.security.upsertRevocation(rev))
    store.transaction(() => store.security.upsertRevocation(again))
    await store.durable()
    expect(await store.security.revocations()).toEqual([again])
    store.close()
  })

  test('release: marks and artifacts are replaced, bytes round-trip', async () => {
    const store = await open()
    const mark = { key: 'fleet', signedAtMs: T0, ciCommit: 'abc', sha256: 's1' }
    const raised = { ...mark, signedAtMs: T0 + 1, ciCommit: null, sha256: 's2' }
    const art = {
      key: 'fleet',
      artifact: new Uint8Array([0, 1, 255]),
      signature: new Uint8Array([]),
      sha256: 's1',
      adoptedAt: T0,
    }
    const newer = { ...art, artifact: new Uint8Array([9]), signature: new Uint8Array([7]) }
    store.transaction(() => {
      store.release.setMark(mark, T0)
      store.release.setArtifact(art)
    })
    store.transaction(() => {
      store.release.setMark(raised, T0 + 1)
      store.release.setArtifact(newer)
    })
    await store.durable()
    expect(await store.release.marks()).toEqual([raised])
    expect(await store.release.artifacts()).toEqual([newer])
    store.close()
  })

  test('fleet safety and operator records', async () => {
    const store = await open()
    const q = { channel: 'stable', closure: 'c1', quarantinedAt: T0, eventLogSeq: 1 }
    const failure = {
      eventLogSeq: 1,
      rolloutId: 'r1',
      host: 'a',
      probeName: 'p',
      controlId: null,
      framework: null,
    }
    const action = (n: number) => ({
      at: T0 + n,
      operator: 'op',
      action: `act${n}`,
      target: 't',
      reason: n === 1 ? 'why' : null,
      eventLogSeq: 1,
    })
    const skip = { rolloutId: 'r1', hostname: 'a', at: T0, operator: 'op', reason: 'r' }
    const denial = { kind: 'host' as const, name: 'a', reason: 'x', by: 'op', at: T0 }
    store.transaction(() => {
      store.events.append({ seq: 1, ts: T0, kind: 'operator_action', payload: {} })
      store.safety.quarantine(q)
      store.safety.quarantine({ ...q, quarantinedAt: T0 + 1 })
      store.safety.quarantine({ ...q, closure: 'c2', eventLogSeq: null })
      store.safety.insertProbeFailure({ ...failure, observedAt: T0 })
      store.safety.insertProbeFailure({ ...failure, eventLogSeq: 1, observedAt: T0 + 1 })
      store.safety.insertProbeFailure({ ...failure, controlId: 'C-1', observedAt: T0 })
      store.safety.insertProbeFailure({ ...failure, host: 'b', observedAt: T0 })
      for (const n of [1, 2, 3]) store.safety.insertOperatorAction(action(n))
      store.operator.insertSkip(skip)
      store.operator.insertSkip({ ...skip, reason: 'ignored' })
      store.operator.insertSkip({ ...skip, rolloutId: 'r2' })
      store.operator.upsertDenial(denial)
      store.operator.upsertDenial({ ...denial, reason: 'y', at: T0 + 1 })
      store.operator.upsertDenial({ ...denial, kind: 'operator', name: 'cn' })
    })
    await store.durable()
    expect((await store.safety.quarantines()).sort(byKey((x) => x.closure))).toEqual([
      q,
      { ...q, closure: 'c2', eventLogSeq: null },
    ])
    const keys = (await store.safety.probeFailureKeys()).map(
      (k) => `${k.rolloutId}/${k.host}/${k.item}`
    )
    expect(keys.sort()).toEqual(['r1/a/C-1', 'r1/a/p', 'r1/b/p'])
    const actions = await store.operator.actions(0, 2)
    expect(actions).toEqual([
      { id: 1, at: T0 + 1, operator: 'op', action: 'act1', target: 't', reason: 'why' },
      { id: 2, at: T0 + 2, operator: 'op', action: 'act2', target: 't', reason: null },
    ])
    expect((await store.operator.actions(2, 10)).map((a) => a.action)).toEqual(['act3'])
    expect((await store.operator.skips()).sort(byKey((s) => s.rolloutId))).toEqual([
      skip,
      { ...skip, rolloutId: 'r2' },
    ])
    expect((await store.operator.denials()).sort(byKey((d) => d.kind))).toEqual([
      { ...denial, reason: 'y', at: T0 + 1 },
      { ...denial, kind: 'operator', name: 'cn' },
    ])
    store.transaction(() => {
      store.safety.unquarantine('stable', 'c1')
      store.operator.deleteSkipsOf('r1')
      store.operator.deleteProbeFailuresOf('r1', 'a')
      store.operator.deleteDenial('host', 'a')
    })
    await store.durable()
    expect((await store.safety.quarantines()).map((x) => x.closure)).toEqual(['c2'])
    expect((await store.operator.skips()).map((s) => s.rolloutId)).toEqual(['r2'])
    expect((await store.safety.probeFailureKeys()).map((k) => k.host)).toEqual(['b'])
    expect((await store.operator.denials()).map((d) => d.kind)).toEqual(['operator'])
    store.close()
  })
})

describe('Store on postgres only', () => {
  test('writes outside a transaction are refused; statements can be appended', async () => {
    const { store, url } = await pgStore()
    expect(() => store.events.append({ seq: 1, ts: T0, kind: 'effect', payload: {} })).toThrow(
      'outside store.transaction'
    )
    expect(() => store.appendStatement({ text: 'SELECT 1', params: [] })).toThrow()
    store.transaction(() => {
      store.events.append({ seq: 1, ts: T0, kind: 'effect', payload: {} })
      store.appendStatement({ text: 'UPDATE cp_leader SET holder = $1', params: ['me'] })
    })
    await store.durable()
    const other = await otherClient(url)
    expect(await other`SELECT holder FROM cp_leader`).toEqual([{ holder: 'me' }])
    await other.close()
    store.close()
  })

  test('a failed statement rolls the whole job back and fails the store for good', async () => {
    const { store, url } = await pgStore()
    store.transaction(() => store.events.append({ seq: 1, ts: T0, kind: 'effect', payload: {} }))
    await store.durable()
    store.transaction(() => {
      store.events.append({ seq: 2, ts: T0, kind: 'effect', payload: {} })
      store.knownHosts.upsert(known('a'))
      store.events.append({ seq: 1, ts: T0, kind: 'effect', payload: {} }) // duplicate key
      store.knownHosts.upsert(known('b'))
    })
    await expect(store.durable()).rejects.toThrow('duplicate key')
    store.transaction(() => store.events.append({ seq: 3, ts: T0, kind: 'effect', payload: {} }))
    await expect(store.durable()).rejects.toThrow('duplicate key')
    const other = await otherClient(url)
    expect(await other`SELECT seq FROM event_log ORDER BY seq`).toEqual([{ seq: '1' }])
    expect(await other`SELECT count(*)::int AS n FROM host_records`).toEqual([{ n: 0 }])
    await other.close()
    store.close()
  })

  test('a fence mismatch rejects with FencedOut and commits nothing', async () => {
    const { store, url } = await pgStore(() => 1)
    const other = await otherClient(url)
    await other`UPDATE cp_leader SET epoch = 1`
    store.transaction(() => store.events.append({ seq: 1, ts: T0, kind: 'effect', payload: {} }))
    await store.durable()
    await other`UPDATE cp_leader SET epoch = 2`
    store.transaction(() => store.events.append({ seq: 2, ts: T0, kind: 'effect', payload: {} }))
    const failed = store.durable()
    await expect(failed).rejects.toBeInstanceOf(FencedOut)
    await expect(failed).rejects.toThrow('fenced out: epoch 1')
    expect(await other`SELECT seq FROM event_log ORDER BY seq`).toEqual([{ seq: '1' }])
    await other.close()
    store.close()
  })

  test('jobs commit in submission order', async () => {
    const { store, url } = await pgStore()
    const durables: Promise<void>[] = []
    const committed: number[] = []
    for (let i = 1; i <= 40; i++) {
      store.transaction(() => {
        store.events.append({ seq: i, ts: T0 + i, kind: 'effect', payload: { i } })
        // Each job overwrites the same row: the last one submitted must be the one left.
        store.knownHosts.upsert(known('a', { lastSeenAt: T0 + i }))
      })
      const n = i
      durables.push(store.durable().then(() => void committed.push(n)))
    }
    await Promise.all(durables)
    expect(committed).toEqual(Array.from({ length: 40 }, (_, k) => k + 1))
    expect((await store.knownHosts.all())[0]?.lastSeenAt).toBe(T0 + 40)
    const other = await otherClient(url)
    const xmins =
      (await other`SELECT seq, xmin::text::bigint AS x FROM event_log ORDER BY seq`) as {
        x: string
      }[]
    // One transaction per job, in order: transaction ids rise with the seqs.
    const ids = xmins.map((r) => Number(r.x))
    expect(new Set(ids).size).toBe(40)
    expect([...ids].sort((a, b) => a - b)).toEqual(ids)
    await other.close()
    store.close()
  })
})
