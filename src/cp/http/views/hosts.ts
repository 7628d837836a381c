/**
 * `GET /v1/hosts` and `GET /v1/hosts/:hostname` (the operator API's host rows): every host the
 * adopted fleet declares, and every other host the CP keeps a record of, with what the CP knows
 * of it — the closure it runs (from its latest event or heartbeat), its target, its phase in its
 * channel's current rollout, when it was last heard from, how its last rollout ended, its
 * enrolment and certificate, the gate holding it, and the one `problem` that keeps it from
 * moving (core's `hostProblem`). Pure: a function of the state snapshot and `now`.
 */
import { failingEnforceProbes, hostProblem, type HostProblem } from '../../../core/index.ts'
import type { EventLogEntry, RolloutOutcome } from '../../../db/store.ts'
import { toRfc3339 } from '../../../proto/common.ts'
import { hostFactsOf, knownHostnames } from '../../host-facts.ts'
import { outcomeOf } from '../../mutator/known-hosts.ts'
import { pairKey, type CpState } from '../../state.ts'
import { found, iso, missing, type ViewResult } from './common.ts'

/** What every host view needs besides the state. */
export type HostViewContext = {
  readonly now: number
  /** The agents' heartbeat interval (offline after three of them without a word). */
  readonly heartbeatIntervalMs: number
}

/** The filters of `GET /v1/hosts`. */
export type HostFilter = {
  readonly channel?: string | undefined
  /** Only hosts with a problem. */
  readonly problem?: boolean | undefined
}

/** A host's problem as JSON. */
function problemView(p: HostProblem | null): Record<string, unknown> | null {
  return p === null ? null : { kind: p.kind, message: p.message, since: iso(p.since) }
}

/** The rollout of a declared host's channel's current manifest (none for undeclared hosts). */
function currentRolloutOf(state: CpState, hostname: string): string | undefined {
  const release = state.release
  const declared = release?.fleet.value.hosts[hostname as never]
  return declared === undefined ? undefined : release?.manifests[declared.channel]?.rolloutId
}

/** One host row, or undefined for a host neither declared nor known. */
export function hostRow(
  state: CpState,
  hostname: string,
  ctx: HostViewContext
): Record<string, unknown> | undefined {
  const release = state.release
  const declared = release?.fleet.value.hosts[hostname as never]
  const known = state.knownHosts.get(hostname)
  if (declared === undefined && known === undefined) return undefined
  const channel = declared?.channel ?? known?.channel ?? null
  const rid = currentRolloutOf(state, hostname)
  const rec = rid === undefined ? undefined : state.host(rid, hostname)
  const hb = state.heartbeats.get(hostname)
  const current = known?.currentClosure ?? hb?.closure ?? rec?.currentClosure ?? null
  const declaredClosure = declared?.closureHash ?? null
  const gate = rid === undefined ? undefined : state.gateBlocks.get(pairKey(rid, hostname))
  const quarantined =
    rec !== undefined &&
    channel !== null &&
    state.quarantines.get(channel)?.has(rec.targetClosure) === true
      ? rec.targetClosure
      : null
  const facts = hostFactsOf(state, hostname)
  const lastRollout = (id: string, outcome: RolloutOutcome | null) => ({ id, outcome })
  return {
    hostname,
    channel,
    currentClosure: current,
    targetClosure: rec?.targetClosure ?? known?.targetClosure ?? null,
    declaredClosure,
    rolloutState: rec?.phase ?? null,
    // A live record decides (a host still soaking runs its target but is not converged); with
    // none, running the declared closure is.
    converged:
      rec !== undefined
        ? rec.phase === 'Converged'
        : declaredClosure !== null && current === declaredClosure,
    lastSeenAt: iso(facts.lastSeenAt),
    lastRollout:
      rid !== undefined
        ? lastRollout(
            rid,
            rec !== undefined
              ? outcomeOf(rec.phase)
              : known?.lastRolloutId === rid
                ? known.lastRolloutOutcome
                : null
          )
        : known?.lastRolloutId != null
          ? lastRollout(known.lastRolloutId, known.lastRolloutOutcome)
          : null,
    enrolment: {
      state: facts.enrolment.state,
      at: iso(facts.enrolment.at),
      reason: facts.enrolment.reason,
    },
    certificate:
      known?.cert == null
        ? null
        : {
            serial: known.cert.serial,
            notAfter: toRfc3339(known.cert.notAfter),
            revoked: facts.revokedAt !== null,
            denied: facts.denied !== null,
          },
    denied:
      facts.denied === null
        ? null
        : { reason: facts.denied.reason, by: facts.denied.by, at: toRfc3339(facts.denied.at) },
    problem: problemView(hostProblem(facts, ctx.now, ctx.heartbeatIntervalMs)),
    gate:
      gate === undefined
        ? null
        : { gate: gate.gate, reason: gate.reason, since: toRfc3339(gate.since) },
    pin: declared?.pin ?? null,
    quarantinedClosure: quarantined,
    pendingReboot: rec?.phase === 'Deferred',
    // Its next target is already in its store (the agent's `--prefetch`), not yet switched to.
    prefetched:
      hb?.prefetched !== undefined &&
      hb.prefetched === (rec?.targetClosure ?? known?.targetClosure) &&
      hb.prefetched !== current,
    outstandingComplianceFailures:
      rid === undefined ? 0 : (state.probeFailures[rid]?.[hostname] ?? 0),
    outstandingHealthFailures: rec === undefined ? 0 : failingEnforceProbes(rec).length,
  }
}

/** The `/v1/hosts` body: host rows by hostname, filtered; empty until a fleet is adopted. */
export function hostsView(
  state: CpState,
  ctx: HostViewContext,
  filter: HostFilter = {}
): { hosts: Record<string, unknown>[] } {
  const hosts = []
  for (const hostname of knownHostnames(state)) {
    const row = hostRow(state, hostname, ctx)
    if (row === undefined) continue
    if (filter.channel !== undefined && row['channel'] !== filter.channel) continue
    if (filter.problem === true && row['problem'] === null) continue
    hosts.push(row)
  }
  return { hosts }
}

/**
 * `GET /v1/hosts/:hostname`: the host's row with its closure history (newest first), its probes
 * in its channel's current rollout, and its latest events (newest first, as `events` holds them).
 */
export function hostDetailView(
  state: CpState,
  hostname: string,
  ctx: HostViewContext,
  events: readonly EventLogEntry[]
): ViewResult<Record<string, unknown>> {
  const row = hostRow(state, hostname, ctx)
  if (row === undefined) return missing(404, `unknown host ${hostname}`)
  const known = state.knownHosts.get(hostname)
  const rid = currentRolloutOf(state, hostname)
  const rec = rid === undefined ? undefined : state.host(rid, hostname)
  return found({
    ...row,
    closureHistory: (known?.closureHistory ?? []).map((c) => ({
      closure: c.closure,
      at: toRfc3339(c.at),
      rolloutId: c.rolloutId,
    })),
    probes: Object.entries(rec?.probes ?? {})
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, p]) => ({
        name,
        ok: p.status === 'pass',
        at: toRfc3339(p.lastObservedAt),
        message: p.failureReason,
      })),
    events: events.map((e) => ({
      seq: e.seq,
      at: toRfc3339(e.ts),
      rolloutId: e.rolloutId,
      kind: e.kind,
      payload: e.payload,
    })),
  })
}
