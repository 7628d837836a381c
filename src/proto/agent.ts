/**
 * The agent ↔ control-plane wire contracts (protocol §6.2, §7, §10): the event envelope, the
 * heartbeat and its reply, the dispatch, enrollment and renewal bodies, and the bootstrap
 * snapshot. Casing follows the reference exactly, quirks included: the event envelope and the
 * snapshot are camelCase, the heartbeat and dispatch bodies snake_case.
 * Invariants: wire objects use `v.object` (unknown keys dropped, so both sides may add fields);
 * times are RFC 3339 strings here and epoch milliseconds once converted in `runtime/wire.ts`.
 */
import * as v from 'valibot'
import { BootstrapTokenSchema } from './bootstrap.ts'
import { Rfc3339Schema, U32Schema } from './common.ts'
import { HostnameSchema, RolloutIdSchema, WireClosureHashSchema } from './ids.ts'
import { HOST_PHASES } from './phases.ts'

/** The protocol version every agent request carries in `X-Nixfleet-Protocol`. */
export const PROTOCOL_VERSION = 1
/** The protocol header name. */
export const PROTOCOL_HEADER = 'X-Nixfleet-Protocol'
/** The heartbeat reply header naming the seq after which the agent should re-post events. */
export const REPLAY_FROM_HEADER = 'X-Nixfleet-Replay-From'

const Seq = v.pipe(v.number(), v.safeInteger(), v.minValue(0))
const I32 = v.pipe(v.number(), v.integer(), v.minValue(-2_147_483_648), v.maxValue(2_147_483_647))
const ProbeModeSchema = v.picklist(['enforce', 'observe', 'disabled'])
const ProbeStatusSchema = v.picklist(['pass', 'fail'])

/** The schema of an evidence probe's per-control sub-result. */
export const ProbeSubResultSchema = v.object({
  controlId: v.string(),
  status: ProbeStatusSchema,
  framework: v.string(),
  article: v.nullish(v.string(), null),
  effectiveMode: v.optional(ProbeModeSchema, 'enforce'),
  overrideReason: v.nullish(v.string(), null),
})

/** The schema of one declared probe in `ProbeTopologyDeclared`. */
export const ProbeDeclSchema = v.object({
  probeName: v.string(),
  kind: v.string(),
  mode: ProbeModeSchema,
})

/** The schema of the agent event (`event` of the envelope), discriminated by `kind`. */
export const WireAgentEventSchema = v.variant('kind', [
  v.object({
    kind: v.literal('DispatchAck'),
    seq: Seq,
    currentClosureAtDispatch: v.string(),
    receivedAt: Rfc3339Schema,
  }),
  v.object({
    kind: v.literal('ActivationStarted'),
    seq: Seq,
    startedAt: Rfc3339Schema,
    switchMethod: v.string(),
  }),
  v.object({
    kind: v.literal('ActivationCompleted'),
    seq: Seq,
    observedCurrentClosure: v.string(),
    exitCode: I32,
    completedAt: Rfc3339Schema,
  }),
  v.object({
    kind: v.literal('ActivationFailed'),
    seq: Seq,
    exitCode: I32,
    stderrTail: v.string(),
    failedAt: Rfc3339Schema,
  }),
  v.object({
    kind: v.literal('ActivationDeferred'),
    seq: Seq,
    component: v.string(),
    deferredAt: Rfc3339Schema,
  }),
  v.object({
    kind: v.literal('ProbeTopologyDeclared'),
    seq: Seq,
    probes: v.array(ProbeDeclSchema),
    declaredAt: Rfc3339Schema,
  }),
  v.object({
    kind: v.literal('ProbeObservedFirst'),
    seq: Seq,
    probeName: v.string(),
    mode: ProbeModeSchema,
    observedAt: Rfc3339Schema,
  }),
  v.object({
    kind: v.literal('ProbeResult'),
    seq: Seq,
    probeName: v.string(),
    mode: ProbeModeSchema,
    status: ProbeStatusSchema,
    observedAt: Rfc3339Schema,
    failureReason: v.nullish(v.string(), null),
    subResults: v.nullish(v.array(ProbeSubResultSchema), null),
  }),
  v.object({
    kind: v.literal('ProbeFailureFirst'),
    seq: Seq,
    probeName: v.string(),
    mode: ProbeModeSchema,
    firstFailedAt: Rfc3339Schema,
  }),
  v.object({
    kind: v.literal('Failed'),
    seq: Seq,
    failedAt: Rfc3339Schema,
    sustainedDurationSecs: Seq,
    failingProbes: v.array(v.string()),
    policyApplied: v.picklist(['halt', 'rollback-and-halt']),
  }),
  v.object({
    kind: v.literal('RollbackComplete'),
    seq: Seq,
    revertedToClosure: v.string(),
    exitCode: I32,
    completedAt: Rfc3339Schema,
  }),
  v.object({
    kind: v.literal('Converged'),
    seq: Seq,
    convergedAt: Rfc3339Schema,
    currentClosure: v.string(),
  }),
])
/** The agent event on the wire. */
export type WireAgentEvent = v.InferOutput<typeof WireAgentEventSchema>

