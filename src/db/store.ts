/**
 * The CP's persistence API: every query module bound to one database, plus the transaction
 * wrapper the reducer runs each input in. Nothing outside `src/db` sees drizzle; rows leave this
 * folder as core/proto values or the small plain types declared beside their queries.
 *
 * Invariants (shared by every backend):
 * - Writes are synchronous, return nothing, and are valid only inside `transaction`; a backend
 *   may apply them at once (SQLite) or buffer them until the commit.
 * - Reads return promises and are never made by the mutator's handlers (they read `CpState`):
 *   they serve start-up, HTTP views and tests.
 * - `durable()` resolves once every transaction run so far is committed; nothing that reveals a
 *   transaction's effects (a reply, a wake-up) goes out before it resolves.
 */
import type { Db, OpenDatabase } from './client.ts'
import { openDatabase } from './client.ts'
import { applyMigrations } from './migrate.ts'
import { dispatchQueries } from './queries/dispatch.ts'
import { eventLogQueries } from './queries/event-log.ts'
import { fleetSafetyQueries } from './queries/fleet-safety.ts'
import { hostRecordQueries } from './queries/host-records.ts'
import { knownHostQueries } from './queries/known-hosts.ts'
import { operatorQueries } from './queries/operator.ts'
import { releaseQueries } from './queries/release.ts'
import { rolloutQueries } from './queries/rollouts.ts'
import { securityQueries } from './queries/security.ts'

export type { QueuedDispatch } from './queries/dispatch.ts'
export type { EventKind, EventLogEntry, NewEvent } from './queries/event-log.ts'
export type { NewProbeFailure, StoredQuarantine } from './queries/fleet-safety.ts'
export type { StoredHost } from './queries/host-records.ts'
export type { ClosureSeen, KnownHost, RolloutOutcome } from './queries/known-hosts.ts'
export type { DenialKind, StoredAction, StoredDenial, StoredSkip } from './queries/operator.ts'
export type { StoredArtifact, StoredMark } from './queries/release.ts'
export type { FrozenPolicy, RolloutCursor, RolloutPage, StoredRollout } from './queries/rollouts.ts'
export type { StoredRevocation, UsedNonce } from './queries/security.ts'
export { nonceExpired } from './queries/security.ts'

function bind(db: Db) {
  return {
    events: eventLogQueries(db),
    hosts: hostRecordQueries(db),
    knownHosts: knownHostQueries(db),
    rollouts: rolloutQueries(db),
    dispatch: dispatchQueries(db),
    security: securityQueries(db),
    release: releaseQueries(db),
    safety: fleetSafetyQueries(db),
    operator: operatorQueries(db),
  }
}

/** The CP store. */
export type Store = ReturnType<typeof bind> & {
  /**
   * Runs `fn` as one transaction (synchronous: no await inside; SQLite: `BEGIN IMMEDIATE`); a
   * nested call is a savepoint: if it throws, only its own writes are discarded.
   */
  transaction<T>(fn: () => T): T
  /** Resolves once everything written by transactions so far is committed. */
  durable(): Promise<void>
  /** Whether the database had no NixFleet tables before this start. */
  readonly wasEmpty: boolean
  close(): void
}

/** Opens the database at `path` (`:memory:` allowed), applies migrations, binds the queries. */
export function openStore(path: string): Store {
  const open: OpenDatabase = openDatabase(path)
  let wasEmpty: boolean
  try {
    wasEmpty = applyMigrations(open.db, open.sqlite).wasEmpty
  } catch (e) {
    open.close()
    throw e
  }
  const native = open.sqlite
  return {
    ...bind(open.db),
    wasEmpty,
    transaction<T>(fn: () => T): T {
      return native.transaction(fn).immediate()
    },
    // SQLite commits inside `transaction`: what it wrote is already durable.
    durable: () => Promise.resolve(),
    close: () => open.close(),
  }
}
