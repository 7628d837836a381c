/**
 * NixFleet's pure core: the host and rollout state machines and the planner. The same code runs
 * on the agent and the control plane. It does no I/O, reads no clock and uses no randomness.
 * `tests/architecture.test.ts` enforces that. Every value that crosses this boundary is plain
 * JSON, and times are epoch milliseconds supplied by the caller.
 *
 * Where this core deliberately differs from the reference (spec/runtime.md; DECISIONS §3):
 * - Soak is per host (§3.5). `soakDueAt` is set when the host's own activation completes
 *   (`completedAt + policy.soakMs`), not when the rollout opens. A dispatch therefore carries
 *   the host's wave index, not a due time.
 * - Convergence waits for probes (§3.6). Once probes are declared (`ProbeTopologyDeclared`),
 *   every declared enforce probe must have passed since activation and no enforce probe may be
 *   failing. If no probes are declared, the soak alone is enough.
 * - Sustained failure (§3.8) uses the policy's threshold (`healthGate.sustainedFailureSecs`,
 *   default 60 s). It is measured per probe from the start of its current run of failures, so a
 *   probe that recovered and then fails again starts a fresh clock. The reference used the
 *   first failure it ever saw.
 * - `Deferred → Failed` applies the policy exactly as `Activating → Failed` does (§3.4).
 * - Rollback targets `currentClosureAtDispatch` (§3.7). If that closure is unknown, empty or
 *   equal to the target, the core logs a warning instead of firing a no-op rollback.
 * - Halt means halt (§3.4). A host failure halts its rollout (`RolloutRecord.halt`), and the
 *   planner then defers every host of that rollout, in every wave, through the `halted` gate.
 *   Only an operator resume (`OperatorClearance`), a superseding release or pruning clears it.
 *   A resumed rollout stays Failed/Reverted (it still blocks channel-edge successors), and a
 *   new host failure halts it again.
 * - `maxInFlightPct` is honoured (§3.10): `ceil(pct × hosts / 100)`, never below 1. The
 *   smaller of the two caps wins.
 * - The planner visits candidates in (wave, hostname, rollout id) order, so a budget of 1
 *   always picks the same canary. It advances wave cursors itself (`AdvanceWave`), several
 *   waves in one pass if they are done, and treats a wave with no hosts as done.
 * - A probe result is reported durably when it is the probe's first result or changes its
 *   status, because the CP mirror's convergence guard depends on exactly those results.
 * - `LocalActivate` must name the record's own target; anything else is an `Invariant` error.
 */
export type {
  ChannelEdge,
  DisruptionBudget,
  FleetChannel,
  FleetHost,
  FleetView,
  HostEdge,
  HostSetEntry,
  ManifestSet,
  OnHealthFailure,
  PolicyWave,
  QuarantineSet,
  ResolvedWave,
  RolloutManifest,
  RolloutPolicy,
  Selector,
  SignedStamp,
} from './types.ts'
export { rolloutIdOf } from './types.ts'
export { assertNever } from './lib/assert-never.ts'