/** The schema of `POST /v1/agent/events` (camelCase; one event per request). */
export const AgentEventEnvelopeSchema = v.object({
  hostname: HostnameSchema,
  rolloutId: RolloutIdSchema,
  event: WireAgentEventSchema,
  // Optional hex ed25519 over the canonical event; carried, not enforced (as the reference).
  signature: v.nullish(v.string()),
})
/** The event envelope. */
export type AgentEventEnvelope = v.InferOutput<typeof AgentEventEnvelopeSchema>

/** The schema of `POST /v1/agent/heartbeat` (snake_case, as the reference). */
export const HeartbeatRequestSchema = v.object({
  hostname: HostnameSchema,
  rollout_id: v.nullish(RolloutIdSchema, null),
  current_closure: v.nullish(WireClosureHashSchema, null),
  at: Rfc3339Schema,
  // Additive (RFC-0005 fields the reference's agent never sent).
  agent_version: v.nullish(v.string()),
  uptime_secs: v.nullish(Seq),
  last_event_seq_by_rollout: v.nullish(v.record(v.string(), Seq)),
  // Additive (DECISIONS §3.1): when the agent found its anti-rollback marks missing (state dir
  // deleted or first boot) and re-anchored them on the CP's current artifacts.
  reanchored_at: v.nullish(Rfc3339Schema),
  // Additive: the last dispatch or manifest the agent refused, so a refusal is visible centrally.
  last_refusal: v.nullish(
    v.object({
      rollout_id: v.nullish(v.string(), null),
      kind: v.string(),
      message: v.string(),
      at: Rfc3339Schema,
    })
  ),
  // Additive: a problem of the host itself that keeps a worker from working (its state
  // directory full or read-only), while it lasts. Old agents never send it.
  local_problem: v.nullish(
    v.object({
      worker: v.pipe(v.string(), v.maxLength(64)),
      code: v.nullish(v.pipe(v.string(), v.maxLength(32)), null),
      message: v.pipe(v.string(), v.maxLength(1000)),
      since: Rfc3339Schema,
    })
  ),
  // Additive: the closure the agent realised ahead of its dispatch (`--prefetch`), if any. Old
  // agents never send it; old control planes drop it.
  prefetched_closure: v.nullish(WireClosureHashSchema),
})
/** The heartbeat body. */
export type HeartbeatRequest = v.InferOutput<typeof HeartbeatRequestSchema>

/** The schema of a bootstrap snapshot of one (rollout, host) record (camelCase, nulls omitted). */
export const HostRolloutSnapshotSchema = v.object({
  rolloutId: RolloutIdSchema,
  hostname: HostnameSchema,
  channel: v.string(),
  state: v.picklist(HOST_PHASES),
  targetClosure: WireClosureHashSchema,
  currentClosureAtDispatch: v.nullish(v.string()),
  currentClosure: v.nullish(v.string()),
  dispatchedAt: Rfc3339Schema,
  dispatchAckedAt: v.nullish(Rfc3339Schema),
  activationStartedAt: v.nullish(Rfc3339Schema),
  activationCompletedAt: v.nullish(Rfc3339Schema),
  soakDueAt: v.nullish(Rfc3339Schema),
  lastEventSeq: Seq,
})
/** The bootstrap snapshot. */
export type HostRolloutSnapshot = v.InferOutput<typeof HostRolloutSnapshotSchema>

/** The schema of the heartbeat reply. */
export const HeartbeatResponseSchema = v.object({
  received_at: Rfc3339Schema,
  bootstrap_rollouts: v.nullish(v.array(HostRolloutSnapshotSchema)),
  // Additive: Replay-From for every rollout the agent reported ahead of the CP (the header only
  // names the heartbeat's own rollout).
  replay_from_by_rollout: v.nullish(v.record(v.string(), Seq)),
})
/** The heartbeat reply. */
export type HeartbeatResponse = v.InferOutput<typeof HeartbeatResponseSchema>

