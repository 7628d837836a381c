/**
 * The durable record of every known host (`host_records`), kept after its rollouts close: rows ↔
 * `KnownHost` (times as epoch ms, closure history as JSON). Upserts write the full row.
 */
import type { Db } from '../client.ts'
import { hostRecords } from '../schema.ts'
import { isoOrNull, msOrNull } from './time.ts'

/** How a host's last rollout ended for it. */
export type RolloutOutcome = 'converged' | 'failed' | 'rolled-back' | 'skipped' | 'in-progress'

/** One closure a host ran, from when, and the rollout that put it there if any. */
export type ClosureSeen = {
  readonly closure: string
  readonly at: number
  readonly rolloutId: string | null
}

/** What the CP keeps of a host. */
export type KnownHost = {
  readonly hostname: string
  readonly channel: string | null
  readonly currentClosure: string | null
  readonly currentClosureAt: number | null
  readonly targetClosure: string | null
  readonly lastSeenAt: number | null
  readonly lastRolloutId: string | null
  readonly lastRolloutOutcome: RolloutOutcome | null
  readonly enrolledAt: number | null
  readonly cert: {
    readonly serial: string
    readonly notBefore: number
    readonly notAfter: number
  } | null
  /** Newest first, bounded by the writer. */
  readonly closureHistory: readonly ClosureSeen[]
}

type Row = typeof hostRecords.$inferSelect

/** A row as a known host (shared with the PostgreSQL queries). */
export function toKnown(r: Row): KnownHost {
  const notBefore = msOrNull(r.certNotBefore)
  const notAfter = msOrNull(r.certNotAfter)
  return {
    hostname: r.hostname,
    channel: r.channel,
    currentClosure: r.currentClosure,
    currentClosureAt: msOrNull(r.currentClosureAt),
    targetClosure: r.targetClosure,
    lastSeenAt: msOrNull(r.lastSeenAt),
    lastRolloutId: r.lastRolloutId,
    lastRolloutOutcome: r.lastRolloutOutcome as RolloutOutcome | null,
    enrolledAt: msOrNull(r.enrolledAt),
    cert:
      r.certSerial === null || notBefore === null || notAfter === null
        ? null
        : { serial: r.certSerial, notBefore, notAfter },
    closureHistory: JSON.parse(r.closureHistory) as ClosureSeen[],
  }
}

/** The full row of a known host (shared with the PostgreSQL queries). */
export function toRow(h: KnownHost): Row {
  return {
    hostname: h.hostname,
    channel: h.channel,
    currentClosure: h.currentClosure,
    currentClosureAt: isoOrNull(h.currentClosureAt),
    targetClosure: h.targetClosure,
    lastSeenAt: isoOrNull(h.lastSeenAt),
    lastRolloutId: h.lastRolloutId,
    lastRolloutOutcome: h.lastRolloutOutcome,
    enrolledAt: isoOrNull(h.enrolledAt),
    certSerial: h.cert?.serial ?? null,
    certNotBefore: isoOrNull(h.cert?.notBefore ?? null),
    certNotAfter: isoOrNull(h.cert?.notAfter ?? null),
    closureHistory: JSON.stringify(h.closureHistory),
  }
}

/** The known-host queries. */
export function knownHostQueries(db: Db) {
  return {
    /** Every known host. */
    async all(): Promise<KnownHost[]> {
      return db.select().from(hostRecords).all().map(toKnown)
    },
    /** Inserts or replaces a host's record. */
    upsert(h: KnownHost): void {
      const row = toRow(h)
      db.insert(hostRecords)
        .values(row)
        .onConflictDoUpdate({ target: hostRecords.hostname, set: row })
        .run()
    },
  }
}
