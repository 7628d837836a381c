/**
 * The fence of a replica leader's writes (docs/control-plane.md, replicas): every write transaction begins with the
 * check that the epoch it leads with is still `cp_leader`'s; a deposed leader's finds no row.
 * Invariant: a fenced-out transaction never commits (`FencedOut`, fatal for the process).
 */
import type { SQL } from 'bun'
import { runStatement, type SqlStatement } from './statement.ts'

/** Why a write transaction was refused: the replica's epoch is no longer the current one. */
export class FencedOut extends Error {
  override readonly name = 'FencedOut'
  constructor(readonly epoch: number) {
    super(`fenced out: epoch ${epoch} is no longer the leader's (another replica took the lead)`)
  }
}

/**
 * The statement every write transaction of the leader begins with: one row while `epoch` is
 * current, none once another replica has bumped it. `FOR SHARE` makes a concurrent epoch bump
 * wait until this transaction ends.
 */
export function fenceCheck(epoch: number): SqlStatement {
  return {
    text: 'SELECT 1 AS fenced FROM cp_leader WHERE id = 1 AND epoch = $1::bigint FOR SHARE',
    params: [epoch],
  }
}

/** Runs the fence check of `epoch` on `tx` (inside a transaction); throws `FencedOut` on no row. */
export async function checkFence(tx: SQL, epoch: number): Promise<void> {
  const rows = await runStatement(tx, fenceCheck(epoch))
  if (rows.length !== 1) throw new FencedOut(epoch)
}
