/**
 * `GET /v1/hosts` (spec protocol.md §6.2): every host the adopted fleet declares, with what the
 * CP knows of it — closures, its record in its channel's current rollout, the gate holding it,
 * failures, pin, quarantine. Pure: a function of the state snapshot.
 */
import { failingEnforceProbes } from '../../../core/index.ts'
import { toRfc3339 } from '../../../proto/common.ts'
import { pairKey, type CpState } from '../../state.ts'

/** The `/v1/hosts` body: hosts by hostname; empty until a fleet is adopted. */
export function hostsView(state: CpState): { hosts: Record<string, unknown>[] } {
  const release = state.release
  const hosts = []
  if (release !== undefined) {
    for (const hostname of Object.keys(release.fleet.value.hosts).sort()) {
      const h = release.fleet.value.hosts[hostname as never]!
      const rid = release.manifests[h.channel]?.rolloutId
      const rec = rid === undefined ? undefined : state.host(rid, hostname)
      const hb = state.heartbeats.get(hostname)
      const denied = state.denial('host', hostname)
      const current = hb?.closure ?? rec?.currentClosure ?? null
      const gate = rid === undefined ? undefined : state.gateBlocks.get(pairKey(rid, hostname))
      const quarantined =
        rec !== undefined && state.quarantines.get(h.channel)?.has(rec.targetClosure) === true
          ? rec.targetClosure
          : null
      hosts.push({
        hostname,
        channel: h.channel,
        ...(h.closureHash !== null ? { declaredClosureHash: h.closureHash } : {}),
        ...(current !== null ? { currentClosureHash: current } : {}),
        ...(rec !== undefined && rec.phase !== 'Converged'
          ? { pendingClosureHash: rec.targetClosure }
          : {}),
        ...(hb !== undefined ? { lastCheckinAt: toRfc3339(hb.receivedAt) } : {}),
        ...(hb?.problem ? { localProblem: hb.problem } : {}),
        ...(rid !== undefined ? { lastRolloutId: rid } : {}),
        converged:
          rec?.phase === 'Converged' || (h.closureHash !== null && current === h.closureHash),
        outstandingComplianceFailures:
          rid === undefined ? 0 : (state.probeFailures[rid]?.[hostname] ?? 0),
        outstandingRuntimeGateErrors: 0,
        verifiedEventCount: rec?.lastEventSeq ?? 0,
        ...(rec !== undefined ? { rolloutState: rec.phase } : {}),
        pendingReboot: rec?.phase === 'Deferred',
        ...(quarantined !== null ? { quarantinedClosure: quarantined } : {}),
        ...(h.pin != null ? { pin: h.pin } : {}),
        ...(denied !== undefined
          ? { denied: { reason: denied.reason, by: denied.by, at: toRfc3339(denied.at) } }
          : {}),
        outstandingHealthFailures: rec === undefined ? 0 : failingEnforceProbes(rec).length,
        ...(gate !== undefined
          ? { gate: { gate: gate.gate, reason: gate.reason, since: toRfc3339(gate.since) } }
          : {}),
      })
    }
  }
  return { hosts }
}
