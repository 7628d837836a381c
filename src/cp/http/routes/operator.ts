/**
 * The operator surface, operator certificates only (DECISIONS §3.12): the fleet views of spec
 * protocol.md §6.2 (`/v1/hosts`, `/v1/rollouts…`, `/v1/channels/:name`, `/v1/deferrals`),
 * `/v1/whoami` (any fleet certificate), and the actions of DECISIONS §3.13 under
 * `/v1/operator/*`: list and clear quarantines, resume or cancel a halted rollout, refresh the
 * release source now, and the adoption status of every signed artifact. Every action is
 * recorded in the event log with the operator's CN (by the reducer).
 */
import { Hono, type Context } from 'hono'
import { highWaterKey } from '../../../core/release/anti-rollback.ts'
import { failingEnforceProbes, isClosed, type HostRolloutState } from '../../../core/index.ts'
import { parseRolloutId } from '../../../proto/ids.ts'
import { ClearQuarantineSchema, RolloutActionSchema } from '../../../proto/operator.ts'
import type { OperatorOp } from '../../mutator/inputs.ts'
import { pairKey } from '../../state.ts'
import { toRfc3339 } from '../../../runtime/clock.ts'
import type { AppDeps, CpEnv } from '../deps.ts'
import { jsonBody, limitBody } from '../middleware/body.ts'
import { jsonError } from '../middleware/errors.ts'
import { identityGate } from '../middleware/gates.ts'
import { respondToReply, withTimeout } from '../reply.ts'

const iso = (ms: number | null): string | null => (ms === null ? null : toRfc3339(ms))
const SMALL_BODY_LIMIT = 16 * 1024
// Events of one rollout can be many; an operator page is capped so one request stays cheap.
const DEFAULT_EVENT_LIMIT = 1000
const MAX_EVENT_LIMIT = 10_000
// A refresh waits for the poll it triggers: fetch + verify of a large fleet is seconds at most.
const REFRESH_TIMEOUT_MS = 30_000

function terminalOf(r: HostRolloutState): { state: string | null; at: number | null } {
  if (r.phase === 'Converged') return { state: 'converged', at: r.convergedAt }
  if (r.phase === 'Reverted') return { state: 'rolled-back', at: r.revertedAt }
  if (r.phase === 'Failed') return { state: 'failed', at: r.failedAt }
  return { state: null, at: null }
}

