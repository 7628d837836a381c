/**
 * The CP mirror of per-host rollout records: rows ↔ core `HostRolloutState` (times as epoch ms,
 * probes and topology as JSON). Upserts write the full row, as the reference does.
 */
import {
  and,
  eq,
  getTableColumns,
  inArray,
  notInArray,
  or,
  sql,
  type AnyColumn,
  type SQL,
  type Table,
} from 'drizzle-orm'
import {
  UNDERWAY_PHASES,
  type HostRolloutState,
  type ProbeDecl,
  type ProbeRecord,
} from '../../core/index.ts'
import type { Db } from '../client.ts'
import { hostRolloutRecords, rollouts } from '../schema.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { replaceFromExcluded } from './excluded.ts'
import { isoOrNull, msOf, msOrNull } from './time.ts'

/** A stored record with the manifest wave index it was created with. */
export type StoredHost = { readonly state: HostRolloutState; readonly waveIndex: number }

type Row = typeof hostRolloutRecords.$inferSelect

/** A row as a stored record (shared with the PostgreSQL queries). */
export function toStored(r: Row): StoredHost {
  return {
    waveIndex: r.waveIndex,
    state: {
      rolloutId: r.rolloutId,
      hostname: r.hostname,
      channel: r.channel,
      phase: r.state,
      targetClosure: r.targetClosure,
      currentClosureAtDispatch: r.currentClosureAtDispatch,
      currentClosure: r.currentClosure,
      revertedTo: r.revertedTo,
      dispatchedAt: msOf(r.dispatchedAt),
      dispatchAckedAt: msOrNull(r.dispatchAckedAt),
      activationStartedAt: msOrNull(r.activationStartedAt),
      activationCompletedAt: msOrNull(r.activationCompletedAt),
      activationFailedAt: msOrNull(r.activationFailedAt),
      probeObservedFirstAt: msOrNull(r.probeObservedFirstAt),
      probeFailureFirstAt: msOrNull(r.probeFailureFirstAt),
      soakDueAt: msOrNull(r.soakDueAt),
      convergedAt: msOrNull(r.convergedAt),
      failedAt: msOrNull(r.failedAt),
      policyApplied: r.policyApplied,
      revertedAt: msOrNull(r.revertedAt),
      probeTopology:
        r.probeTopologyJson === null ? null : (JSON.parse(r.probeTopologyJson) as ProbeDecl[]),
      probes: JSON.parse(r.probesJson) as Record<string, ProbeRecord>,
      lastEventSeq: r.lastEventSeq,
    },
  }
}

/** The full row of a record (shared with the PostgreSQL queries). */
export function toRow(s: HostRolloutState, waveIndex: number): Row {
  return {
    rolloutId: s.rolloutId,
    hostname: s.hostname,
    channel: s.channel,
    state: s.phase,
    waveIndex,
    targetClosure: s.targetClosure,
    currentClosureAtDispatch: s.currentClosureAtDispatch,
    currentClosure: s.currentClosure,
    revertedTo: s.revertedTo,
    dispatchedAt: toRfc3339(s.dispatchedAt),
    dispatchAckedAt: isoOrNull(s.dispatchAckedAt),
    activationStartedAt: isoOrNull(s.activationStartedAt),
    activationCompletedAt: isoOrNull(s.activationCompletedAt),
    activationFailedAt: isoOrNull(s.activationFailedAt),
    probeObservedFirstAt: isoOrNull(s.probeObservedFirstAt),
    probeFailureFirstAt: isoOrNull(s.probeFailureFirstAt),
    soakDueAt: isoOrNull(s.soakDueAt),
    convergedAt: isoOrNull(s.convergedAt),
    failedAt: isoOrNull(s.failedAt),
    policyApplied: s.policyApplied,
    revertedAt: isoOrNull(s.revertedAt),
    probeTopologyJson: s.probeTopology === null ? null : JSON.stringify(s.probeTopology),
    probesJson: JSON.stringify(s.probes),
    lastEventSeq: s.lastEventSeq,
  }
}

const COLUMNS = getTableColumns(hostRolloutRecords)

/** The phases of a closed rollout (core's `isClosed`). */
const CLOSED = ['Terminal', 'Superseded', 'Pruned', 'Cancelled'] as const

/** Whether a rollout's `state` is closed, or not. */
const closedState = (state: AnyColumn, closed: boolean): SQL =>
  (closed ? inArray : notInArray)(state, [...CLOSED])

type RecordColumns = { readonly rolloutId: AnyColumn; readonly state: AnyColumn }

/**
 * The records the reducer keeps in memory (`live`): every record of a rollout that is not
 * closed, plus records still in flight (Pending excluded) in closed rollouts; or the others,
 * the retired ones (shared with the PostgreSQL queries).
 */
export function heldRecords(h: RecordColumns, r: Table & RecordColumns, live: boolean): SQL {
  const ids = sql`(select ${r.rolloutId} from ${r} where ${closedState(r.state, !live)})`
  return live
    ? or(inArray(h.rolloutId, ids), inArray(h.state, [...UNDERWAY_PHASES]))!
    : and(inArray(h.rolloutId, ids), notInArray(h.state, [...UNDERWAY_PHASES]))!
}

/** The host-record queries. */
export function hostRecordQueries(db: Db) {
  // One prepared full-row upsert: every column a placeholder, every non-key column replaced.
  const keys = Object.keys(COLUMNS) as (keyof typeof COLUMNS)[]
  const upsert = db
    .insert(hostRolloutRecords)
    .values(Object.fromEntries(keys.map((k) => [k, sql.placeholder(k)])) as never)
    .onConflictDoUpdate({
      target: [hostRolloutRecords.rolloutId, hostRolloutRecords.hostname],
      set: replaceFromExcluded(hostRolloutRecords, ['rolloutId', 'hostname']),
    })
    .prepare()
  const getOne = db
    .select()
    .from(hostRolloutRecords)
    .where(
      and(
        eq(hostRolloutRecords.rolloutId, sql.placeholder('rolloutId')),
        eq(hostRolloutRecords.hostname, sql.placeholder('hostname'))
      )
    )
    .prepare()
  const recordsWhere = (where: SQL): StoredHost[] =>
    db.select().from(hostRolloutRecords).where(where).all().map(toStored)
  return {
    /** Inserts or replaces the whole record. */
    upsert(state: HostRolloutState, waveIndex: number): void {
      upsert.run(toRow(state, waveIndex) as never)
    },
    /** One record, or `undefined`. */
    async get(rolloutId: string, hostname: string): Promise<StoredHost | undefined> {
      const r = getOne.get({ rolloutId, hostname })
      return r === undefined ? undefined : toStored(r)
    },
    /**
     * The records the reducer keeps in memory: every record of a rollout that is not closed,
     * plus records still in flight (Pending excluded) in closed rollouts.
     */
    async loadLive(): Promise<StoredHost[]> {
      return recordsWhere(heldRecords(hostRolloutRecords, rollouts, true))
    },
    /** The records `loadLive` leaves out: those of closed rollouts that are not in flight. */
    async loadRetired(): Promise<StoredHost[]> {
      return recordsWhere(heldRecords(hostRolloutRecords, rollouts, false))
    },
    /** Every record of a rollout. */
    async ofRollout(rolloutId: string): Promise<StoredHost[]> {
      return recordsWhere(eq(hostRolloutRecords.rolloutId, rolloutId))
    },
    /** Deletes every record of a rollout (retention). */
    deleteOfRollout(rolloutId: string): void {
      db.delete(hostRolloutRecords).where(eq(hostRolloutRecords.rolloutId, rolloutId)).run()
    },
  }
}
