// A follower's RemoteMutator and the leader's input pump on a real PostgreSQL, with a stand-in
// for the leader's mutator that commits like the PostgreSQL Store will: the batch's statements
// buffered, sent after the fence check, in one transaction.
import { expect, test } from 'bun:test'
import * as v from 'valibot'
import type { ReservedSQL, SQL } from 'bun'
import { waitFor } from '../../../tests/support/fixtures.ts'
import { replicaDatabase, usePostgres } from '../../../tests/support/replica-tables.ts'
import { HeartbeatRequestSchema } from '../../proto/agent.ts'
import { createLogger } from '../../runtime/log.ts'
import type { CpMutator } from '../mutator/loop.ts'
import type { InputKind, InputOf, ReplyOf } from '../mutator/inputs.ts'
import { pumpInputs } from './input-pump.ts'
import { InputQueue } from './input-queue.ts'
import { checkFence, fenceCheck } from '../../db/pg/fence.ts'
import type { MutatorPort, RecordingMutator } from './mutator-port.ts'
import {
  decodeInput,
  decodeReply,
  encodeReply,
  NotRemotable,
  RemoteMutator,
  RemoteRefusal,
} from './remote-mutator.ts'
import { runStatement, type SqlStatement } from '../../db/pg/statement.ts'

const pg = usePostgres()
const log = createLogger({ component: 'test', level: 'error' })

// The local mutator is a port as it stands (checked when this file compiles).
const localPort = (m: CpMutator): MutatorPort => m

const HEARTBEAT_REPLY: ReplyOf<'Heartbeat'> = {
  replayFrom: null,
  replayFromByRollout: {},
  bootstrap: null,
}

/** The effect and reply of each input, as a handler would: writes buffered, reply returned. */
function handle(input: InputOf<InputKind>, write: (s: SqlStatement) => void): unknown {
  if ('request' in input) {
    write({
      text: 'INSERT INTO effects (host) VALUES ($1)',
      params: [input.request.hostname],
    })
    return HEARTBEAT_REPLY
  }
  if (input.type === 'UseNonce') return true
  return undefined
}

/**
 * The leader's mutator as it will be on PostgreSQL: inputs run in batches; each batch's writes
 * (effects, then what `within` appends) are sent in one transaction that starts with the fence;
 * replies go out after the commit. `hold` keeps the next commit open until released.
 */
class BufferedMutator implements RecordingMutator {
  readonly seen: InputOf<InputKind>[] = []
  submitted = 0
  private readonly pending: (() => () => void)[] = []
  private running = false
  buffer: SqlStatement[] = []
  hold: ((tx: ReservedSQL) => Promise<void>) | undefined

  constructor(
    private readonly sql: SQL,
    private readonly epoch: () => number
  ) {}

  submitRecorded<K extends InputKind>(
    input: InputOf<K>,
    within: (r: ReplyOf<K>) => void,
    reply: (r: ReplyOf<K>) => void
  ): boolean {
    this.submitted++
    this.pending.push(() => {
      this.seen.push(input)
      const r = handle(input, (s) => this.buffer.push(s)) as ReplyOf<K>
      within(r)
      return () => reply(r)
    })
    void this.run()
    return true
  }

  private async run(): Promise<void> {
    if (this.running) return
    this.running = true
    while (this.pending.length > 0) {
      const replies = this.pending.splice(0).map((apply) => apply())
      const writes = [fenceCheck(this.epoch()), ...this.buffer]
      this.buffer = []
      const tx = await this.sql.reserve()
      await tx`BEGIN`
      const [fenced] = await runStatement(tx, writes[0]!)
      if (fenced === undefined) throw new Error('fenced out')
      for (const s of writes.slice(1)) await runStatement(tx, s)
      if (this.hold !== undefined) await this.hold(tx)
      await tx`COMMIT`
      void tx.release()
      for (const r of replies) r()
    }
    this.running = false
  }
}