/** The schema of a dispatch (`GET /v1/agent/dispatch` 200 body, snake_case). */
export const DispatchSchema = v.object({
  hostname: HostnameSchema,
  rollout_id: RolloutIdSchema,
  target_closure: WireClosureHashSchema,
  // The reference sends the rollout-open based due time; NixFleet measures soak per host, so this
  // is enqueued_at + the wave's soak (informational for agents; the signed manifest governs).
  soak_due_at: Rfc3339Schema,
  enqueued_at: Rfc3339Schema,
  // Additive: the host's wave in the rollout.
  wave_index: v.nullish(U32Schema),
})
/** The dispatch. */
export type Dispatch = v.InferOutput<typeof DispatchSchema>

/** The schema of `POST /v1/enroll`. */
export const EnrollRequestSchema = v.object({
  token: BootstrapTokenSchema,
  csrPem: v.pipe(v.string(), v.maxLength(16_384, 'CSR too large')),
})
/** The enrollment request. */
export type EnrollRequest = v.InferOutput<typeof EnrollRequestSchema>

/** The schema of `POST /v1/agent/renew`. */
export const RenewRequestSchema = v.object({
  csrPem: v.pipe(v.string(), v.maxLength(16_384, 'CSR too large')),
})

/** The schema of the enroll/renew reply. */
export const CertResponseSchema = v.object({ certPem: v.string(), notAfter: Rfc3339Schema })
/** The enroll/renew reply. */
export type CertResponse = v.InferOutput<typeof CertResponseSchema>

// ---------------------------------------------------------------------------------------------
// Agent-local files (additive): the health-check declarations rendered into the closure
// (spec runtime.md §4.1) and the signed compliance evidence file (protocol §3.6).

/** The schema of a per-control override of an evidence probe. */
export const ControlOverrideSchema = v.object({
  mode: v.string(),
  reason: v.nullish(v.string(), null),
})

/**
 * The schema of one probe declaration of `health-checks.json` (camelCase). Kinds and modes stay
 * free strings: an unknown kind is a failing probe ("unknown probe kind") and an unknown mode is
 * `enforce` (fail-closed), as in the reference, rather than a config error that would silence
 * every probe of the host.
 */
export const ProbeDeclarationSchema = v.object({
  kind: v.string(),
  mode: v.optional(v.string(), 'enforce'),
  intervalSeconds: v.optional(v.pipe(v.number(), v.minValue(0)), 30),
  runOnce: v.optional(v.boolean(), false),
  url: v.optional(v.string()),
  expectStatus: v.optional(v.pipe(v.number(), v.integer()), 200),
  timeoutSecs: v.optional(v.pipe(v.number(), v.minValue(0))),
  host: v.optional(v.string(), '127.0.0.1'),
  port: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65_535))),
  connectTimeoutSecs: v.optional(v.pipe(v.number(), v.minValue(0))),
  command: v.optional(v.union([v.string(), v.array(v.string())])),
  framework: v.optional(v.string()),
  controls: v.optional(v.record(v.string(), v.string())),
  evidencePath: v.optional(v.string(), '/var/lib/nixfleet-compliance/evidence.json'),
  controlOverrides: v.optional(v.record(v.string(), ControlOverrideSchema), () => ({})),
})
/** The probe declaration. */
export type ProbeDeclaration = v.InferOutput<typeof ProbeDeclarationSchema>

/** The schema of `health-checks.json`: probe name → declaration. */
export const HealthChecksFileSchema = v.record(
  v.pipe(v.string(), v.regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'expected a probe name')),
  ProbeDeclarationSchema
)
/** The health-check declarations of a host. */
export type HealthChecksFile = v.InferOutput<typeof HealthChecksFileSchema>

/** The schema of one control of a compliance evidence file. */
export const EvidenceControlSchema = v.object({
  controlId: v.string(),
  passed: v.boolean(),
  frameworkArticles: v.optional(v.record(v.string(), v.array(v.string())), () => ({})),
  details: v.nullish(v.unknown()),
})

/** The schema of `evidence.json`, signed (JCS, ed25519) by the host's SSH key. */
export const EvidenceFileSchema = v.object({
  schemaVersion: v.number(),
  hostname: v.string(),
  collectedAt: Rfc3339Schema,
  controls: v.array(EvidenceControlSchema),
})
/** The compliance evidence file. */
export type EvidenceFile = v.InferOutput<typeof EvidenceFileSchema>
