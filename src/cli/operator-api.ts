/**
 * The operator API as the CLI reads it: valibot schemas of the bodies of the operator routes
 * (hosts, rollouts, channels, events, quarantines, denials and audit; the shapes of
 * `src/cp/http/views/*`), loose — fields the CLI does not use pass through, fields it can live
 * without are optional — so a newer control plane never breaks an older CLI.
 */
import * as v from 'valibot'

const str = v.string()
const maybe = <T extends v.GenericSchema>(s: T) => v.nullish(s)
const list = <T extends v.GenericSchema>(s: T) => v.optional(v.array(s), () => [])

/** A host row of `GET /v1/hosts`. */
export const HostRowSchema = v.looseObject({
  hostname: str,
  channel: str,
  currentClosure: maybe(str),
  targetClosure: maybe(str),
  declaredClosure: maybe(str),
  rolloutState: maybe(str),
  converged: v.optional(v.boolean()),
  lastSeenAt: maybe(str),
  lastRollout: maybe(v.looseObject({ id: str, outcome: maybe(str) })),
  enrolment: maybe(v.looseObject({ state: str, at: maybe(str), reason: maybe(str) })),
  certificate: maybe(
    v.looseObject({
      serial: maybe(str),
      notAfter: maybe(str),
      revoked: v.optional(v.boolean()),
      denied: v.optional(v.boolean()),
    })
  ),
  denied: maybe(v.looseObject({ reason: maybe(str), by: maybe(str), at: maybe(str) })),
  problem: maybe(v.looseObject({ kind: str, message: str, since: maybe(str) })),
  gate: maybe(v.looseObject({ gate: str, reason: str, since: maybe(str) })),
  pin: v.optional(v.unknown()),
  quarantinedClosure: maybe(str),
  pendingReboot: v.optional(v.boolean()),
})
/** A host row. */
export type HostRow = v.InferOutput<typeof HostRowSchema>

/** An event of a rollout's log or of a host's history. */
export const EventSchema = v.looseObject({
  seq: v.number(),
  at: maybe(str),
  host: maybe(str),
  rolloutId: maybe(str),
  kind: str,
  payload: v.optional(v.unknown()),
})
/** One event. */
export type EventRow = v.InferOutput<typeof EventSchema>

/** `GET /v1/hosts/:hostname`. */
export const HostDetailSchema = v.looseObject({
  ...HostRowSchema.entries,
  closureHistory: list(v.looseObject({ closure: str, at: maybe(str), rolloutId: maybe(str) })),
  probes: list(v.looseObject({ name: str, ok: v.boolean(), at: maybe(str), message: maybe(str) })),
  events: list(EventSchema),
})
/** A host's detail. */
export type HostDetail = v.InferOutput<typeof HostDetailSchema>

const OutcomeSchema = v.looseObject({
  kind: v.picklist(['converged', 'halted', 'cancelled', 'superseded']),
  at: maybe(str),
  host: maybe(str),
  probe: maybe(str),
  reason: maybe(str),
  by: maybe(str),
})

/** A rollout's latest halt; `active` while it holds the rollout. */
const HaltSchema = v.looseObject({
  at: maybe(str),
  host: maybe(str),
  hostPhase: maybe(str),
  probe: maybe(str),
  reason: maybe(str),
  active: v.optional(v.boolean()),
})

/** A rollout row of `GET /v1/rollouts`. */
export const RolloutRowSchema = v.looseObject({
  id: str,
  channel: str,
  state: str,
  currentWave: v.optional(v.number()),
  openedAt: maybe(str),
  closedAt: maybe(str),
  hostStates: v.optional(v.record(str, str), () => ({})),
  outcome: maybe(OutcomeSchema),
  halt: maybe(HaltSchema),
})
/** A rollout row. */
export type RolloutRow = v.InferOutput<typeof RolloutRowSchema>

/** `GET /v1/rollouts/:id`. */
export const RolloutDetailSchema = v.looseObject({
  ...RolloutRowSchema.entries,
  waves: list(
    v.looseObject({
      index: v.number(),
      hosts: v.array(
        v.looseObject({ hostname: str, state: maybe(str), skipped: v.optional(v.boolean()) })
      ),
      state: maybe(str),
      soakEndsAt: maybe(str),
    })
  ),
  gates: list(str),
})
/** A rollout's detail. */
export type RolloutDetail = v.InferOutput<typeof RolloutDetailSchema>

/** A channel row of `GET /v1/channels`. */
export const ChannelRowSchema = v.looseObject({
  name: str,
  rolloutId: maybe(str),
  rolloutState: maybe(str),
  signedAt: maybe(str),
  freshnessWindowMinutes: maybe(v.number()),
  freshUntil: maybe(str),
  resignBefore: maybe(str),
  stale: v.optional(v.boolean()),
  gates: list(str),
})
/** A channel row. */
export type ChannelRow = v.InferOutput<typeof ChannelRowSchema>

/** The status document: `GET /v1/stream`'s `snapshot` and `change` data, `status --json`. */
export const StatusSchema = v.looseObject({
  channels: v.array(ChannelRowSchema),
  hosts: v.array(HostRowSchema),
})
/** The fleet status. */
export type Status = v.InferOutput<typeof StatusSchema>

/** Bodies of the list routes. */
export const HostsBody = v.looseObject({ hosts: v.array(HostRowSchema) })
export const ChannelsBody = v.looseObject({ channels: v.array(ChannelRowSchema) })
export const RolloutsBody = v.looseObject({
  rollouts: v.array(RolloutRowSchema),
  next: maybe(str),
})
export const EventsBody = v.looseObject({
  rolloutId: maybe(str),
  events: v.array(EventSchema),
  next: maybe(v.number()),
})
export const QuarantinesBody = v.looseObject({
  quarantines: v.array(
    v.looseObject({
      channel: str,
      closure: str,
      reason: maybe(str),
      rolloutId: maybe(str),
      host: maybe(str),
      at: maybe(str),
    })
  ),
})
export const DenialsBody = v.looseObject({
  denials: v.array(
    v.looseObject({ kind: str, name: str, reason: maybe(str), by: maybe(str), at: maybe(str) })
  ),
})
const AuditActionSchema = v.looseObject({
  id: v.number(),
  at: maybe(str),
  operator: maybe(str),
  action: str,
  target: maybe(str),
  reason: maybe(str),
})
/** One recorded operator action. */
export type AuditAction = v.InferOutput<typeof AuditActionSchema>
export const AuditBody = v.looseObject({
  actions: v.array(AuditActionSchema),
  next: maybe(v.number()),
})