/** A fresh database: a follower's RemoteMutator, and a leader (epoch 1) pumping into `mutator`. */
async function withReplicas(
  fn: (ctx: {
    admin: SQL
    remote: RemoteMutator
    mutator: BufferedMutator
    url: string
    followerQueue: InputQueue
  }) => Promise<void>,
  remoteOpts: { capacity?: number; replyTimeoutMs?: number } = {}
): Promise<void> {
  const { url, sql: admin } = await replicaDatabase(pg())
  await admin`CREATE TABLE effects (host text NOT NULL)`
  await admin`UPDATE cp_leader SET epoch = 1`
  const followerSql = new Bun.SQL(url, { max: 3 })
  const leaderSql = new Bun.SQL(url, { max: 3 })
  const followerQueue = new InputQueue({
    sql: followerSql,
    origin: 'follower',
    log,
    pollMs: 60_000,
  })
  const leaderQueue = new InputQueue({ sql: leaderSql, origin: 'leader', log })
  const remote = new RemoteMutator({ queue: followerQueue, log, ...remoteOpts })
  const mutator = new BufferedMutator(leaderSql, () => 1)
  const pump = await pumpInputs(leaderQueue, mutator, {
    append: (s) => mutator.buffer.push(s),
    sql: leaderSql,
    epoch: () => 1,
    log,
    pollMs: 60_000,
  })
  try {
    await fn({ admin, remote, mutator, url, followerQueue })
  } finally {
    await pump.stop()
    await followerQueue.close()
    await leaderQueue.close()
    await followerSql.close()
    await leaderSql.close()
    await admin.close()
  }
}

const heartbeat = (hostname: string): InputOf<'Heartbeat'> => ({
  type: 'Heartbeat',
  request: v.parse(HeartbeatRequestSchema, { hostname, at: '2026-01-01T00:00:00Z' }),
})

test('a follower request is applied by the leader and answered with its reply', async () => {
  await withReplicas(async ({ admin, remote, mutator }) => {
    expect(await remote.request(heartbeat('web-1'))).toEqual(HEARTBEAT_REPLY)
    // A reply that is `undefined` comes back as such, and `submit` delivers its reply too.
    expect(await remote.request({ type: 'TakeDispatch', host: 'web-1' })).toBeUndefined()
    const fresh = await new Promise<boolean>((resolve) => {
      expect(
        remote.submit({ type: 'UseNonce', nonce: 'n', hostname: 'web-1', expiresAt: 1 }, resolve)
      ).toBe(true)
    })
    expect(fresh).toBe(true)
    expect(mutator.seen).toEqual([
      heartbeat('web-1'),
      { type: 'TakeDispatch', host: 'web-1' },
      { type: 'UseNonce', nonce: 'n', hostname: 'web-1', expiresAt: 1 },
    ])
    expect(await admin`SELECT host FROM effects`).toEqual([{ host: 'web-1' }])
    expect(remote.depth).toBe(0)
    expect(await admin`SELECT count(*)::int AS n FROM cp_inputs WHERE done_at IS NULL`).toEqual([
      { n: 0 },
    ])
  })
})

test('kinds only the leader makes are refused by name; a full follower refuses with undefined', async () => {
  await withReplicas(
    async ({ remote, mutator }) => {
      expect(() => remote.request({ type: 'PlanTick' })).toThrow(NotRemotable)
      expect(() => remote.submit({ type: 'Prune' })).toThrow(/input kind Prune cannot be sent/)
      // One input waits (its commit held open); a second is refused like a full queue's.
      const { promise: held, resolve: release } = Promise.withResolvers<void>()
      mutator.hold = () => held
      const first = remote.request(heartbeat('a'))
      expect(first).toBeDefined()
      expect(remote.depth).toBe(1)
      expect(remote.request(heartbeat('b'))).toBeUndefined()
      expect(remote.submit(heartbeat('b'))).toBe(false)
      await waitFor('the leader to apply it', () => (mutator.seen.length > 0 ? true : undefined))
      release()
      expect(await first).toEqual(HEARTBEAT_REPLY)
      expect(remote.depth).toBe(0)
    },
    { capacity: 1 }
  )
})

