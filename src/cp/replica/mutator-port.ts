/**
 * What the HTTP layer and the workers need of a mutator, so a replica can hand them either the
 * local `CpMutator` (leader, or a single SQLite control plane) or a `RemoteMutator` (follower,
 * whose inputs go to the leader through PostgreSQL). Both satisfy `MutatorPort` structurally.
 * Invariant: the signatures are `CpMutator`'s own; a reply always reflects committed state.
 */
import type { InputKind, InputOf, ReplyOf } from '../mutator/inputs.ts'

/** A mutator as its callers see it. */
export type MutatorPort = {
  /** Queues an input; `reply` gets its answer after the commit. False when refused (answer 503). */
  submit<K extends InputKind>(input: InputOf<K>, reply?: (r: ReplyOf<K>) => void): boolean
  /** Queues an input and resolves with its answer after the commit; `undefined` when refused. */
  request<K extends InputKind>(input: InputOf<K>): Promise<ReplyOf<K>> | undefined
  /** Inputs queued and not answered yet. */
  readonly depth: number
}

/**
 * What the leader's input pump needs of the local mutator: `submit`, plus a hook that runs
 * inside the batch's transaction right after the input's handler, with its reply, so that the
 * writes it makes (the input's completion, `markDoneStatement`) commit with the input's effects.
 *
 * `CpMutator` gets it at the merge with the PostgreSQL Store: in `enqueue`, the envelope's
 * `apply` calls `within(r)` after `HANDLERS[input.type](ctx, input)` returned `r`; `within`
 * appends the completion to the Store's write buffer (a statement after the handler's own, before
 * the COMMIT that `store.durable()` awaits).
 */
export type RecordingMutator = {
  submitRecorded<K extends InputKind>(
    input: InputOf<K>,
    within: (r: ReplyOf<K>) => void,
    reply: (r: ReplyOf<K>) => void
  ): boolean
}

/** A mutator port that also tells when what it changed is committed (the status stream's feed). */
export type CommittingPort = MutatorPort & {
  /** Calls `listener` after each commit; returns the function that removes it. */
  onCommit(listener: () => void): () => void
}
