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

/** The high-water mark and adopted-artifact queries. */
export function releaseQueries(db: Db) {
  return {
    /** Every mark. */
    async marks(): Promise<StoredMark[]> {
      return db
        .select()
        .from(highWaterMarks)
        .all()
        .map((r) => ({
          key: r.key,
          signedAtMs: msOf(r.signedAt),
          ciCommit: r.ciCommit,
          sha256: r.sha256,
        }))
    },
    /** Raises (or sets) a mark. */
    setMark(m: StoredMark, at: number): void {
      const row = {
        key: m.key,
        signedAt: toRfc3339(m.signedAtMs),
        ciCommit: m.ciCommit,
        sha256: m.sha256,
        updatedAt: toRfc3339(at),
      }
      db.insert(highWaterMarks)
        .values(row)
        .onConflictDoUpdate({ target: highWaterMarks.key, set: row })
        .run()
    },
    /** Every adopted artifact. */
    async artifacts(): Promise<StoredArtifact[]> {
      return db
        .select()
        .from(adoptedArtifacts)
        .all()
        .map((r) => ({
          key: r.key,
          artifact: new Uint8Array(r.artifact),
          signature: new Uint8Array(r.signature),
          sha256: r.sha256,
          adoptedAt: msOf(r.adoptedAt),
        }))
    },
    /** Stores (replacing) an adopted artifact. */
    setArtifact(a: StoredArtifact): void {
      const row = {
        key: a.key,
        artifact: Buffer.from(a.artifact),
        signature: Buffer.from(a.signature),
        sha256: a.sha256,
        adoptedAt: toRfc3339(a.adoptedAt),
      }
      db.insert(adoptedArtifacts)
        .values(row)
        .onConflictDoUpdate({ target: adoptedArtifacts.key, set: row })
        .run()
    },
  }
}
