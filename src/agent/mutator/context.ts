/**
 * What the mutator's input handlers work with: its dependencies, read access to the records,
 * and the loop's primitives that change them. Handlers change records only through `apply`,
 * `commit` and `forget`, so every change is persisted in the one order (events, then record,
 * then effects) and every Local event is numbered in one place.
 */
import type { HostEffect, HostEvent, Unsequenced } from '../../core/index.ts'
import type { Clock } from '../../runtime/clock.ts'
import type { AgentApplier, ApplierDeps } from '../applier.ts'
import type { SignedRecordFacts } from '../manifests/view.ts'
import type { StoredHost } from '../host-store.ts'
import type { HostProblems } from '../problems.ts'
import type { AgentInput, AgentInputKind, ReplyOf } from './inputs.ts'

/** The dependencies of the mutator: the applier's, plus what its handlers read. */
export type AgentMutatorDeps = ApplierDeps & {
  readonly machineId: string
  readonly clock: Clock
  /** The closure the current-system link names now. */
  readonly currentClosure: () => string | undefined
  /** Where a failed input (a write error) is reported; `ok` after each handled one. */
  readonly problems?: Pick<HostProblems, 'failed' | 'ok'>
  /** The signed target and policy of a rollout, if it is the current one of this host. */
  readonly signedRecordFacts: (rolloutId: string) => SignedRecordFacts | undefined
}

/** The mutator as its handlers see it. */
export type MutatorContext = {
  readonly deps: AgentMutatorDeps
  readonly applier: AgentApplier
  /** The record of `rolloutId`, if known. */
  record(rolloutId: string): StoredHost | undefined
  /** Every record. */
  records(): IterableIterator<StoredHost>
  /** The newest rollout of this host (by dispatch time), or `undefined`. */
  activeRolloutId(): string | undefined
  /** Whether `rolloutId` is the active rollout. */
  isCurrent(rolloutId: string): boolean
  /** Steps `event` (already numbered); persists and applies the result. False when refused. */
  apply(host: StoredHost, event: HostEvent): boolean
  /** Steps `event` as the record's next one (the only place a Local event gets its seq). */
  applyNext(host: StoredHost, event: Unsequenced): boolean
  /** Runs effects outside a step (rehydration), applying any events they produce. */
  runEffects(host: StoredHost, effects: readonly HostEffect[]): void
  /** Persists a record changed outside `step` (bookkeeping, an adopted snapshot). */
  commit(host: StoredHost): void
  /** Forgets a record (file and delivered events). */
  forget(rolloutId: string): void
  /** Finishes or resumes what a previous run left in flight for a record. */
  recover(rolloutId: string, active: boolean): void
  /** Refreshes the per-rollout state gauge. */
  refreshGauges(): void
}

/** The handler of one input kind: calls core, hands effects to the applier, returns the reply. */
export type Handler<K extends AgentInputKind> = (
  ctx: MutatorContext,
  input: AgentInput<K>
) => ReplyOf<K>
