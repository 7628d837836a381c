/**
 * Rollout and host records as the store tests write them: a rollout of channel `stable` opened
 * at `at` (Active unless `over` says otherwise), and a Pending host of it targeting `c1`.
 */
import {
  newPendingHost,
  openRolloutRecord,
  type HostRolloutState,
  type RolloutRecord,
} from '../../src/core/index.ts'

/** Rollout `id` of `stable`, opened at `at`, Active, with `over` applied. */
export function rolloutRecord(
  id: string,
  at: number,
  over: Partial<RolloutRecord> = {}
): RolloutRecord {
  const opened = {
    type: 'RolloutOpened',
    rolloutId: id,
    channel: 'stable',
    targetRef: 'ref',
  } as const
  return { ...openRolloutRecord({ ...opened, at }), phase: 'Active', ...over }
}

/** `hostname`'s Pending record in `rolloutId`, dispatched at `at`, with `over` applied. */
export function pendingHost(
  rolloutId: string,
  hostname: string,
  at: number,
  over: Partial<HostRolloutState> = {}
): HostRolloutState {
  return {
    ...newPendingHost({
      rolloutId,
      hostname,
      channel: 'stable',
      targetClosure: 'c1',
      dispatchedAt: at,
    }),
    ...over,
  }
}
