/**
 * The control plane's API as one table: every route once, with its path (Hono syntax), method,
 * who may call it, a summary, the valibot schema of its JSON body, its query parameters and what
 * it answers. `openapi.ts` turns it into the OpenAPI document.
 * Invariant: every route the app registers is in `ROUTES` and nothing else is (checked by
 * openapi.test.ts against the app's own route list): a route added elsewhere adds its entry here.
 */
import type * as v from 'valibot'
import {
  AgentEventEnvelopeSchema,
  EnrollRequestSchema,
  HeartbeatRequestSchema,
  RenewRequestSchema,
} from '../../proto/agent.ts'
import {
  ClearQuarantineSchema,
  HostActionSchema,
  RolloutActionSchema,
} from '../../proto/operator.ts'

/** Who may call a route (DECISIONS §3.12). */
export type RouteRole =
  | 'anyone'
  | 'bootstrap token'
  | 'webhook token'
  | 'agent'
  | 'operator'
  | 'operator or viewer'
  | 'agent, operator or viewer'

/** One route of the API. */
export type RouteEntry = {
  readonly method: 'GET' | 'POST'
  /** Hono syntax: `/v1/rollouts/:id`. */
  readonly path: string
  readonly role: RouteRole
  readonly summary: string
  readonly body?: v.GenericSchema
  /** Query parameter → what it means. */
  readonly query?: Readonly<Record<string, string>>
  /** What a success answers. */
  readonly response: string
}

const ID = 'a rollout id, `{channel}@{ciCommit}`'

