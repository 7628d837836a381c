/** The token-replay and revocation queries on PostgreSQL (see `../../queries/security.ts`). */
import { eq, sql } from 'drizzle-orm'
import type { PgDb } from '../client.ts'
import { certRevocations, tokenReplay } from '../../schema-pg.ts'
import {
  expiredNonces,
  nonceRow,
  revocationRow,
  toNonce,
  toRevocation,
  type StoredRevocation,
  type UsedNonce,
} from '../../queries/security.ts'
import type { Write } from './write.ts'

/** The token-replay and revocation queries. */
export function securityQueries(db: PgDb, write: Write) {
  return {
    /** Records a used nonce, remembered until `keepUntil` (no-op if already recorded). */
    insertNonce(nonce: string, hostname: string, at: number, keepUntil: number): void {
      write(
        db
          .insert(tokenReplay)
          .values(nonceRow(nonce, hostname, at, keepUntil))
          .onConflictDoNothing()
      )
    },
    /** Every used nonce: when first seen and until when it is kept (`null` for older rows). */
    async usedNonces(): Promise<UsedNonce[]> {
      return (await db.select().from(tokenReplay)).map(toNonce)
    },
    /** Whether a nonce was used. */
    async nonceUsed(nonce: string): Promise<boolean> {
      const rows = await db
        .select({ n: sql<number>`1` })
        .from(tokenReplay)
        .where(eq(tokenReplay.nonce, nonce))
        .limit(1)
      return rows.length > 0
    },
    /** Deletes expired nonces (`nonceExpired` says the same of one nonce). */
    pruneNonces(now: number, legacyBefore: number): void {
      write(db.delete(tokenReplay).where(expiredNonces(tokenReplay, now, legacyBefore)))
    },
    /** Inserts or replaces a revocation. */
    upsertRevocation(r: StoredRevocation): void {
      const row = revocationRow(r)
      write(
        db
          .insert(certRevocations)
          .values(row)
          .onConflictDoUpdate({ target: certRevocations.hostname, set: row })
      )
    },
    /** Every revocation. */
    async revocations(): Promise<StoredRevocation[]> {
      return (await db.select().from(certRevocations)).map(toRevocation)
    },
  }
}
