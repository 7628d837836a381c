/**
 * Security lookups: single-use bootstrap-token nonces (`token_replay`) and signed certificate
 * revocations (`cert_revocations`, kept across restarts, never deleted).
 */
import { and, eq, isNull, lt, or, sql } from 'drizzle-orm'
import type { Db } from '../client.ts'
import { certRevocations, tokenReplay } from '../schema.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { changesOf, msOf } from './time.ts'

/** A stored revocation: certificates of `hostname` issued before `notBefore` are refused. */
export type StoredRevocation = {
  readonly hostname: string
  readonly notBefore: number
  readonly reason: string | null
  readonly revokedBy: string | null
  readonly revokedAt: number
}

/** The token-replay and revocation queries. */
export function securityQueries(db: Db) {
  return {
    /**
     * Records a used nonce, remembered until `keepUntil`; false when it was already used (the PK
     * closes the race).
     */
    insertNonce(nonce: string, hostname: string, at: number, keepUntil: number): boolean {
      const r = db
        .insert(tokenReplay)
        .values({ nonce, hostname, firstSeen: toRfc3339(at), keepUntil: toRfc3339(keepUntil) })
        .onConflictDoNothing()
        .run()
      return changesOf(r) === 1
    },
    /** Whether a nonce was used. */
    nonceUsed(nonce: string): boolean {
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
     * seen before `legacyBefore`; returns how many.
     */
    pruneNonces(now: number, legacyBefore: number): number {
      return changesOf(
        db
          .delete(tokenReplay)
          .where(
            or(
              lt(tokenReplay.keepUntil, toRfc3339(now)),
              and(isNull(tokenReplay.keepUntil), lt(tokenReplay.firstSeen, toRfc3339(legacyBefore)))
            )
          )
          .run()
      )
    },
    /** Inserts or replaces a revocation. */
    upsertRevocation(r: StoredRevocation): void {
      const row = {
        hostname: r.hostname,
        notBefore: toRfc3339(r.notBefore),
        reason: r.reason,
        revokedBy: r.revokedBy,
        revokedAt: toRfc3339(r.revokedAt),
      }
      db.insert(certRevocations)
        .values(row)
        .onConflictDoUpdate({ target: certRevocations.hostname, set: row })
        .run()
    },
    /** Every revocation. */
    revocations(): StoredRevocation[] {
      return db
        .select()
        .from(certRevocations)
        .all()
        .map((r) => ({
          hostname: r.hostname,
          notBefore: msOf(r.notBefore),
          reason: r.reason,
          revokedBy: r.revokedBy,
          revokedAt: msOf(r.revokedAt),
        }))
    },
  }
}