/** The fleet views and `/v1/whoami` (mounted under `/v1`). */
export function viewRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  const operator = identityGate(deps, ['operator'])
  const { state } = deps

  app.get('/whoami', identityGate(deps, ['agent', 'operator']), (c) => {
    const caller = c.get('caller')
    return c.json({ cn: caller.cn, issuedAt: toRfc3339(deps.clock.now()), role: caller.role, name: caller.name })
  })

  app.get('/hosts', operator, (c) => {
    const release = state.release
    const hosts = []
    if (release !== undefined) {
      for (const hostname of Object.keys(release.fleet.value.hosts).sort()) {
        const h = release.fleet.value.hosts[hostname as never]!
        const rid = release.manifests[h.channel]?.rolloutId
        const rec = rid === undefined ? undefined : state.host(rid, hostname)
        const hb = state.heartbeats.get(hostname)
        const current = hb?.closure ?? rec?.currentClosure ?? null
        const gate = rid === undefined ? undefined : state.gateBlocks.get(pairKey(rid, hostname))
        const quarantined =
          rec !== undefined && state.quarantines.get(h.channel)?.has(rec.targetClosure) === true ? rec.targetClosure : null
        hosts.push({
          hostname,
          channel: h.channel,
          ...(h.closureHash !== null ? { declaredClosureHash: h.closureHash } : {}),
          ...(current !== null ? { currentClosureHash: current } : {}),
          ...(rec !== undefined && rec.phase !== 'Converged' ? { pendingClosureHash: rec.targetClosure } : {}),
          ...(hb !== undefined ? { lastCheckinAt: toRfc3339(hb.receivedAt) } : {}),
          ...(rid !== undefined ? { lastRolloutId: rid } : {}),
          converged: rec?.phase === 'Converged' || (h.closureHash !== null && current === h.closureHash),
          outstandingComplianceFailures: rid === undefined ? 0 : (state.probeFailures[rid]?.[hostname] ?? 0),
          outstandingRuntimeGateErrors: 0,
          verifiedEventCount: rec?.lastEventSeq ?? 0,
          ...(rec !== undefined ? { rolloutState: rec.phase } : {}),
          pendingReboot: rec?.phase === 'Deferred',
          ...(quarantined !== null ? { quarantinedClosure: quarantined } : {}),
          ...(h.pin != null ? { pin: h.pin } : {}),
          outstandingHealthFailures: rec === undefined ? 0 : failingEnforceProbes(rec).length,
          ...(gate !== undefined ? { gate: { gate: gate.gate, reason: gate.reason, since: toRfc3339(gate.since) } } : {}),
        })
      }
    }
    return c.json({ hosts })
  })

  app.get('/rollouts', operator, (c) => {
    const rollouts = [...state.rollouts.values()]
      .filter((r) => r.record.phase !== 'Superseded' && r.record.phase !== 'Pruned' && r.record.phase !== 'Terminal')
      .sort((a, b) => a.record.openedAt - b.record.openedAt || (a.record.rolloutId < b.record.rolloutId ? -1 : 1))
      .map((r) => ({
        rolloutId: r.record.rolloutId,
        channel: r.record.channel,
        currentWave: r.record.currentWave,
        createdAt: toRfc3339(r.record.openedAt),
        hostStates: Object.fromEntries(
          Object.entries(state.hosts[r.record.rolloutId] ?? {})
            .sort(([a], [b]) => (a < b ? -1 : 1))
            .map(([h, rec]) => [h, rec.phase])
        ),
        state: r.record.phase,
        halt: r.record.halt === null ? null : { ...r.record.halt, at: toRfc3339(r.record.halt.at) },
      }))
    return c.json({ rollouts })
  })

  const rolloutOr = (c: Context<CpEnv>): string | Response => {
    const id = c.req.param('id') ?? ''
    return parseRolloutId(id) === undefined ? jsonError(c, 400, 'not a rollout id') : id
  }

  app.get('/rollouts/:id/lifecycle', operator, (c) => {
    const id = rolloutOr(c)
    if (typeof id !== 'string') return id
    const live = state.rollouts.get(id)
    if (live === undefined) return jsonError(c, 404, 'unknown rollout')
    const r = live.record
    const successor =
      r.supersededAt === null
        ? null
        : ([...state.rollouts.values()]
            .filter((o) => o.record.channel === r.channel && o.record.openedAt >= r.supersededAt! && o.record.rolloutId !== id)
            .sort((a, b) => a.record.openedAt - b.record.openedAt)[0]?.record.rolloutId ?? null)
    return c.json({
      rolloutId: id,
      state: r.phase,
      supersededAt: iso(r.supersededAt),
      supersededBy: successor,
      terminalAt: iso(r.terminalAt),
      currentWave: r.currentWave,
      halt: r.halt === null ? null : { ...r.halt, at: toRfc3339(r.halt.at) },
      lastResume: r.lastResume === null ? null : { ...r.lastResume, at: toRfc3339(r.lastResume.at) },
    })
  })

  app.get('/rollouts/:id/hosts', operator, (c) => {
    const id = rolloutOr(c)
    if (typeof id !== 'string') return id
    const records = deps.store.hosts.ofRollout(id)
    if (records.length === 0) return jsonError(c, 404, 'no host records for this rollout')
    const ref = state.rollouts.get(id)?.record.targetRef ?? parseRolloutId(id)!.ciCommit
    const hosts = records
      .map(({ state: r, waveIndex }) => {
        const t = terminalOf(r)
        return {
          host: r.hostname,
          channel: r.channel,
          wave: waveIndex,
          targetClosureHash: r.targetClosure,
          targetChannelRef: ref,
          dispatchedAt: toRfc3339(r.dispatchedAt),
          terminalState: t.state,
          terminalAt: iso(t.at),
          state: r.phase,
        }
      })
      .sort((a, b) => a.wave - b.wave || (a.host < b.host ? -1 : a.host > b.host ? 1 : 0))
    return c.json({ rollout_id: id, hosts })
  })

  app.get('/rollouts/:id/events', operator, (c) => {
    const id = rolloutOr(c)
    if (typeof id !== 'string') return id
    const raw = c.req.query('limit')
    if (raw !== undefined && !/^\d{1,6}$/.test(raw)) return jsonError(c, 400, 'limit must be a positive integer')
    const limit = Math.min(Math.max(raw === undefined ? DEFAULT_EVENT_LIMIT : Number(raw), 1), MAX_EVENT_LIMIT)
    const events = deps.store.events.forRollout(id, limit).map((e) => ({
      seq: e.seq,
      ts: toRfc3339(e.ts),
      kind: e.kind,
      host: e.host,
      payload: e.payload,
    }))
    return c.json({ rollout_id: id, events })
  })

  app.get('/channels/:name', operator, (c) => {
    const name = c.req.param('name')
    const release = state.release
    if (release === undefined) return jsonError(c, 503, 'no verified fleet yet')
    const fleet = release.fleet.value
    const channel = Object.hasOwn(fleet.channels, name) ? fleet.channels[name as never] : undefined
    if (channel === undefined) return jsonError(c, 404, 'unknown channel')
    const manifest = release.manifests[name]
    const status = state.status.get(highWaterKey('rollout-manifest', name))
    const rollout = manifest === undefined ? undefined : state.rollouts.get(manifest.rolloutId)
    return c.json({
      name,
      declared_ci_commit: fleet.meta.ciCommit,
      signed_at: fleet.meta.signedAt,
      freshness_window_minutes: channel.freshnessWindow,
      rollout_id: manifest?.rolloutId ?? null,
      rollout_state: rollout?.record.phase ?? null,
      manifest: {
        adopted: manifest !== undefined,
        sha256: manifest?.sha256 ?? null,
        signed_at: manifest?.signedAt ?? null,
        last_error: status?.lastError == null ? null : { kind: status.lastError.kind, message: status.lastError.message, at: toRfc3339(status.lastError.at) },
      },
    })
  })

  app.get('/deferrals', operator, (c) => {
    const release = state.release
    const deferrals: { channel: string; targetRef: string; blockedBy: string; reason: string }[] = []
    const hostDeferrals: { rolloutId: string; hostname: string; gate: string; reason: string; since: string }[] = []
    if (release !== undefined) {
      for (const channel of Object.keys(release.manifests).sort()) {
        const m = release.manifests[channel]!
        for (const edge of release.fleet.value.channelEdges.filter((e) => e.gated === channel)) {
          const pred = release.manifests[edge.gates]
          if (pred === undefined) continue
          const predRollout = state.rollouts.get(pred.rolloutId)
          if (predRollout !== undefined && isClosed(predRollout.record.phase)) continue
          deferrals.push({
            channel,
            targetRef: m.value.channelRef,
            blockedBy: edge.gates,
            reason: `channel '${edge.gates}' rollout ${pred.rolloutId} ${predRollout === undefined ? 'not opened yet' : `${predRollout.record.phase}, not yet converged`}${edge.reason ? ` (${edge.reason})` : ''}`,
          })
        }
      }
    }
    for (const [key, g] of state.gateBlocks) {
      const [rolloutId, hostname] = key.split('\u0000') as [string, string]
      hostDeferrals.push({ rolloutId, hostname, gate: g.gate, reason: g.reason, since: toRfc3339(g.since) })
    }
    hostDeferrals.sort((a, b) => (a.rolloutId + a.hostname < b.rolloutId + b.hostname ? -1 : 1))
    return c.json({ deferrals, hostDeferrals })
  })

  return app
}

