/**
 * The leader's input pump: it takes the inputs followers queued in `cp_inputs` (on
 * `NOTIFY nixfleet_input`, and every `pollMs` in case a notification was missed) and hands each
 * to the local mutator, in id order (docs/control-plane.md, replicas).
 *
 * How an input's completion joins its effects: the pump submits with `within`, which the mutator
 * runs inside the batch's transaction right after the input's handler, with its reply; `within`
 * passes `markDoneStatement(id, reply)` to `append`, the Store's PostgreSQL write buffer, so the
 * statement is sent after the handler's writes and before the batch's COMMIT, which the fence
 * check opened (see `RecordingMutator`). The statement also notifies the waiting follower, on
 * commit.
 *
 * Invariants:
 * - An input is handed to the mutator at most once per pump: it stays "in flight" from its
 *   submission until its batch committed (the mutator's reply), and takes skip what is in flight.
 *   A batch that never commits is fatal for the leader, so an input in flight is never retried
 *   here: the next leader takes it again, from the database, where it is still pending.
 * - An input the leader cannot read is answered with a refusal (in its own fenced transaction)
 *   rather than left pending, so no follower waits on it and it is not taken again.
 * - A refused submission (full queue) leaves the input pending; the next pass takes it again.
 */
import type { SQL } from 'bun'
import type { Logger } from '../../runtime/log.ts'
import { systemTimers, type Timer, type Timers } from '../../runtime/timers.ts'
import { withDeadline } from './deadline.ts'
import type { InputQueue, PendingInput } from './input-queue.ts'
import { checkFence } from '../../db/pg/fence.ts'
import type { RecordingMutator } from './mutator-port.ts'
import { decodeInput, encodeRefusal, encodeReply } from './remote-mutator.ts'
import type { SqlStatement } from '../../db/pg/statement.ts'

/** How often the pump looks for inputs without being notified. */
export const PUMP_POLL_MS = 1000
/** Inputs taken per pass (the mutator's batch size). */
export const PUMP_BATCH = 128

/** What the pump needs besides the queue and the mutator. */
export type InputPumpOptions = {
  /** Adds a statement to the write transaction being built (the Store's PostgreSQL buffer). */
  readonly append: (s: SqlStatement) => void
  /** For the refusals the pump commits itself. */
  readonly sql: SQL
  /** The leader's fence epoch. */
  readonly epoch: () => number
  readonly log: Logger
  readonly pollMs?: number
  readonly batch?: number
  readonly timers?: Timers
}

/** A running pump. */
export type InputPump = {
  /** Takes pending inputs now (what a NOTIFY does). */
  kick(): void
  /** Inputs handed to the mutator whose batch has not committed yet. */
  readonly inFlight: number
  /** Stops taking inputs (those in flight still complete in the mutator). */
  stop(): Promise<void>
}

/** Starts the pump: listens for `NOTIFY nixfleet_input`, polls, and drains what is pending now. */
export async function pumpInputs(
  queue: InputQueue,
  mutator: RecordingMutator,
  opts: InputPumpOptions
): Promise<InputPump> {
  const pollMs = opts.pollMs ?? PUMP_POLL_MS
  const batch = opts.batch ?? PUMP_BATCH
  const timers = opts.timers ?? systemTimers
  const inFlight = new Set<number>()
  let stopped = false
  let draining: Promise<void> | undefined
  let again = false
  let timer: Timer | undefined

  /** Hands one input on; false when the mutator refused it (full queue). */
  const handOn = (row: PendingInput): boolean => {
    const decoded = decodeInput(row.kind, row.payload)
    if (!decoded.ok) {
      void refuse(row, decoded.error)
      return true
    }
    inFlight.add(row.id)
    const ok = mutator.submitRecorded(
      decoded.input,
      (reply) => opts.append(queue.markDoneStatement(row.id, encodeReply(reply))),
      () => inFlight.delete(row.id)
    )
    if (!ok) inFlight.delete(row.id)
    return ok
  }

  const refuse = async (row: PendingInput, reason: string): Promise<void> => {
    opts.log.warn('refusing a queued input the leader cannot read', {
      id: row.id,
      origin: row.origin,
      kind: row.kind,
      reason,
    })
    inFlight.add(row.id)
    try {
      await opts.sql.begin(async (tx) => {
        await checkFence(tx, opts.epoch())
        await queue.markDone(tx, row.id, encodeRefusal(reason))
      })
    } catch (e) {
      opts.log.error('could not record the refusal of a queued input', { id: row.id, error: e })
    } finally {
      inFlight.delete(row.id)
    }
  }

  const pass = async (): Promise<void> => {
    do {
      again = false
      const rows = await withDeadline(
        timers,
        Math.max(5_000, 5 * pollMs),
        'taking pending inputs',
        queue.takePending(batch, [...inFlight])
      )
      let all = true
      for (const row of rows) {
        if (stopped || inFlight.has(row.id)) continue
        if (!handOn(row)) {
          all = false
          break
        }
      }
      // A full page may have more behind it; a refused one waits for the next poll.
      if (all && rows.length === batch) again = true
    } while (again && !stopped)
  }

  const kick = (): void => {
    if (stopped) return
    if (draining !== undefined) {
      again = true
      return
    }
    draining = pass()
      .catch((e: unknown) => opts.log.warn('taking pending inputs failed; retrying', { error: e }))
      .finally(() => {
        draining = undefined
      })
  }

  const schedule = (): void => {
    timer = timers.setTimeout(() => {
      kick()
      if (!stopped) schedule()
    }, pollMs)
  }

  const unlisten = await queue.onInput(kick)
  kick()
  schedule()
  return {
    kick,
    get inFlight() {
      return inFlight.size
    },
    async stop() {
      stopped = true
      timer?.cancel()
      await unlisten()
      await draining
    },
  }
}
