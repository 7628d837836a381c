/**
 * The tagged errors of the host `step` (spec §1.5). They are data: the reducer loop logs and
 * drops them (agent) or answers 409 with the reason (CP, DECISIONS §3.11). Never thrown.
 */
import { assertNever } from '../lib/assert-never.ts'
import type { HostEventType } from './events.ts'
import type { HostPhase } from './state.ts'

/** The reasons `step` refuses an event. */
export type HostStepError =
  | {
      readonly type: 'IllegalForState'
      readonly from: HostPhase
      readonly event: HostEventType
      readonly rolloutId: string
      readonly hostname: string
    }
  | {
      /** `got == last` is a retransmit, `got < last` an out-of-order delivery. */
      readonly type: 'SeqRegression'
      readonly got: number
      readonly last: number
      readonly rolloutId: string
      readonly hostname: string
    }
  | {
      readonly type: 'Invariant'
      readonly event: HostEventType
      readonly violations: readonly string[]
      readonly rolloutId: string
      readonly hostname: string
    }

/** A one-line, operator-readable rendering of a step error. */
export function describeHostStepError(error: HostStepError): string {
  const who = `${error.hostname} in ${error.rolloutId}`
  switch (error.type) {
    case 'IllegalForState':
      return `${error.event} is not legal for ${who} in state ${error.from}`
    case 'SeqRegression':
      return error.got === error.last
        ? `duplicate event seq ${error.got} for ${who}`
        : `out-of-order event seq ${error.got} for ${who} (last ${error.last})`
    case 'Invariant':
      return `${error.event} refused for ${who}: ${error.violations.join('; ')}`
    default:
      return assertNever(error, 'host step error')
  }
}
