/**
 * The durable record of each known host (`KnownHost`, table `host_records`), kept up to date as
 * evidence arrives: a closure an agent event or heartbeat reports, the outcome of the host's
 * latest rollout, its certificate, and when it was last heard from. Also `Enrolment`: the
 * enrolment route's outcome per hostname (a success dates the enrolment; a refusal is remembered
 * with the CP's reason, in memory, so the host view can say why the host never arrived).
 *
 * Invariants:
 * - A record is created only from a host's own evidence (it enrolled, heartbeated, or sent an
 *   event), so a host without one has never enrolled.
 * - A record is written only when it changes; last-seen alone is written at most once per
 *   `LAST_SEEN_WRITE_MS` (the live value is the latest heartbeat in memory), so a heartbeat that
 *   changes nothing writes nothing most of the time. Replicas on PostgreSQL write it once per
 *   heartbeat interval (`lastSeenWriteMs`): followers know last-seen only from the database.
 * - The closure history keeps the last `CLOSURE_HISTORY` closures, newest first.
 */
import type { HostPhase, HostRolloutState } from '../../core/index.ts'
import type { KnownHost, RolloutOutcome } from '../../db/store.ts'
import type { MutatorContext } from './context.ts'
import type { InputOf, ReplyOf } from './inputs.ts'

/** Closures kept per host. */
export const CLOSURE_HISTORY = 20
// A durable last-seen older than this is refreshed by the next heartbeat: a restarted CP knows
// within minutes when a host it no longer hears from was last heard.
const LAST_SEEN_WRITE_MS = 5 * 60_000

/** A host's outcome in a rollout, by its phase there. */
export function outcomeOf(phase: HostPhase): RolloutOutcome {
  switch (phase) {
    case 'Converged':
      return 'converged'
    case 'Failed':
      return 'failed'
    case 'Reverted':
      return 'rolled-back'
    default:
      return 'in-progress'
  }
}

function blank(hostname: string): KnownHost {
  return {
    hostname,
    channel: null,
    currentClosure: null,
    currentClosureAt: null,
    targetClosure: null,
    lastSeenAt: null,
    lastRolloutId: null,
    lastRolloutOutcome: null,
    enrolledAt: null,
    cert: null,
    closureHistory: [],
  }
}

/** Applies `change` to a host's record (created if new), writing it only when it changed. */
function updateKnown(
  ctx: MutatorContext,
  hostname: string,
  change: (h: KnownHost) => KnownHost
): void {
  const prev = ctx.state.knownHosts.get(hostname)
  const next = change(prev ?? blank(hostname))
  if (prev !== undefined && sameRecord(prev, next)) return
  ctx.store.knownHosts.upsert(next)
  ctx.state.knownHosts.set(hostname, next)
}

function sameRecord(a: KnownHost, b: KnownHost): boolean {
  return (
    a.channel === b.channel &&
    a.currentClosure === b.currentClosure &&
    a.targetClosure === b.targetClosure &&
    a.lastSeenAt === b.lastSeenAt &&
    a.lastRolloutId === b.lastRolloutId &&
    a.lastRolloutOutcome === b.lastRolloutOutcome &&
    a.enrolledAt === b.enrolledAt &&
    a.cert?.serial === b.cert?.serial
  )
}

/** The record with `closure` as its current one (and first in its history) since `at`. */
function withClosure(
  h: KnownHost,
  closure: string,
  at: number,
  rolloutId: string | null
): KnownHost {
  if (h.currentClosure === closure) return h
  return {
    ...h,
    currentClosure: closure,
    currentClosureAt: at,
    closureHistory: [{ closure, at, rolloutId }, ...h.closureHistory].slice(0, CLOSURE_HISTORY),
  }
}

/** A heartbeat: the closure it reports, its certificate, and (now and then) last-seen. */
export function noteHeartbeat(
  ctx: MutatorContext,
  hostname: string,
  closure: string | null,
  rolloutId: string | null,
  cert: KnownHost['cert'] | undefined
): void {
  const { now } = ctx
  updateKnown(ctx, hostname, (h) => {
    const seen =
      h.lastSeenAt === null ||
      now - h.lastSeenAt >= (ctx.options.lastSeenWriteMs ?? LAST_SEEN_WRITE_MS)
        ? now
        : h.lastSeenAt
    const withCert = cert !== undefined && cert !== null && cert.serial !== h.cert?.serial
    const next: KnownHost = {
      ...h,
      channel: ctx.state.release?.fleet.value.hosts[hostname as never]?.channel ?? h.channel,
      lastSeenAt: seen,
      cert: withCert ? cert : h.cert,
    }
    return closure === null ? next : withClosure(next, closure, now, rolloutId)
  })
}

/** A step of a host's rollout record: its closure, target and outcome there. */
export function noteHostStep(ctx: MutatorContext, rec: HostRolloutState): void {
  updateKnown(ctx, rec.hostname, (h) => {
    const next: KnownHost = {
      ...h,
      channel: rec.channel,
      targetClosure: rec.targetClosure,
      lastRolloutId: rec.rolloutId,
      lastRolloutOutcome: outcomeOf(rec.phase),
    }
    return rec.currentClosure === null
      ? next
      : withClosure(next, rec.currentClosure, ctx.now, rec.rolloutId)
  })
}

// Refusals come from unauthenticated requests: only so many hostnames are remembered.
const MAX_REFUSALS = 1024

/** `Enrolment`: a certificate issued on enrolment dates it; a refusal is remembered. */
export function enrolment(ctx: MutatorContext, input: InputOf<'Enrolment'>): ReplyOf<'Enrolment'> {
  const { state, now } = ctx
  const { hostname } = input
  if (input.refusal === null) {
    state.enrolmentRefusals.delete(hostname)
    updateKnown(ctx, hostname, (h) => ({ ...h, enrolledAt: now }))
    return
  }
  state.enrolmentRefusals.delete(hostname)
  state.enrolmentRefusals.set(hostname, { at: now, reason: input.refusal })
  if (state.enrolmentRefusals.size > MAX_REFUSALS) {
    const oldest = state.enrolmentRefusals.keys().next().value
    if (oldest !== undefined) state.enrolmentRefusals.delete(oldest)
  }
}
