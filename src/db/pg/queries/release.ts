/** The high-water mark and adopted-artifact queries on PostgreSQL (see the SQLite module). */
import type { PgDb } from '../client.ts'
import { adoptedArtifacts, highWaterMarks } from '../../schema-pg.ts'
import {
  artifactRow,
  markRow,
  toArtifact,
  toMark,
  type StoredArtifact,
  type StoredMark,
} from '../../queries/release.ts'
import type { Write } from './write.ts'

/** The high-water mark and adopted-artifact queries. */
export function releaseQueries(db: PgDb, write: Write) {
  return {
    /** Every mark. */
    async marks(): Promise<StoredMark[]> {
      return (await db.select().from(highWaterMarks)).map(toMark)
    },
    /** Raises (or sets) a mark. */
    setMark(m: StoredMark, at: number): void {
      const row = markRow(m, at)
      write(
        db
          .insert(highWaterMarks)
          .values(row)
          .onConflictDoUpdate({ target: highWaterMarks.key, set: row })
      )
    },
    /** Every adopted artifact. */
    async artifacts(): Promise<StoredArtifact[]> {
      return (await db.select().from(adoptedArtifacts)).map(toArtifact)
    },
    /** Stores (replacing) an adopted artifact. */
    setArtifact(a: StoredArtifact): void {
      const row = artifactRow(a)
      write(
        db
          .insert(adoptedArtifacts)
          .values(row)
          .onConflictDoUpdate({ target: adoptedArtifacts.key, set: row })
      )
    },
  }
}