/** Every route of the control plane. */
export const ROUTES: readonly RouteEntry[] = [
  {
    method: 'GET',
    path: '/healthz',
    role: 'anyone',
    summary: 'liveness and readiness',
    response: '`{ok, version, last_tick_at, ready}`',
  },
  {
    method: 'POST',
    path: '/v1/webhook/refresh',
    role: 'webhook token',
    summary: 'poll the release source now (forges); 404 unless a webhook token is configured',
    response: '202 `{accepted: true}`; the poll runs in the background',
  },
  {
    method: 'GET',
    path: '/v1/openapi.json',
    role: 'agent, operator or viewer',
    summary: 'this document',
    response: 'the OpenAPI 3.1 document',
  },
  {
    method: 'POST',
    path: '/v1/enroll',
    role: 'bootstrap token',
    summary: 'enrol a host: a CSR and a signed bootstrap token',
    body: EnrollRequestSchema,
    response: '`{certPem, notAfter}`',
  },
  {
    method: 'POST',
    path: '/v1/agent/renew',
    role: 'agent',
    summary: "renew the caller's certificate",
    body: RenewRequestSchema,
    response: '`{certPem, notAfter}`',
  },
  {
    method: 'POST',
    path: '/v1/agent/events',
    role: 'agent',
    summary: 'report one sequenced agent event of a rollout',
    body: AgentEventEnvelopeSchema,
    response: '204; 409 `{error}` when the event does not apply',
  },
  {
    method: 'POST',
    path: '/v1/agent/heartbeat',
    role: 'agent',
    summary: "the host's state: current closure, rollout, sequence numbers, probes",
    body: HeartbeatRequestSchema,
    response: '`{received_at, bootstrap_rollouts?}`',
  },
  {
    method: 'GET',
    path: '/v1/agent/dispatch',
    role: 'agent',
    summary: 'long-poll for the next dispatch of the caller',
    query: { wait: 'seconds to wait, 0–60 (default 60)' },
    response:
      '`{hostname, rollout_id, target_closure, soak_due_at, enqueued_at, wave_index}`; 204 when none',
  },
  {
    method: 'GET',
    path: '/v1/agent/closure/:hash',
    role: 'agent',
    summary: "a closure's narinfo from the configured upstream",
    response: 'the narinfo text; 501 when no upstream is configured',
  },
  {
    method: 'GET',
    path: '/v1/agent/closure/nar/:file',
    role: 'agent',
    summary: 'a NAR named by a narinfo URL, streamed from the configured upstream',
    response: 'the NAR bytes; 501 when no upstream is configured, 503 when too many are streaming',
  },
  {
    method: 'GET',
    path: '/v1/fleet.resolved',
    role: 'agent, operator or viewer',
    summary: 'the adopted signed fleet.resolved (exact bytes)',
    response: 'the artifact bytes',
  },
  {
    method: 'GET',
    path: '/v1/fleet.resolved/sig',
    role: 'agent, operator or viewer',
    summary: 'its detached signature',
    query: { sha256: 'the artifact digest the signature must belong to (409 when it changed)' },
    response: '64 raw bytes',
  },
  {
    method: 'GET',
    path: '/v1/rollouts/:id',
    role: 'agent, operator or viewer',
    summary: `an agent gets the signed rollout manifest by ${ID} (exact bytes); an operator or viewer gets the rollout's detail, or the manifest with \`?artifact=1\``,
    query: {
      artifact: '`1`: the signed manifest bytes instead of the detail (operators, viewers)',
    },
    response:
      'the artifact bytes (agents, `?artifact=1`), else the rollout row plus `{waves, gates}`',
  },
  {
    method: 'GET',
    path: '/v1/rollouts/:id/sig',
    role: 'agent, operator or viewer',
    summary: 'its detached signature',
    query: { sha256: 'the artifact digest the signature must belong to (409 when it changed)' },
    response: '64 raw bytes',
  },
  {
    method: 'GET',
    path: '/v1/whoami',
    role: 'agent, operator or viewer',
    summary: "the caller's identity",
    response: '`{cn, issuedAt, role, name}`',
  },
  {
    method: 'GET',
    path: '/v1/hosts',
    role: 'operator or viewer',
    summary:
      'every host: closures, rollout state, last seen, enrolment, certificate, problem, gate',
    query: { channel: 'only hosts of this channel', problem: '`1`: only hosts with a problem' },
    response:
      '`{hosts: [{hostname, channel, currentClosure, targetClosure, rolloutState, lastSeenAt, lastRollout, enrolment, certificate, problem, gate, ...}]}`',
  },
  {
    method: 'GET',
    path: '/v1/hosts/:hostname',
    role: 'operator or viewer',
    summary: 'one host, with its closure history, probes and latest events',
    response: 'a host row plus `{closureHistory, probes, events}`; 404 for an unknown host',
  },
  {
    method: 'GET',
    path: '/v1/rollouts',
    role: 'operator or viewer',
    summary:
      'the open rollouts; with `all=1` or `state=` every rollout, newest first, with its outcome',
    query: {
      all: '`1`: rollouts of every state',
      state: 'comma-separated rollout states',
      channel: 'only rollouts of this channel',
      limit: 'page size',
      cursor: 'the `next` of the previous page',
    },
    response: '`{rollouts: [{id, channel, state, openedAt, closedAt, outcome, halt, ...}], next}`',
  },
  {
    method: 'GET',
    path: '/v1/rollouts/:id/lifecycle',
    role: 'operator or viewer',
    summary: "a rollout's lifecycle state",
    response: '`{rolloutId, state, ...}`',
  },
  {
    method: 'GET',
    path: '/v1/rollouts/:id/hosts',
    role: 'operator or viewer',
    summary: "a rollout's host records",
    response: '`{rolloutId, hosts: [...]}`',
  },
  {
    method: 'GET',
    path: '/v1/rollouts/:id/events',
    role: 'operator or viewer',
    summary: "a rollout's event log",
    query: {
      limit: 'at most this many events (default 1000, at most 10000)',
      after: 'only events after this seq (the `next` of the previous page)',
      host: 'only events of this host',
      kind: 'only events of this kind',
      order: '`desc`: newest first',
    },
    response: '`{rolloutId, events: [{seq, at, host, kind, payload}], next}`',
  },
  {
    method: 'GET',
    path: '/v1/channels',
    role: 'operator or viewer',
    summary: 'every channel: rollout, gates, freshness (freshUntil, resignBefore, stale)',
    response: '`{channels: [ChannelRow]}`',
  },
  {
    method: 'GET',
    path: '/v1/channels/:name',
    role: 'operator or viewer',
    summary: 'one channel',
    response:
      'ChannelRow `{name, declaredCiCommit, rolloutId, rolloutState, signedAt, freshnessWindowMinutes, signingIntervalMinutes, freshUntil, resignBefore, stale, gates, edges, manifest}`',
  },
  {
    method: 'GET',
    path: '/v1/deferrals',
    role: 'operator or viewer',
    summary: 'channels held by a channel edge, hosts held by a gate',
    response: '`{deferrals: [...], hostDeferrals: [...]}`',
  },
  {
    method: 'GET',
    path: '/v1/operator/status',
    role: 'operator or viewer',
    summary: 'readiness, the adopted release, every artifact’s adoption status, queue depths',
    response: '`{ready, release, artifacts, highWaterMarks, ...}`',
  },
  {
    method: 'GET',
    path: '/v1/operator/quarantines',
    role: 'operator or viewer',
    summary: 'quarantined closures per channel',
    response: '`{quarantines: [...]}`',
  },
  {
    method: 'POST',
    path: '/v1/operator/quarantines/clear',
    role: 'operator',
    summary: 'clear a quarantined closure',
    body: ClearQuarantineSchema,
    response: 'the action’s outcome; 404 when not quarantined',
  },
  {
    method: 'POST',
    path: '/v1/operator/rollouts/:id/resume',
    role: 'operator',
    summary: 'resume a halted rollout',
    body: RolloutActionSchema,
    response:
      'the action’s outcome; 409 `{error}` naming what holds it when it cannot make progress',
  },
  {
    method: 'POST',
    path: '/v1/operator/rollouts/:id/cancel',
    role: 'operator',
    summary: 'cancel any open rollout',
    body: RolloutActionSchema,
    response: 'the action’s outcome; 409 `{error}` when it cannot apply',
  },
  ...(['retry', 'skip'] as const).map((kind): RouteEntry => ({
    method: 'POST',
    path: `/v1/operator/hosts/:hostname/${kind}`,
    role: 'operator',
    summary:
      kind === 'retry'
        ? 're-dispatch a Failed or Reverted host (409 while its closure is quarantined)'
        : 'skip a host in its rollout: done for promotion, never dispatched again there',
    body: HostActionSchema,
    response: 'the action’s outcome; 409 `{error}` when it cannot apply',
  })),
  ...(['hosts', 'operators'] as const).flatMap((who) =>
    (['deny', 'allow'] as const).map((kind): RouteEntry => ({
      method: 'POST',
      path: `/v1/operator/${who}/:${who === 'hosts' ? 'hostname' : 'cn'}/${kind}`,
      role: 'operator',
      summary:
        kind === 'deny'
          ? `deny ${who === 'hosts' ? 'a host' : 'an operator certificate'} at once: 401 on its next request`
          : `lift the denial of ${who === 'hosts' ? 'a host' : 'an operator certificate'}`,
      body: RolloutActionSchema,
      response: 'the action’s outcome',
    }))
  ),
  {
    method: 'GET',
    path: '/v1/operator/denials',
    role: 'operator or viewer',
    summary: 'every denial in force',
    response: '`{denials: [{kind, name, reason, by, at}]}`',
  },
  {
    method: 'GET',
    path: '/v1/operator/audit',
    role: 'operator or viewer',
    summary: 'every operator action: who, what, target, why, when',
    query: { limit: 'page size', after: 'the `next` of the previous page' },
    response: '`{actions: [{id, at, operator, action, target, reason}], next}`',
  },
  {
    method: 'POST',
    path: '/v1/operator/refresh',
    role: 'operator',
    summary: 'poll the release source now and answer with what is adopted',
    response: '`{refreshed, fleet, rollouts, errors}` (202 when the poll took over 30 s)',
  },
  {
    method: 'GET',
    path: '/v1/stream',
    role: 'operator or viewer',
    summary: 'server-sent fleet status: `snapshot`, then `change` messages',
    response:
      '`text/event-stream`: `snapshot` then `change`, each `{channels, hosts, rollouts, budgets}` with an `id:`; `Last-Event-ID` resumes',
  },
  {
    method: 'GET',
    path: '/metrics',
    role: 'operator or viewer',
    summary: 'Prometheus metrics',
    response: 'Prometheus text exposition 0.0.4',
  },
  ...['/ui', '/ui/', '/ui/app.js', '/ui/app.css', '/ui/icon.svg'].map((path) => ({
    method: 'GET' as const,
    path,
    role: 'operator or viewer' as const,
    summary: 'the dashboard (`/ui` redirects to `/ui/`)',
    response: 'the page and its files, under a strict Content-Security-Policy',
  })),
]
