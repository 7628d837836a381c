/**
 * The host events (spec §1.3): past-tense facts in `Local*` (agent) / `Remote*` (CP mirror)
 * pairs that drive identical transitions, plus the outbound agent event (the 12 wire kinds).
 *
 * Invariants (do not change without a protocol update):
 * - Every event carries `seq`, monotonic per (hostname, rolloutId), starting at 1.
 * - Times are epoch milliseconds; the shell converts to and from RFC 3339 at the edge.
 * - A pair shares one payload type, so the two sides cannot drift apart; the only asymmetry is
 *   `LocalActivate.targetClosure` (the agent checks it against its record; the CP knows it).
 * - `OutboundAgentEvent.kind` values are the wire `kind` strings of `POST /v1/agent/events`.
 */
import type { OnHealthFailure } from '../types.ts'
import type { ProbeDecl, ProbeMode, ProbeStatus } from './state.ts'

/** The sub-result of an evidence probe, one per (control, framework, article). */
export type ProbeSubResult = {
  readonly controlId: string
  readonly status: ProbeStatus
  readonly framework: string
  readonly article: string | null
  readonly effectiveMode: ProbeMode
  readonly overrideReason: string | null
}

/** The payload of a dispatch acknowledgement. */
export type DispatchAckPayload = {
  /** The basename of the current system before the switch: the rollback target (§3.7). */
  readonly currentClosureAtDispatch: string
  readonly receivedAt: number
}
/** The payload of `*ActivationStarted`. */
export type ActivationStartedPayload = { readonly startedAt: number; readonly switchMethod: string }
/** The payload of `*ActivationCompleted`. */
export type ActivationCompletedPayload = {
  readonly observedCurrentClosure: string
  readonly exitCode: number
  readonly completedAt: number
}
/** The payload of `*ActivationDeferred` (`component` is dbus, systemd, kernel or init). */
export type ActivationDeferredPayload = { readonly component: string; readonly deferredAt: number }
/** The payload of `*ActivationFailed`. */
export type ActivationFailedPayload = {
  readonly exitCode: number
  readonly stderrTail: string
  readonly failedAt: number
}
/** The payload of `*ProbeTopologyDeclared`: the authoritative probe set after activation. */
export type ProbeTopologyPayload = {
  readonly probes: readonly ProbeDecl[]
  readonly declaredAt: number
}
/** The payload of `*ProbeObservedFirst`. */
export type ProbeObservedFirstPayload = {
  readonly probeName: string
  readonly mode: ProbeMode
  readonly observedAt: number
}
/** The payload of `*ProbeResult`. */
export type ProbeResultPayload = {
  readonly probeName: string
  readonly mode: ProbeMode
  readonly status: ProbeStatus
  readonly observedAt: number
  readonly failureReason: string | null
  readonly subResults: readonly ProbeSubResult[] | null
}
/** The payload of `*ProbeFailureFirst`. */
export type ProbeFailureFirstPayload = {
  readonly probeName: string
  readonly mode: ProbeMode
  readonly firstFailedAt: number
}
/** The payload of a sustained-failure verdict (`LocalSustainedFailureCrossed` / `RemoteFailed`). */
export type FailedPayload = {
  readonly failedAt: number
  readonly sustainedDurationSecs: number
  readonly failingProbes: readonly string[]
  readonly policyApplied: OnHealthFailure
}
/** The payload of a completed rollback. */
export type RollbackCompletePayload = {
  readonly revertedToClosure: string
  readonly exitCode: number
  readonly completedAt: number
}
/** The payload of a convergence verdict. */
export type ConvergedPayload = { readonly convergedAt: number; readonly currentClosure: string }

type Ev<T extends string, P> = { readonly type: T; readonly seq: number } & P

/** The host events: 12 agent-side `Local*` and 12 CP-side `Remote*` facts. */
export type HostEvent =
  | Ev<'LocalActivate', DispatchAckPayload & { readonly targetClosure: string }>
  | Ev<'RemoteDispatchAck', DispatchAckPayload>
  | Ev<'LocalActivationStarted', ActivationStartedPayload>
  | Ev<'RemoteActivationStarted', ActivationStartedPayload>
  | Ev<'LocalActivationCompleted', ActivationCompletedPayload>
  | Ev<'RemoteActivationCompleted', ActivationCompletedPayload>
  | Ev<'LocalActivationDeferred', ActivationDeferredPayload>
  | Ev<'RemoteActivationDeferred', ActivationDeferredPayload>
  | Ev<'LocalActivationFailed', ActivationFailedPayload>
  | Ev<'RemoteActivationFailed', ActivationFailedPayload>
  | Ev<'LocalProbeTopologyDeclared', ProbeTopologyPayload>
  | Ev<'RemoteProbeTopologyDeclared', ProbeTopologyPayload>
  | Ev<'LocalProbeObservedFirst', ProbeObservedFirstPayload>
  | Ev<'RemoteProbeObservedFirst', ProbeObservedFirstPayload>
  | Ev<'LocalProbeResult', ProbeResultPayload>
  | Ev<'RemoteProbeResult', ProbeResultPayload>
  | Ev<'LocalProbeFailureFirst', ProbeFailureFirstPayload>
  | Ev<'RemoteProbeFailureFirst', ProbeFailureFirstPayload>
  | Ev<'LocalSustainedFailureCrossed', FailedPayload>
  | Ev<'RemoteFailed', FailedPayload>
  | Ev<'LocalRollbackCompleted', RollbackCompletePayload>
  | Ev<'RemoteRollbackComplete', RollbackCompletePayload>
  | Ev<'LocalConvergedReached', ConvergedPayload>
  | Ev<'RemoteConverged', ConvergedPayload>

