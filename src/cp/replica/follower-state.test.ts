/**
 * Unit tests of a follower's refresh from the database (through the Store, here on SQLite): a
 * refresh that is not of everything keeps the known hosts and the retired records it holds, and
 * reads the retired records again when a rollout closed or a closed rollout's record settled.
 */
import { describe, expect, test } from 'bun:test'
import { type HostRolloutState, type RolloutRecord } from '../../core/index.ts'
import { openStore, type FrozenPolicy, type KnownHost, type Store } from '../../db/store.ts'
import { FakeClock } from '../../runtime/clock.ts'
import { CpState } from '../state.ts'
import { refreshFollowerState } from './follower-state.ts'
import { pendingHost, rolloutRecord } from '../../../tests/support/records.ts'

const T0 = Date.parse('2026-01-01T00:00:00.000Z')
const POLICY: FrozenPolicy = {
  policyName: 'p',
  policy: null,
  waves: [{ hosts: ['a', 'b'], soakMinutes: 1 }],
}
// No trust file: nothing stored is verified (this test is about the tables).
const OPTS = {
  trustFile: '/nonexistent/trust.json',
  clock: new FakeClock(T0),
  freshnessWindowSecs: 60,
}

const rollout = (id: string, over: Partial<RolloutRecord> = {}) => rolloutRecord(id, T0, over)
const host = (rolloutId: string, hostname: string, over: Partial<HostRolloutState> = {}) =>
  pendingHost(rolloutId, hostname, T0, over)

function known(hostname: string): KnownHost {
  return {
    hostname,
    channel: 'stable',
    currentClosure: 'c1',
    currentClosureAt: T0,
    targetClosure: 'c1',
    lastSeenAt: T0,
    lastRolloutId: null,
    lastRolloutOutcome: null,
    enrolledAt: T0,
    cert: null,
    closureHistory: [],
  }
}

function write(store: Store, fn: () => void): void {
  store.transaction(fn)
}

describe('refreshFollowerState', () => {
  test('keeps known hosts and retired records unless everything is read or a rollout closed', async () => {
    const store = openStore(':memory:')
    for (let seq = 1; seq <= 5; seq++)
      write(store, () => store.events.append({ seq, ts: T0, kind: 'rollout_event', payload: {} }))
    write(store, () => {
      store.rollouts.insert(rollout('r1', { phase: 'Terminal' }), POLICY, [], 1)
      store.hosts.upsert(host('r1', 'a', { phase: 'Converged' }), 0)
      store.hosts.upsert(host('r1', 'b', { phase: 'Soaking' }), 0)
      store.knownHosts.upsert(known('a'))
    })
    const live = new CpState()
    const cache = { current: undefined }
    await refreshFollowerState(live, store, OPTS, cache, true)
    expect([...live.knownHosts.keys()]).toEqual(['a'])
    expect(Object.keys(live.retired['r1'] ?? {})).toEqual(['a'])
    expect(live.host('r1', 'b')?.phase).toBe('Soaking')

    // New rows in both tables, nothing closed or settled: kept as they were.
    write(store, () => {
      store.knownHosts.upsert(known('b'))
      store.rollouts.insert(rollout('r2'), POLICY, [], 2)
      store.hosts.upsert(host('r2', 'a'), 0)
    })
    await refreshFollowerState(live, store, OPTS, cache, false)
    expect([...live.knownHosts.keys()]).toEqual(['a'])
    expect(live.host('r2', 'a')?.phase).toBe('Pending')

    // A closed rollout's record settles (b, Soaking → Converged): the retired records are read.
    write(store, () => store.hosts.upsert(host('r1', 'b', { phase: 'Converged' }), 0))
    await refreshFollowerState(live, store, OPTS, cache, false)
    expect(Object.keys(live.retired['r1'] ?? {}).sort()).toEqual(['a', 'b'])
    expect(live.host('r1', 'b')).toBeUndefined()

    // A rollout closes: its records are retired at once.
    write(store, () => store.rollouts.update(rollout('r2', { phase: 'Terminal' }), 3))
    await refreshFollowerState(live, store, OPTS, cache, false)
    expect(Object.keys(live.retired['r2'] ?? {})).toEqual(['a'])
    expect([...live.knownHosts.keys()]).toEqual(['a'])

    // A rollout pruned (its phase steps, its records go): its retired records go too.
    write(store, () => {
      store.rollouts.update(rollout('r1', { phase: 'Pruned' }), 4)
      store.hosts.deleteOfRollout('r1')
    })
    await refreshFollowerState(live, store, OPTS, cache, false)
    expect(live.retired['r1']).toBeUndefined()

    // Everything: the known hosts are read again.
    await refreshFollowerState(live, store, OPTS, cache, true)
    expect([...live.knownHosts.keys()].sort()).toEqual(['a', 'b'])
    store.close()
  })
})
