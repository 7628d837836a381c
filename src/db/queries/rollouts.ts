/**
 * The rollout lifecycle rows ↔ core `RolloutRecord`, plus the channel policy and budgets frozen
 * when the rollout opened (a rollout is governed by the release that defined it, even after a
 * newer release changed the channel).
 */
import { and, desc, eq, inArray, lt, or, type AnyColumn, type SQL } from 'drizzle-orm'
import type {
  DisruptionBudget,
  ResolvedWave,
  RolloutHalt,
  RolloutCancel,
  RolloutPhase,
  RolloutPolicy,
  RolloutRecord,
  RolloutResume,
} from '../../core/index.ts'
import type { Db } from '../client.ts'
import { rollouts } from '../schema.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { isoOrNull, msOf, msOrNull } from './time.ts'

/** The channel's policy as the opening release declared it. */
export type FrozenPolicy = {
  readonly policyName: string
  /** `null` when the release named a policy it does not define (events are then refused). */
  readonly policy: RolloutPolicy | null
  readonly waves: readonly ResolvedWave[]
}

/** A stored rollout. */
export type StoredRollout = {
  readonly record: RolloutRecord
  readonly policy: FrozenPolicy
  readonly budgets: readonly DisruptionBudget[]
  readonly openedEventLogSeq: number | null
}

type Row = typeof rollouts.$inferSelect

/** A row as a stored rollout (shared with the PostgreSQL queries). */
export function toStored(r: Row): StoredRollout {
  return {
    record: {
      rolloutId: r.rolloutId,
      channel: r.channel,
      targetRef: r.targetRef,
      phase: r.state,
      currentWave: r.currentWave,
      openedAt: msOf(r.openedAt),
      terminalAt: msOrNull(r.terminalAt),
      supersededAt: msOrNull(r.supersededAt),
      halt: r.haltJson === null ? null : (JSON.parse(r.haltJson) as RolloutHalt),
      lastResume:
        r.lastResumeJson === null ? null : (JSON.parse(r.lastResumeJson) as RolloutResume),
      lastHalt: r.lastHaltJson === null ? null : (JSON.parse(r.lastHaltJson) as RolloutHalt),
      cancelled: r.cancelJson === null ? null : (JSON.parse(r.cancelJson) as RolloutCancel),
      supersededBy: r.supersededBy,
    },
    policy: JSON.parse(r.policyJson) as FrozenPolicy,
    budgets: JSON.parse(r.budgetsJson) as DisruptionBudget[],
    openedEventLogSeq: r.openedEventLogSeq,
  }
}

/** The columns a stepped record changes (its insert and update rows, below). */
function recordColumns(record: RolloutRecord) {
  return {
    state: record.phase,
    currentWave: record.currentWave,
    terminalAt: isoOrNull(record.terminalAt),
    supersededAt: isoOrNull(record.supersededAt),
    haltJson: record.halt === null ? null : JSON.stringify(record.halt),
    lastResumeJson: record.lastResume === null ? null : JSON.stringify(record.lastResume),
    lastHaltJson: record.lastHalt === null ? null : JSON.stringify(record.lastHalt),
    cancelJson: record.cancelled === null ? null : JSON.stringify(record.cancelled),
    supersededBy: record.supersededBy,
  }
}

/** Where a page of the rollout history starts: after this (openedAt, rolloutId), newest first. */
export type RolloutCursor = { readonly openedAt: number; readonly rolloutId: string }

/** A filter and page of the rollout history. */
export type RolloutPage = {
  readonly channel?: string | undefined
  readonly states?: readonly RolloutPhase[] | undefined
  readonly after?: RolloutCursor | undefined
  readonly limit: number
}

/** The row of a newly opened rollout (shared with the PostgreSQL queries). */
export function rolloutRow(
  record: RolloutRecord,
  policy: FrozenPolicy,
  budgets: readonly DisruptionBudget[],
  openedSeq: number
) {
  return {
    rolloutId: record.rolloutId,
    channel: record.channel,
    targetRef: record.targetRef,
    openedAt: toRfc3339(record.openedAt),
    openedEventLogSeq: openedSeq,
    policyJson: JSON.stringify(policy),
    budgetsJson: JSON.stringify(budgets),
    ...recordColumns(record),
  }
}

/** What `update` sets (shared with the PostgreSQL queries). */
export function rolloutUpdate(record: RolloutRecord, transitionSeq: number | null) {
  return {
    ...recordColumns(record),
    ...(transitionSeq !== null ? { lastTransitionEventLogSeq: transitionSeq } : {}),
  }
}

type PageColumns = {
  channel: AnyColumn
  state: AnyColumn
  openedAt: AnyColumn
  rolloutId: AnyColumn
}

/** The rows of a page (order and limit are the caller's; shared with the PostgreSQL queries). */
export function pageOf(r: PageColumns, p: RolloutPage): SQL | undefined {
  const where: SQL[] = []
  if (p.channel !== undefined) where.push(eq(r.channel, p.channel))
  if (p.states !== undefined) where.push(inArray(r.state, [...p.states]))
  if (p.after !== undefined) {
    const at = toRfc3339(p.after.openedAt)
    where.push(or(lt(r.openedAt, at), and(eq(r.openedAt, at), lt(r.rolloutId, p.after.rolloutId)))!)
  }
  return and(...where)
}

/** The rollout queries. */
export function rolloutQueries(db: Db) {
  return {
    /** Inserts a newly opened rollout (ignored if the id exists). */
    insert(
      record: RolloutRecord,
      policy: FrozenPolicy,
      budgets: readonly DisruptionBudget[],
      openedSeq: number
    ): void {
      db.insert(rollouts)
        .values(rolloutRow(record, policy, budgets, openedSeq))
        .onConflictDoNothing()
        .run()
    },
    /** Writes a stepped record back. */
    update(record: RolloutRecord, transitionSeq: number | null): void {
      db.update(rollouts)
        .set(rolloutUpdate(record, transitionSeq))
        .where(eq(rollouts.rolloutId, record.rolloutId))
        .run()
    },
    /** Every rollout, pruned ones included (their ids stay known so they never reopen). */
    async loadAll(): Promise<StoredRollout[]> {
      return db.select().from(rollouts).all().map(toStored)
    },
    /**
     * A page of every rollout (closed ones included), newest first by (opened at, id), after
     * the cursor; filtered by channel and states.
     */
    async page(p: RolloutPage): Promise<StoredRollout[]> {
      return db
        .select()
        .from(rollouts)
        .where(pageOf(rollouts, p))
        .orderBy(desc(rollouts.openedAt), desc(rollouts.rolloutId))
        .limit(p.limit)
        .all()
        .map(toStored)
    },
    /** One rollout, pruned included. */
    async get(rolloutId: string): Promise<StoredRollout | undefined> {
      const r = db.select().from(rollouts).where(eq(rollouts.rolloutId, rolloutId)).get()
      return r === undefined ? undefined : toStored(r)
    },
  }
}