export type {
  HostPhase,
  HostPolicy,
  HostRolloutState,
  NewPendingHost,
  ProbeDecl,
  ProbeMode,
  ProbeRecord,
  ProbeStatus,
} from './host/state.ts'
export { HOST_PHASES, newPendingHost } from './host/state.ts'
export type {
  HostEvent,
  HostEventOf,
  HostEventType,
  OutboundAgentEvent,
  OutboundKind,
  ProbeSubResult,
} from './host/events.ts'
export { HOST_EVENT_TYPES, WIRE_KIND, isLocal, remoteEventOf, toOutbound } from './host/events.ts'
export { localEventOf } from './host/local-event.ts'
export type { Unsequenced } from './host/unsequenced.ts'
export { sequenced } from './host/unsequenced.ts'
export { isSettled, isUnderway, isUnfinished, UNDERWAY_PHASES } from './host/phases.ts'
export type { HostEffect, HostEffectType, LogLevel } from './host/effects.ts'
export type { HostStepError } from './host/errors.ts'
export { describeHostStepError } from './host/errors.ts'
export type { HostStepResult } from './host/step.ts'
export { step } from './host/step.ts'
export { convergenceViolations, failingEnforceProbes, sustainedFailure } from './host/health.ts'
export {
  DEFAULT_SOAK_MINUTES,
  DEFAULT_SUSTAINED_FAILURE_MS,
  deferredCountsAsDoneOf,
  resolveHostPolicy,
  sustainedFailureMsOf,
} from './host/policy.ts'
export type { TickVerdict } from './host/tick.ts'
export { tickVerdict } from './host/tick.ts'
export { rehydrationEffects } from './host/rehydrate.ts'
export type {
  AdoptionFacts,
  HostSnapshot,
  SnapshotAdoption,
  SnapshotRefusal,
} from './host/adopt.ts'
export { adoptSnapshot } from './host/adopt.ts'
export type { EnrolmentState, HostFacts, HostProblem, HostProblemKind } from './host/problem.ts'
export {
  enrolmentOf,
  formatSpan,
  hostProblem,
  OFFLINE_INTERVALS,
  problemLabel,
  REANCHOR_NOTICE_MS,
} from './host/problem.ts'
export type { HeartbeatSynthesis, HeartbeatView } from './host/heartbeat.ts'
export {
  atTarget,
  convergenceAllowed,
  heartbeatSynthesis,
  replayFrom,
  synthesizedActivation,
  synthesisPolicy,
  synthesizedConverged,
  verdictAllowsConvergence,
} from './host/heartbeat.ts'

export type {
  HostFailure,
  RolloutCancel,
  RolloutHalt,
  RolloutPhase,
  RolloutRecord,
  RolloutResume,
} from './rollout/state.ts'
export { ROLLOUT_PHASES, isClosed } from './rollout/state.ts'
export type { RolloutEvent, RolloutEventType } from './rollout/events.ts'
export { ROLLOUT_EVENT_TYPES, targetRolloutId } from './rollout/events.ts'
export type { RolloutEffect } from './rollout/effects.ts'
export type { RolloutStepError, RolloutStepResult } from './rollout/step.ts'
export { allHostsConverged, openRolloutRecord, stepRollout } from './rollout/step.ts'
export { rederiveRollouts } from './rollout/rederive.ts'
export type { ActionDecision, ActionFacts, ActionHost, RolloutAction } from './rollout/actions.ts'
export { blockedHosts, decideRolloutAction, isBlocked } from './rollout/actions.ts'
export { closedAt, finishedAt, retentionDue } from './rollout/retention.ts'

export type {
  ClosureAvailability,
  ClosureStatus,
  FleetState,
  GateBlock,
  GateName,
  HostRecordView,
  PlanAction,
  RolloutView,
} from './planner/types.ts'
export { GATES, planNext } from './planner/plan-next.ts'
export { closureMissingSentence, shortClosure } from './planner/gates/closure-availability.ts'
export { budgetLimit, isInFlight } from './planner/budgets.ts'
export { selectorKey, selectorSummary } from './planner/selector.ts'
export type { AdmissionPolicy, DispatchAdmission, DispatchFacts } from './planner/admission.ts'
export {
  admitDispatch,
  convergesDespite,
  inStartupHold,
  STARTUP_HOLD_GATE,
} from './planner/admission.ts'

export type { AdoptedMark, AdoptionCandidate, AdoptionVerdict } from './release/adoption.ts'
export { adoptionVerdict } from './release/adoption.ts'
export { formatRfc3339 } from './lib/rfc3339.ts'
export type { ManifestFreshness } from './release/freshness.ts'
export { manifestFreshness, staleManifestSentence } from './release/freshness.ts'

export type { RenewalVerdict, RevocationTimes } from './identity/revocation.ts'
export {
  certRevoked,
  issuanceHoldMs,
  renewalIntervalMs,
  renewalVerdict,
  revocationAdoptedAt,
  revocationCutoff,
} from './identity/revocation.ts'
export {
  mintedBeforeFloor,
  tokenFloorVerdict,
  type TokenFloorVerdict,
  usedNonceKeptUntil,
} from './identity/nonce.ts'
