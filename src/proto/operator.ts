/**
 * The operator API's request bodies (DECISIONS §3.13): resume or cancel a rollout, retry or skip
 * a host, deny or allow a host or an operator certificate, clear a quarantine; every one needs a
 * reason. Operator input is strict (`v.strictObject`, STYLE §7.14): an unknown key is a
 * typo, and acting on a guess would be worse than refusing.
 */
import * as v from 'valibot'
import { ChannelNameSchema, RolloutIdSchema } from './ids.ts'

/** The schema of the free-text reason every operator action records in the event log. */
export const OperatorReasonSchema = v.pipe(
  v.string(),
  v.trim(),
  v.minLength(1, 'a reason is required'),
  v.maxLength(500, 'at most 500 characters')
)

/**
 * The schema of `POST /v1/operator/rollouts/:id/{resume,cancel}` and of the deny/allow actions.
 */
export const RolloutActionSchema = v.strictObject({ reason: OperatorReasonSchema })
/** The body of a rollout action. */
export type RolloutAction = v.InferOutput<typeof RolloutActionSchema>

/** The schema of `POST /v1/operator/quarantines/clear`. */
export const ClearQuarantineSchema = v.strictObject({
  channel: ChannelNameSchema,
  closure: v.pipe(v.string(), v.regex(/^[^/]{1,255}$/, 'expected a closure hash')),
  reason: OperatorReasonSchema,
})
/** The body of a quarantine clearance. */
export type ClearQuarantine = v.InferOutput<typeof ClearQuarantineSchema>

/**
 * The schema of `POST /v1/operator/hosts/:hostname/{retry,skip}`: the rollout is the host's
 * channel's current one unless `rolloutId` names another.
 */
export const HostActionSchema = v.strictObject({
  reason: OperatorReasonSchema,
  rolloutId: v.optional(RolloutIdSchema),
})
/** The body of a host action. */
export type HostAction = v.InferOutput<typeof HostActionSchema>
