/**
 * How the PostgreSQL query modules write: a write method builds its drizzle query and hands it
 * to `Write`, which renders it (text and parameters) into the open transaction's buffer; nothing
 * runs until the store commits the buffer (`../store.ts`). Reads run at once on the pool.
 */

/** Any pg-core query builder (what drizzle can render without running it). */
export type Renderable = { toSQL(): { sql: string; params: unknown[] } }

/** Queues one statement in the current transaction's buffer; throws outside a transaction. */
export type Write = (q: Renderable) => void