test('an input is handed to the mutator once while its batch is still committing', async () => {
  await withReplicas(async ({ admin, remote, mutator }) => {
    const { promise: held, resolve: release } = Promise.withResolvers<void>()
    mutator.hold = () => held
    const first = remote.request(heartbeat('a'))
    await waitFor('the first to be taken', () => (mutator.seen.length === 1 ? true : undefined))
    // More inputs arrive (and notify) while the first is uncommitted: the pump takes them, not it.
    const rest = ['b', 'c'].map((h) => remote.request(heartbeat(h)))
    await waitFor('the rest to be handed on', () => (mutator.submitted === 3 ? true : undefined))
    release()
    expect(await Promise.all([first, ...rest])).toEqual([
      HEARTBEAT_REPLY,
      HEARTBEAT_REPLY,
      HEARTBEAT_REPLY,
    ])
    expect(mutator.seen.map((i) => ('request' in i ? String(i.request.hostname) : ''))).toEqual([
      'a',
      'b',
      'c',
    ])
    expect(await admin`SELECT host FROM effects ORDER BY host`).toEqual([
      { host: 'a' },
      { host: 'b' },
      { host: 'c' },
    ])
  })
})

test('a queued input the leader cannot read is answered with a refusal', async () => {
  await withReplicas(async ({ admin, followerQueue, mutator }) => {
    const id = await followerQueue.enqueue('PlanTick', '{"type":"PlanTick"}')
    const text = await followerQueue.awaitReply(id, 5_000)
    expect(() => decodeReply<'PlanTick'>(text)).toThrow(RemoteRefusal)
    expect(() => decodeReply<'PlanTick'>(text)).toThrow(/PlanTick cannot be sent/)
    expect(mutator.seen).toEqual([])
    expect(await admin`SELECT count(*)::int AS n FROM cp_inputs WHERE done_at IS NULL`).toEqual([
      { n: 0 },
    ])
  })
})

test('inputs round-trip as JSON and only as their declared kind', () => {
  expect(localPort).toBeFunction()
  const input = heartbeat('h')
  expect(decodeInput('Heartbeat', JSON.stringify(input))).toEqual({ ok: true, input })
  expect(decodeInput('HostEvent', JSON.stringify(input))).toEqual({
    ok: false,
    error: 'input of kind HostEvent has a payload of another kind',
  })
  expect(decodeInput('Heartbeat', '{')).toEqual({
    ok: false,
    error: 'input of kind Heartbeat is not JSON',
  })
  expect(decodeReply<'TakeDispatch'>(encodeReply(undefined))).toBeUndefined()
  expect(decodeReply<'Heartbeat'>(encodeReply(HEARTBEAT_REPLY))).toEqual(HEARTBEAT_REPLY)
})

test('inputs a dying leader took are applied once, by the next leader', async () => {
  await withReplicas(async ({ admin, remote, mutator, url }) => {
    // The first leader (epoch 1) applies a batch but dies before its COMMIT.
    let doomed: number | undefined
    mutator.hold = async (tx) => {
      const [row] = await tx`SELECT pg_backend_pid() AS pid`
      doomed = row.pid
      await new Promise(() => {})
    }
    const replies = ['a', 'b'].map((h) => remote.request(heartbeat(h)))
    await waitFor('the batch to be open', () => doomed)
    await waitFor('both to be handed on', () => (mutator.submitted === 2 ? true : undefined))
    await admin`SELECT pg_terminate_backend(${doomed})`
    expect(await admin`SELECT count(*)::int AS n FROM effects`).toEqual([{ n: 0 }])
    // The next leader (epoch 2) pumps the same database into its own mutator.
    await admin`UPDATE cp_leader SET epoch = 2`
    const sql = new Bun.SQL(url, { max: 3 })
    const queue = new InputQueue({ sql, origin: 'next', log })
    const next = new BufferedMutator(sql, () => 2)
    const pump = await pumpInputs(queue, next, {
      append: (s) => next.buffer.push(s),
      sql,
      epoch: () => 2,
      log,
      pollMs: 60_000,
    })
    try {
      expect(await Promise.all(replies)).toEqual([HEARTBEAT_REPLY, HEARTBEAT_REPLY])
      expect(next.submitted).toBe(2)
      expect(await admin`SELECT host FROM effects ORDER BY host`).toEqual([
        { host: 'a' },
        { host: 'b' },
      ])
      // The old leader's fence no longer holds.
      await expect(sql.begin((tx) => checkFence(tx, 1))).rejects.toThrow(/fenced out/)
    } finally {
      await pump.stop()
      await queue.close()
      await sql.close()
    }
  })
})
