// The commit feed on a real PostgreSQL: coalesced notifications, debounced refreshes one at a
// time, and a LISTEN connection that comes back after it was killed.
import { expect, test } from 'bun:test'
import type { SQL } from 'bun'
import { waitFor } from '../../../tests/support/fixtures.ts'
import { usePostgres } from '../../../tests/support/postgres.ts'
import { replicaDatabase } from '../../../tests/support/replica-tables.ts'
import { createLogger } from '../../runtime/log.ts'
import { COMMIT_CHANNEL, CommitFeed, CommitNotifier } from './commit-feed.ts'

const pg = usePostgres()
const log = createLogger({ component: 'test', level: 'error' })

/**
 * A leader's notifier and a follower's feed on a fresh database, each with its own pool, and
 * the notifications as a bystander hears them.
 */
async function withFeed(
  fn: (ctx: {
    admin: SQL
    notifier: CommitNotifier
    feed: CommitFeed
    heard: readonly string[]
  }) => Promise<void>
): Promise<void> {
  const { url, sql: admin } = await replicaDatabase(pg())
  const leader = new Bun.SQL(url, { max: 2 })
  const follower = new Bun.SQL(url, { max: 2 })
  const heard: string[] = []
  const sub = await admin.listen(COMMIT_CHANNEL, (p) => heard.push(p))
  try {
    await fn({
      admin,
      notifier: new CommitNotifier(leader, log),
      feed: new CommitFeed({ sql: follower, log }),
      heard,
    })
  } finally {
    await sub.unlisten()
    await leader.close()
    await follower.close()
    await admin.close()
  }
}

test('a commit runs the listener once, after the debounce', async () => {
  await withFeed(async ({ notifier, feed }) => {
    const runs: number[] = []
    const stop = await feed.onCommit(() => {
      runs.push(performance.now())
    })
    const at = performance.now()
    notifier.notifyCommit()
    await waitFor('the refresh', () => (runs.length > 0 ? true : undefined))
    expect(runs[0]! - at).toBeGreaterThanOrEqual(240)
    await stop()
  })
})

test('a burst of commits is one NOTIFY in flight plus one, and one refresh', async () => {
  await withFeed(async ({ notifier, feed, heard }) => {
    let runs = 0
    const stop = await feed.onCommit(() => {
      runs++
    })
    for (let i = 0; i < 20; i++) notifier.notifyCommit()
    await waitFor('the refresh', () => (runs > 0 ? true : undefined))
    expect(heard).toHaveLength(2)
    // A later commit is one more refresh: the burst made exactly one.
    notifier.notifyCommit()
    await waitFor('the next refresh', () => (runs > 1 ? true : undefined))
    expect(runs).toBe(2)
    expect(heard).toHaveLength(3)
    await stop()
  })
})

test('commits during a refresh make one more refresh after it, never two at once', async () => {
  await withFeed(async ({ notifier, feed, heard }) => {
    let runs = 0
    let active = 0
    let most = 0
    const gates = [Promise.withResolvers<void>(), Promise.withResolvers<void>()]
    const stop = await feed.onCommit(async () => {
      const gate = gates[runs++]
      active++
      most = Math.max(most, active)
      await gate?.promise
      active--
    })
    notifier.notifyCommit()
    await waitFor('the first refresh to start', () => (runs === 1 ? true : undefined))
    notifier.notifyCommit()
    notifier.notifyCommit()
    // The notifications go out while the first refresh still runs.
    await waitFor('the commits to be sent', () => (heard.length === 3 ? true : undefined))
    expect(runs).toBe(1)
    gates[0]!.resolve()
    await waitFor('the second refresh', () => (runs === 2 ? true : undefined))
    gates[1]!.resolve()
    expect(most).toBe(1)
    await stop()
    expect(runs).toBe(2)
  })
})

test('after its LISTEN connection is killed, the feed refreshes and hears commits again', async () => {
  await withFeed(async ({ admin, notifier, feed }) => {
    let runs = 0
    const stop = await feed.onCommit(() => {
      runs++
    })
    notifier.notifyCommit()
    await waitFor('the first refresh', () => (runs === 1 ? true : undefined))
    await admin`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = ${`LISTEN "${COMMIT_CHANNEL}"`}`
    // Back: it refreshes without a commit (some may have been missed) ...
    await waitFor('the refresh after reconnecting', () => (runs === 2 ? true : undefined))
    // ... and hears the next one.
    notifier.notifyCommit()
    await waitFor('the refresh after a commit', () => (runs === 3 ? true : undefined))
    await stop()
  })
})
