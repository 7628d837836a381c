/**
 * Release bookkeeping: anti-rollback high-water marks (DECISIONS §3.1) per artifact kind and per
 * channel, and the bytes of each adopted artifact so a restarted CP serves the newest release it
 * accepted even when its source is down or now serves an older one.
 */
import type { HighWaterMark } from '../../core/release/anti-rollback.ts'
import type { Db } from '../client.ts'
import { adoptedArtifacts, highWaterMarks } from '../schema.ts'
import { toRfc3339 } from '../../proto/common.ts'
import { msOf } from './time.ts'

/** A stored mark with the digest of the artifact that set it. */
export type StoredMark = HighWaterMark & { readonly key: string; readonly sha256: string }

/** A stored adopted artifact. */
export type StoredArtifact = {
  readonly key: string
  readonly artifact: Uint8Array
  readonly signature: Uint8Array
  readonly sha256: string
  readonly adoptedAt: number
}

// The row builders and mappers below are shared with the PostgreSQL queries.

/** A row as a mark. */
export const toMark = (r: typeof highWaterMarks.$inferSelect): StoredMark => ({
  key: r.key,
  signedAtMs: msOf(r.signedAt),
  ciCommit: r.ciCommit,
  sha256: r.sha256,
})

/** The row of a mark set at `at`. */
export const markRow = (m: StoredMark, at: number) => ({
  key: m.key,
  signedAt: toRfc3339(m.signedAtMs),
  ciCommit: m.ciCommit,
  sha256: m.sha256,
  updatedAt: toRfc3339(at),
})

/** A row as an adopted artifact. */
export const toArtifact = (r: typeof adoptedArtifacts.$inferSelect): StoredArtifact => ({
  key: r.key,
  artifact: new Uint8Array(r.artifact),
  signature: new Uint8Array(r.signature),
  sha256: r.sha256,
  adoptedAt: msOf(r.adoptedAt),
})

/** The row of an adopted artifact. */
export const artifactRow = (a: StoredArtifact) => ({
  key: a.key,
  artifact: Buffer.from(a.artifact),
  signature: Buffer.from(a.signature),
  sha256: a.sha256,
  adoptedAt: toRfc3339(a.adoptedAt),
})

/** The high-water mark and adopted-artifact queries. */
export function releaseQueries(db: Db) {
  return {
    /** Every mark. */
    async marks(): Promise<StoredMark[]> {
      return db.select().from(highWaterMarks).all().map(toMark)
    },
    /** Raises (or sets) a mark. */
    setMark(m: StoredMark, at: number): void {
      const row = markRow(m, at)
      db.insert(highWaterMarks)
        .values(row)
        .onConflictDoUpdate({ target: highWaterMarks.key, set: row })
        .run()
    },
    /** Every adopted artifact. */
    async artifacts(): Promise<StoredArtifact[]> {
      return db.select().from(adoptedArtifacts).all().map(toArtifact)
    },
    /** Stores (replacing) an adopted artifact. */
    setArtifact(a: StoredArtifact): void {
      const row = artifactRow(a)
      db.insert(adoptedArtifacts)
        .values(row)
        .onConflictDoUpdate({ target: adoptedArtifacts.key, set: row })
        .run()
    },
  }
}
