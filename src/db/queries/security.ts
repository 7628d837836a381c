/**
 * Security lookups: single-use bootstrap-token nonces (`token_replay`) and signed certificate
 * revocations (`cert_revocations`, kept across restarts, never deleted).
 */
import { and, eq, isNull, lt, or, sql, type AnyColumn, type SQL } from 'drizzle-orm'
import type { Db } from '../client.ts'
import { certRevocations, tokenReplay } from '../schema.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { msOf, msOrNull } from './time.ts'

/** A stored revocation: certificates of `hostname` issued before `notBefore` are refused. */
export type StoredRevocation = {
  readonly hostname: string
  readonly notBefore: number
  readonly reason: string | null
  readonly revokedBy: string | null
  readonly revokedAt: number
}

/** A used bootstrap nonce. */
export type UsedNonce = {
  readonly nonce: string
  readonly firstSeen: number
  /** `null` for rows written before nonces carried their own retention. */
  readonly keepUntil: number | null
}

/** Whether `pruneNonces(now, legacyBefore)` deletes this nonce. */
export function nonceExpired(n: UsedNonce, now: number, legacyBefore: number): boolean {
  // Text order is time order (`time.ts`), so comparing ms decides as the SQL does.
  return n.keepUntil !== null ? n.keepUntil < now : n.firstSeen < legacyBefore
}

/** The rows `pruneNonces(now, legacyBefore)` deletes, as `nonceExpired` decides one (both dialects). */
export const expiredNonces = (
  t: { readonly keepUntil: AnyColumn; readonly firstSeen: AnyColumn },
  now: number,
  legacyBefore: number
): SQL =>
  or(
    lt(t.keepUntil, toRfc3339(now)),
    and(isNull(t.keepUntil), lt(t.firstSeen, toRfc3339(legacyBefore)))
  )!

// The row builders and mappers below are shared with the PostgreSQL queries.

/** The row of a used nonce. */
export const nonceRow = (nonce: string, hostname: string, at: number, keepUntil: number) => ({
  nonce,
  hostname,
  firstSeen: toRfc3339(at),
  keepUntil: toRfc3339(keepUntil),
})

/** A row as a used nonce. */
export const toNonce = (r: typeof tokenReplay.$inferSelect): UsedNonce => ({
  nonce: r.nonce,
  firstSeen: msOf(r.firstSeen),
  keepUntil: msOrNull(r.keepUntil),
})

/** The row of a revocation. */
export const revocationRow = (r: StoredRevocation) => ({
  hostname: r.hostname,
  notBefore: toRfc3339(r.notBefore),
  reason: r.reason,
  revokedBy: r.revokedBy,
  revokedAt: toRfc3339(r.revokedAt),
})

/** A row as a revocation. */
export const toRevocation = (r: typeof certRevocations.$inferSelect): StoredRevocation => ({
  hostname: r.hostname,
  notBefore: msOf(r.notBefore),
  reason: r.reason,
  revokedBy: r.revokedBy,
  revokedAt: msOf(r.revokedAt),
})

/** The token-replay and revocation queries. */
export function securityQueries(db: Db) {
  return {
    /**
     * Records a used nonce, remembered until `keepUntil` (no-op if already recorded: the caller
     * decides freshness from memory, the PK is the backstop).
     */
    insertNonce(nonce: string, hostname: string, at: number, keepUntil: number): void {
      db.insert(tokenReplay)
        .values(nonceRow(nonce, hostname, at, keepUntil))
        .onConflictDoNothing()
        .run()
    },
    /** Every used nonce: when first seen and until when it is kept (`null` for older rows). */
    async usedNonces(): Promise<UsedNonce[]> {
      return db.select().from(tokenReplay).all().map(toNonce)
    },
    /** Whether a nonce was used. */
    async nonceUsed(nonce: string): Promise<boolean> {
      return (
        db
          .select({ n: sql<number>`1` })
          .from(tokenReplay)
          .where(eq(tokenReplay.nonce, nonce))
          .get() !== undefined
      )
    },
    /**
     * Deletes nonces kept until before `now`, and those without `keep_until` (older rows) first
     * seen before `legacyBefore` (`nonceExpired` says the same of one nonce).
     */
    pruneNonces(now: number, legacyBefore: number): void {
      db.delete(tokenReplay)
        .where(expiredNonces(tokenReplay, now, legacyBefore))
        .run()
    },
    /** Inserts or replaces a revocation. */
    upsertRevocation(r: StoredRevocation): void {
      const row = revocationRow(r)
      db.insert(certRevocations)
        .values(row)
        .onConflictDoUpdate({ target: certRevocations.hostname, set: row })
        .run()
    },
    /** Every revocation. */
    async revocations(): Promise<StoredRevocation[]> {
      return db.select().from(certRevocations).all().map(toRevocation)
    },
  }
}
