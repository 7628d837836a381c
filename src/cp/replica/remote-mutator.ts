/**
 * A follower's mutator: it applies nothing itself, but sends each input to the leader through
 * the PostgreSQL input queue and resolves with the reply the leader committed (docs/control-plane.md, replicas).
 * It has `CpMutator`'s `submit` / `request` (`MutatorPort`), so the HTTP layer needs no change.
 *
 * Invariants:
 * - Only the kinds HTTP handlers submit travel (`REMOTE_KINDS`: plain JSON both ways); any other
 *   kind is a programming error on a follower and throws, naming the kind. Workers that submit
 *   the others run on the leader only.
 * - Every request ends by its deadline (`replyTimeoutMs`, from queueing to the reply): with the
 *   reply, or rejected (`ReplyTimeout`, or the database error that kept the input from being
 *   queued). An input whose wait timed out may still be applied later, once, like any queued one.
 * - At most `capacity` inputs wait at once; beyond that `submit`/`request` refuse (answer 503),
 *   as the local mutator's full queue does.
 */
import { systemClock, type Clock } from '../../runtime/clock.ts'
import type { Logger } from '../../runtime/log.ts'
import { systemTimers, type Timers } from '../../runtime/timers.ts'
import type { CpInput, InputKind, InputOf, ReplyOf } from '../mutator/inputs.ts'
import { MUTATOR_INPUT_CAPACITY } from '../mutator/loop.ts'
import { withDeadline } from './deadline.ts'
import type { InputQueue } from './input-queue.ts'
import type { MutatorPort } from './mutator-port.ts'

/**
 * The input kinds HTTP handlers submit (routes/agent.ts: HostEvent, Heartbeat, TakeDispatch;
 * routes/operator.ts: Operator; enroll.ts: UseNonce, Enrolment), and the heartbeats a follower
 * answered itself (HeartbeatBatch). The rest (PlanTick, Prune,
 * ReleaseVerified, ListVerified, ClosureChecked) come from the leader's own workers.
 */
export const REMOTE_KINDS = [
  'HostEvent',
  'Heartbeat',
  'HeartbeatBatch',
  'TakeDispatch',
  'UseNonce',
  'Operator',
  'Enrolment',
] as const satisfies readonly InputKind[]

/** A kind a follower can send to the leader. */
export type RemoteKind = (typeof REMOTE_KINDS)[number]

/** An input a follower can send to the leader. */
export type RemoteInput = Extract<CpInput, { readonly type: RemoteKind }>

/** How long a follower waits for the leader's reply (docs/control-plane.md, replicas). */
export const REMOTE_REPLY_TIMEOUT_MS = 30_000

const REMOTE: ReadonlySet<string> = new Set(REMOTE_KINDS)

/** Whether inputs of `kind` may travel to the leader. */
export function isRemoteKind(kind: string): kind is RemoteKind {
  return REMOTE.has(kind)
}

/** An input of a kind that cannot travel to the leader. */
export class NotRemotable extends Error {
  override readonly name = 'NotRemotable'
  constructor(readonly kind: string) {
    super(`input kind ${kind} cannot be sent to the leader (only ${REMOTE_KINDS.join(', ')} can)`)
  }
}

/** The leader refused a queued input it could not read (it answers it so no one waits). */
export class RemoteRefusal extends Error {
  override readonly name = 'RemoteRefusal'
}

/**
 * The input in a queued row, or why it cannot be applied. The row was written by a `RemoteMutator`
 * from a typed input on a replica of the same release (the database is inside the control
 * plane's trust boundary), so the check is of the envelope: a known kind, and a payload whose
 * `type` is that kind.
 */
export function decodeInput(
  kind: string,
  payload: string
): { ok: true; input: RemoteInput } | { ok: false; error: string } {
  if (!isRemoteKind(kind)) return { ok: false, error: new NotRemotable(kind).message }
  let parsed: unknown
  try {
    parsed = JSON.parse(payload)
  } catch {
    return { ok: false, error: `input of kind ${kind} is not JSON` }
  }
  return isInputOf(kind, parsed)
    ? { ok: true, input: parsed }
    : { ok: false, error: `input of kind ${kind} has a payload of another kind` }
}

function isInputOf(kind: RemoteKind, x: unknown): x is RemoteInput {
  return typeof x === 'object' && x !== null && 'type' in x && x.type === kind
}

/** The stored reply: `undefined` (TakeDispatch with nothing queued, void kinds) survives JSON. */
export function encodeReply(reply: unknown): string {
  return JSON.stringify({ value: reply })
}

/** The stored refusal of an input the leader could not read. */
export function encodeRefusal(reason: string): string {
  return JSON.stringify({ refused: reason })
}

/** The reply stored for an input of kind `K`; throws `RemoteRefusal` for a refusal. */
export function decodeReply<K extends InputKind>(text: string): ReplyOf<K> {
  // Written by the leader's pump with `encodeReply` from the reply to this very input.
  const stored: { value: ReplyOf<K>; refused?: string } = JSON.parse(text)
  if (typeof stored.refused === 'string') throw new RemoteRefusal(stored.refused)
  return stored.value
}

/** What a `RemoteMutator` needs. */
export type RemoteMutatorDeps = {
  readonly queue: InputQueue
  readonly log: Logger
  readonly replyTimeoutMs?: number
  readonly capacity?: number
  readonly clock?: Clock
  readonly timers?: Timers
}

/** A follower's mutator: inputs go to the leader; replies come back from it. */
export class RemoteMutator implements MutatorPort {
  private waiting = 0
  private readonly replyTimeoutMs: number
  private readonly capacity: number

  constructor(private readonly deps: RemoteMutatorDeps) {
    this.replyTimeoutMs = deps.replyTimeoutMs ?? REMOTE_REPLY_TIMEOUT_MS
    this.capacity = deps.capacity ?? MUTATOR_INPUT_CAPACITY
  }

  /** Inputs sent and not answered yet. */
  get depth(): number {
    return this.waiting
  }

  /** Sends an input; `reply` gets the leader's answer. False when too many inputs wait. */
  submit<K extends InputKind>(input: InputOf<K>, reply?: (r: ReplyOf<K>) => void): boolean {
    const pending = this.send(input)
    if (pending === undefined) return false
    pending.then(
      (r) => reply?.(r),
      (e: unknown) =>
        this.deps.log.warn('input sent to the leader got no reply', { input: input.type, error: e })
    )
    return true
  }

  /** Sends an input and resolves with the leader's answer; `undefined` when too many inputs wait. */
  request<K extends InputKind>(input: InputOf<K>): Promise<ReplyOf<K>> | undefined {
    return this.send(input)
  }

  private send<K extends InputKind>(input: InputOf<K>): Promise<ReplyOf<K>> | undefined {
    if (!isRemoteKind(input.type)) throw new NotRemotable(input.type)
    if (this.waiting >= this.capacity) return undefined
    this.waiting++
    return this.roundTrip<K>(input.type, JSON.stringify(input)).finally(() => this.waiting--)
  }

  private async roundTrip<K extends InputKind>(kind: K, payload: string): Promise<ReplyOf<K>> {
    const { clock = systemClock, timers = systemTimers } = this.deps
    const deadline = clock.monotonicMs() + this.replyTimeoutMs
    const id = await withDeadline(
      timers,
      this.replyTimeoutMs,
      'queueing an input for the leader',
      this.deps.queue.enqueue(kind, payload)
    )
    const text = await this.deps.queue.awaitReply(id, Math.max(0, deadline - clock.monotonicMs()))
    return decodeReply<K>(text)
  }
}
