/**
 * The mutator a replica's HTTP handlers and workers hold: the leader's inputs through PostgreSQL
 * (`RemoteMutator`) while this replica follows, its own `CpMutator` from the moment it leads.
 * Commit listeners (the status stream) are the port's own, so they survive the switch: a follower
 * fires them after each refresh from the database, a leader after each of its commits.
 * Invariants: the switch happens once (a replica that loses the lead exits); while following, an
 * input only the leader may produce (a poll's outcome, a plan tick) is refused, never sent; a
 * heartbeat with no news is answered by the follower itself (`QuietHeartbeats`).
 */
import type { InputKind, InputOf, ReplyOf } from '../mutator/inputs.ts'
import type { CpMutator } from '../mutator/loop.ts'
import type { CommittingPort } from './mutator-port.ts'
import type { QuietHeartbeats } from './quiet-heartbeats.ts'
import { isRemoteKind, type RemoteMutator } from './remote-mutator.ts'

function isHeartbeat(input: { readonly type: InputKind }): input is InputOf<'Heartbeat'> {
  return input.type === 'Heartbeat'
}

/** A replica's mutator, following then leading. */
export class ReplicaPort implements CommittingPort {
  private local: CpMutator | undefined
  private readonly listeners = new Set<() => void>()
  private quiet: QuietHeartbeats | undefined

  constructor(private readonly remote: RemoteMutator) {}

  /** While following, heartbeats with no news are answered by `quiet` (not sent one by one). */
  answerQuietly(quiet: QuietHeartbeats): void {
    this.quiet = quiet
  }

  /** From now on inputs go to `mutator` (this replica leads). */
  lead(mutator: CpMutator): void {
    this.local = mutator
    mutator.onCommit(() => this.committed())
  }

  /** Whether inputs go to this process's own mutator. */
  get leading(): boolean {
    return this.local !== undefined
  }

  get depth(): number {
    return this.local?.depth ?? this.remote.depth
  }

  submit<K extends InputKind>(input: InputOf<K>, reply?: (r: ReplyOf<K>) => void): boolean {
    if (this.local !== undefined) return this.local.submit(input, reply)
    return isRemoteKind(input.type) && this.remote.submit(input, reply)
  }

  request<K extends InputKind>(input: InputOf<K>): Promise<ReplyOf<K>> | undefined {
    if (this.local !== undefined) return this.local.request(input)
    if (!isRemoteKind(input.type)) return undefined
    const quiet = this.quiet
    if (quiet === undefined || !isHeartbeat(input)) return this.remote.request(input)
    const answered = quiet.answer(input)
    if (answered !== undefined) return Promise.resolve(answered as ReplyOf<K>)
    const heartbeat: InputOf<'Heartbeat'> = input
    const sent = this.remote.request(heartbeat)
    sent?.then(
      () => quiet.acknowledged(heartbeat),
      // The caller sees the failure; nothing is acknowledged.
      () => undefined
    )
    return sent as Promise<ReplyOf<K>> | undefined
  }

  onCommit(listener: () => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  /** Tells the listeners that the state changed (a follower calls it after each refresh). */
  committed(): void {
    for (const l of this.listeners) l()
  }
}