/** The event type tags. */
export type HostEventType = HostEvent['type']

/** The event of a given type tag. */
export type HostEventOf<T extends HostEventType> = Extract<HostEvent, { type: T }>

type Out<K extends string, P> = { readonly kind: K; readonly seq: number } & P

/** The agent event as posted to `POST /v1/agent/events` (times still epoch ms). */
export type OutboundAgentEvent =
  | Out<'DispatchAck', DispatchAckPayload>
  | Out<'ActivationStarted', ActivationStartedPayload>
  | Out<'ActivationCompleted', ActivationCompletedPayload>
  | Out<'ActivationDeferred', ActivationDeferredPayload>
  | Out<'ActivationFailed', ActivationFailedPayload>
  | Out<'ProbeTopologyDeclared', ProbeTopologyPayload>
  | Out<'ProbeObservedFirst', ProbeObservedFirstPayload>
  | Out<'ProbeResult', ProbeResultPayload>
  | Out<'ProbeFailureFirst', ProbeFailureFirstPayload>
  | Out<'Failed', FailedPayload>
  | Out<'RollbackComplete', RollbackCompletePayload>
  | Out<'Converged', ConvergedPayload>

/** The wire kinds of the outbound agent event. */
export type OutboundKind = OutboundAgentEvent['kind']

/** The wire kind each event maps to (1:1 by name, spec §1.3). */
export const WIRE_KIND: { readonly [T in HostEventType]: OutboundKind } = {
  LocalActivate: 'DispatchAck',
  RemoteDispatchAck: 'DispatchAck',
  LocalActivationStarted: 'ActivationStarted',
  RemoteActivationStarted: 'ActivationStarted',
  LocalActivationCompleted: 'ActivationCompleted',
  RemoteActivationCompleted: 'ActivationCompleted',
  LocalActivationDeferred: 'ActivationDeferred',
  RemoteActivationDeferred: 'ActivationDeferred',
  LocalActivationFailed: 'ActivationFailed',
  RemoteActivationFailed: 'ActivationFailed',
  LocalProbeTopologyDeclared: 'ProbeTopologyDeclared',
  RemoteProbeTopologyDeclared: 'ProbeTopologyDeclared',
  LocalProbeObservedFirst: 'ProbeObservedFirst',
  RemoteProbeObservedFirst: 'ProbeObservedFirst',
  LocalProbeResult: 'ProbeResult',
  RemoteProbeResult: 'ProbeResult',
  LocalProbeFailureFirst: 'ProbeFailureFirst',
  RemoteProbeFailureFirst: 'ProbeFailureFirst',
  LocalSustainedFailureCrossed: 'Failed',
  RemoteFailed: 'Failed',
  LocalRollbackCompleted: 'RollbackComplete',
  RemoteRollbackComplete: 'RollbackComplete',
  LocalConvergedReached: 'Converged',
  RemoteConverged: 'Converged',
}

/** The event type tags in pair order (Local then Remote), for tables and tests. */
export const HOST_EVENT_TYPES = Object.keys(WIRE_KIND) as readonly HostEventType[]

/** Whether `event` is an agent-side (`Local*`) fact; CP-side (`Remote*`) otherwise. */
export function isLocal(event: HostEvent): boolean {
  return event.type.startsWith('Local')
}

/** The outbound wire event carrying `event`'s payload (the `type` tag replaced by `kind`). */
export function toOutbound(event: HostEvent): OutboundAgentEvent {
  const { type, ...rest } = event
  if (event.type === 'LocalActivate') {
    // The wire DispatchAck has no targetClosure: the CP already knows its record's target.
    const { currentClosureAtDispatch, receivedAt, seq } = event
    return { kind: 'DispatchAck', seq, currentClosureAtDispatch, receivedAt }
  }
  return { kind: WIRE_KIND[type], ...rest } as OutboundAgentEvent
}

/** The CP-side (`Remote*`) event type of each wire kind: the inverse of `WIRE_KIND`'s Remote half. */
const REMOTE_TYPE = Object.fromEntries(
  HOST_EVENT_TYPES.filter((t) => !t.startsWith('Local')).map((t) => [WIRE_KIND[t], t])
) as { readonly [K in OutboundKind]: HostEventType }

/** The CP-side (`Remote*`) host event carrying an agent's wire event (inverse of `toOutbound`). */
export function remoteEventOf(event: OutboundAgentEvent): HostEvent {
  const { kind, ...rest } = event
  return { type: REMOTE_TYPE[kind], ...rest } as HostEvent
}
