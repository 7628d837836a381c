/**
 * The mutator a replica's HTTP handlers and workers hold: the leader's inputs through PostgreSQL
 * (`RemoteMutator`) while this replica follows, its own `CpMutator` from the moment it leads.
 * Commit listeners (the status stream) are the port's own, so they survive the switch: a follower
 * fires them after each refresh from the database, a leader after each of its commits.
 * Invariants: the switch happens once (a replica that loses the lead exits); while following, an
 * input only the leader may produce (a poll's outcome, a plan tick) is refused, never sent.
 */
import type { InputKind, InputOf, ReplyOf } from '../mutator/inputs.ts'
import type { CpMutator } from '../mutator/loop.ts'
import type { CommittingPort } from './mutator-port.ts'
import { isRemoteKind, type RemoteMutator } from './remote-mutator.ts'

/** A replica's mutator, following then leading. */
export class ReplicaPort implements CommittingPort {
  private local: CpMutator | undefined
  private readonly listeners = new Set<() => void>()

  constructor(private readonly remote: RemoteMutator) {}

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
    return isRemoteKind(input.type) ? this.remote.request(input) : undefined
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
