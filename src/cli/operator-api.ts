/**
 * The operator API as the CLI reads it: valibot schemas of the bodies of the operator routes
 * (the shared contract of hosts, rollouts, channels, events, quarantines and audit), loose —
 * fields the CLI does not use pass through, fields it can live without are optional — so a
 * newer control plane never breaks an older CLI. A control plane that predates the contract
 * answers some routes with older field names (`rolloutId`, `currentClosureHash`, `ts`, …);
 * `legacy*` rename those before validation so the same CLI reads both.
 */
import * as v from 'valibot'

const str = v.string()
const maybe = <T extends v.GenericSchema>(s: T) => v.nullish(s)

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
  kind: str,
})
/** One event. */
export type EventRow = v.InferOutput<typeof EventSchema>

/** `GET /v1/hosts/:hostname`. */
export const HostDetailSchema = v.looseObject({
  ...HostRowSchema.entries,
  closureHistory: v.optional(
    v.array(v.looseObject({ closure: str, at: maybe(str), rolloutId: maybe(str) })),
    () => []
  ),
  probes: v.optional(
    v.array(v.looseObject({ name: str, ok: v.boolean(), at: maybe(str), message: maybe(str) })),
    () => []
  ),
  events: v.optional(v.array(EventSchema), () => []),
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

// `hostname`/`hostPhase` are what a control plane that predates the contract reports.
const HaltSchema = v.looseObject({
  reason: maybe(str),
  host: maybe(str),
  at: maybe(str),
  hostname: maybe(str),
  hostPhase: maybe(str),
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
  waves: v.optional(
    v.array(
      v.looseObject({
        index: v.number(),
        hosts: v.array(str),
        state: maybe(str),
        soakEndsAt: maybe(str),
      })
    ),
    () => []
  ),
  gates: v.optional(v.array(str), () => []),
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
  stale: v.optional(v.boolean()),
  gates: v.optional(v.array(str), () => []),
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
  next: maybe(v.union([v.number(), str])),
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
export const AuditBody = v.looseObject({
  actions: v.array(
    v.looseObject({
      id: v.union([v.number(), str]),
      at: maybe(str),
      operator: maybe(str),
      action: str,
      target: maybe(str),
      reason: maybe(str),
    })
  ),
  next: maybe(v.union([v.number(), str])),
})
/** `GET /v1/rollouts/:id/lifecycle` (a control plane that predates `GET /v1/rollouts/:id`). */
export const LifecycleBody = v.looseObject({
  state: str,
  currentWave: v.optional(v.number()),
  supersededBy: maybe(str),
  halt: maybe(HaltSchema),
})
/** The signed rollout manifest an older `GET /v1/rollouts/:id` answers: its host set. */
export const ManifestBody = v.looseObject({
  channel: str,
  hostSet: v.array(v.looseObject({ hostname: str, waveIndex: v.number() })),
})

type Obj = Record<string, unknown>
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x)

/** Copies `from` to `to` when only the older name is present. */
function rename(o: Obj, pairs: readonly (readonly [string, string])[]): Obj {
  const out = { ...o }
  for (const [from, to] of pairs)
    if (out[to] === undefined && out[from] !== undefined) out[to] = out[from]
  return out
}

/** A host row under the names of a control plane that predates the contract. */
export function legacyHost(raw: unknown): unknown {
  if (!isObj(raw)) return raw
  const o = rename(raw, [
    ['currentClosureHash', 'currentClosure'],
    ['pendingClosureHash', 'targetClosure'],
    ['declaredClosureHash', 'declaredClosure'],
    ['lastCheckinAt', 'lastSeenAt'],
  ])
  if (o['lastRollout'] === undefined && typeof o['lastRolloutId'] === 'string')
    o['lastRollout'] = { id: o['lastRolloutId'], outcome: null }
  return o
}

/** A rollout row under older names. */
export function legacyRollout(raw: unknown): unknown {
  return isObj(raw)
    ? rename(raw, [
        ['rolloutId', 'id'],
        ['createdAt', 'openedAt'],
      ])
    : raw
}

/** An event under older names. */
export function legacyEvent(raw: unknown): unknown {
  return isObj(raw) ? rename(raw, [['ts', 'at']]) : raw
}

/** Maps `f` over `body[key]` when it is an array. */
export function mapList(body: unknown, key: string, f: (x: unknown) => unknown): unknown {
  if (!isObj(body) || !Array.isArray(body[key])) return body
  return { ...body, [key]: (body[key] as unknown[]).map(f) }
}

/** An events body under older names. */
export function legacyEvents(raw: unknown): unknown {
  return mapList(
    isObj(raw) ? rename(raw, [['rollout_id', 'rolloutId']]) : raw,
    'events',
    legacyEvent
  )
}

/** A channel under older names (`GET /v1/channels/:name` before the camelCase work). */
export function legacyChannel(raw: unknown): unknown {
  return isObj(raw)
    ? rename(raw, [
        ['rollout_id', 'rolloutId'],
        ['rollout_state', 'rolloutState'],
        ['signed_at', 'signedAt'],
        ['freshness_window_minutes', 'freshnessWindowMinutes'],
      ])
    : raw
}

/** A status document (`/v1/stream`) under older names. */
export function legacyStatus(raw: unknown): unknown {
  return mapList(mapList(raw, 'channels', legacyChannel), 'hosts', legacyHost)
}

/** A quarantines body under older names. */
export function legacyQuarantines(raw: unknown): unknown {
  return mapList(raw, 'quarantines', (q) => (isObj(q) ? rename(q, [['quarantinedAt', 'at']]) : q))
}

/** Where a rollout ended, if it did: the contract's `outcome`, or derived from older fields. */
export function outcomeOf(r: RolloutRow): RolloutRow['outcome'] {
  if (r.outcome) return r.outcome
  if (r.halt) {
    const host = r.halt.host ?? r.halt.hostname
    const reason = r.halt.reason ?? (r.halt.hostPhase ? `${host} ${r.halt.hostPhase}` : null)
    return { kind: 'halted', at: r.halt.at, host, reason }
  }
  if (r.state === 'Superseded') return { kind: 'superseded' }
  if (r.state === 'Failed' || r.state === 'Reverted') return { kind: 'halted', reason: r.state }
  const states = Object.values(r.hostStates)
  if (r.state === 'Terminal' && states.every((s) => s === 'Converged')) return { kind: 'converged' }
  return null
}