function operatorAction(c: Context<CpEnv>, deps: AppDeps, op: OperatorOp): Promise<Response> {
  const reply = deps.mutator.request({ type: 'Operator', op, operator: c.get('caller').cn })
  return respondToReply(c, reply, (r) => (r.ok ? c.json(r.body, 200) : jsonError(c, r.status, r.error)))
}

/** The `/v1/operator/*` actions and status. */
export function operatorRoutes(deps: AppDeps): Hono<CpEnv> {
  const app = new Hono<CpEnv>()
  const { state } = deps
  app.use('*', identityGate(deps, ['operator']))

  app.get('/status', (c) => {
    const release = state.release
    return c.json({
      ready: deps.isReady(),
      release:
        release === undefined
          ? null
          : {
              fleet: {
                sha256: release.fleet.sha256,
                signedAt: release.fleet.signedAt,
                ciCommit: release.fleet.ciCommit,
              },
              adoptedAt: toRfc3339(release.adoptedAt),
              rollouts: Object.values(release.manifests).map((m) => m.rolloutId).sort(),
            },
      artifacts: [...state.status.values()]
        .sort((a, b) => (a.key < b.key ? -1 : 1))
        .map((s) => ({
          key: s.key,
          adopted: s.adopted === null ? null : { sha256: s.adopted.sha256, signedAt: s.adopted.signedAt, at: toRfc3339(s.adopted.at) },
          lastCheckedAt: iso(s.lastCheckedAt),
          lastError: s.lastError === null ? null : { kind: s.lastError.kind, message: s.lastError.message, at: toRfc3339(s.lastError.at) },
        })),
      highWaterMarks: Object.fromEntries(
        [...state.marks].map(([k, m]) => [k, { signedAt: toRfc3339(m.signedAtMs), ciCommit: m.ciCommit, sha256: m.sha256 }])
      ),
      reducerQueueDepth: deps.mutator.depth,
      dispatchQueueDepth: state.dispatchDepth(),
      openLongPolls: deps.hub.size(),
      lastPlanAt: iso(state.lastPlanAt),
    })
  })

  app.get('/quarantines', (c) => {
    const quarantines = [...state.quarantines].flatMap(([channel, m]) =>
      [...m].map(([closure, at]) => ({ channel, closure, quarantinedAt: toRfc3339(at) }))
    )
    quarantines.sort((a, b) => (a.channel + a.closure < b.channel + b.closure ? -1 : 1))
    return c.json({ quarantines })
  })

  app.post('/quarantines/clear', limitBody(SMALL_BODY_LIMIT), async (c) => {
    const body = await jsonBody(c, ClearQuarantineSchema)
    return operatorAction(c, deps, { kind: 'clear-quarantine', channel: body.channel, closure: body.closure, reason: body.reason })
  })

  for (const kind of ['resume', 'cancel'] as const) {
    app.post(`/rollouts/:id/${kind}`, limitBody(SMALL_BODY_LIMIT), async (c) => {
      const id = c.req.param('id') ?? ''
      if (parseRolloutId(id) === undefined) return jsonError(c, 400, 'not a rollout id')
      const body = await jsonBody(c, RolloutActionSchema)
      return operatorAction(c, deps, { kind, rolloutId: id, reason: body.reason })
    })
  }

  app.post('/refresh', async (c) => {
    const done = await withTimeout(deps.poller.refresh().then(() => 'done' as const), REFRESH_TIMEOUT_MS)
    const release = state.release
    return c.json(
      {
        refreshed: done === 'done',
        fleet: release === undefined ? null : { sha256: release.fleet.sha256, signedAt: release.fleet.signedAt, ciCommit: release.fleet.ciCommit },
        rollouts: release === undefined ? [] : Object.values(release.manifests).map((m) => m.rolloutId).sort(),
        errors: [...state.status.values()]
          .filter((s) => s.lastError !== null)
          .map((s) => ({ key: s.key, kind: s.lastError!.kind, message: s.lastError!.message })),
      },
      done === 'done' ? 200 : 202
    )
  })
  return app
}
