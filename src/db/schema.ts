/**
 * The control plane's SQLite schema (spec runtime.md §7, RFC-0008 §6.2) as drizzle tables: the
 * only file that defines tables. The migrations (`migrations/*.sql`) create exactly these; a test
 * compares the two column by column.
 *
 * Invariants (do not change without a migration):
 * - `event_log` is canonical and append-only; every other table is derived state, written by
 *   the CP's single reducer in the same transaction as the event-log row that explains it.
 * - Timestamps are RFC 3339 UTC text with milliseconds (`toISOString()` form), so they sort
 *   lexicographically; JSON columns hold plain JSON written by `src/db/queries`.
 * - NixFleet additions to the reference's tables are marked; reference columns keep their
 *   names and meanings.
 */
import { sql } from 'drizzle-orm'
import { blob, index, integer, primaryKey, sqliteTable, text } from 'drizzle-orm/sqlite-core'
import { HOST_PHASES, ROLLOUT_PHASES } from '../proto/phases.ts'

/** The event-log kinds: the reference's seven plus `operator_action` (DECISIONS §3.13). */
export const EVENT_KINDS = [
  'agent_event',
  'plan_action',
  'effect',
  'gate_decision',
  'verify_outcome',
  'manifest_poll',
  'rollout_event',
  'operator_action',
] as const

/** The canonical, append-only event log. */
export const eventLog = sqliteTable(
  'event_log',
  {
    seq: integer('seq').primaryKey({ autoIncrement: true }),
    ts: text('ts').notNull(),
    hostId: text('host_id'),
    rolloutId: text('rollout_id'),
    kind: text('kind', { enum: EVENT_KINDS }).notNull(),
    payload: text('payload').notNull(),
  },
  (t) => [
    index('event_log_host_ts')
      .on(t.hostId, t.ts)
      .where(sql`host_id IS NOT NULL`),
    index('event_log_rollout_seq')
      .on(t.rolloutId, t.seq)
      .where(sql`rollout_id IS NOT NULL`),
    index('event_log_kind_ts').on(t.kind, t.ts),
    // NixFleet: one host's events of a rollout, paged by seq (`/v1/rollouts/:id/events?host=`).
    index('event_log_rollout_host_seq')
      .on(t.rolloutId, t.hostId, t.seq)
      .where(sql`rollout_id IS NOT NULL`),
  ]
)

/** The CP mirror of every (rollout, host) record (`HostRolloutState`). */
export const hostRolloutRecords = sqliteTable(
  'host_rollout_records',
  {
    rolloutId: text('rollout_id').notNull(),
    hostname: text('hostname').notNull(),
    channel: text('channel').notNull(),
    state: text('state', { enum: HOST_PHASES }).notNull(),
    // NixFleet: the manifest's wave index, from which the host's soak is resolved.
    waveIndex: integer('wave_index').notNull().default(0),
    targetClosure: text('target_closure').notNull(),
    currentClosureAtDispatch: text('current_closure_at_dispatch'),
    currentClosure: text('current_closure'),
    revertedTo: text('reverted_to'),
    dispatchedAt: text('dispatched_at').notNull(),
    dispatchAckedAt: text('dispatch_acked_at'),
    activationStartedAt: text('activation_started_at'),
    activationCompletedAt: text('activation_completed_at'),
    activationFailedAt: text('activation_failed_at'),
    probeObservedFirstAt: text('probe_observed_first_at'),
    probeFailureFirstAt: text('probe_failure_first_at'),
    soakDueAt: text('soak_due_at'),
    convergedAt: text('converged_at'),
    failedAt: text('failed_at'),
    policyApplied: text('policy_applied', { enum: ['halt', 'rollback-and-halt'] }),
    revertedAt: text('reverted_at'),
    // NixFleet: the declared probe set (convergence waits for it, DECISIONS §3.6).
    probeTopologyJson: text('probe_topology_json'),
    probesJson: text('probes_json').notNull().default('{}'),
    lastEventSeq: integer('last_event_seq').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.rolloutId, t.hostname] }),
    index('host_rollout_records_hostname').on(t.hostname),
    index('host_rollout_records_channel_state').on(t.channel, t.state),
  ]
)

/** The rollout lifecycle view (`RolloutRecord`). */
export const rollouts = sqliteTable(
  'rollouts',
  {
    rolloutId: text('rollout_id').primaryKey(),
    channel: text('channel').notNull(),
    targetRef: text('target_ref').notNull(),
    state: text('state', { enum: ROLLOUT_PHASES }).notNull(),
    currentWave: integer('current_wave').notNull().default(0),
    openedEventLogSeq: integer('opened_event_log_seq').references(() => eventLog.seq, {
      onDelete: 'set null',
    }),
    lastTransitionEventLogSeq: integer('last_transition_event_log_seq').references(
      () => eventLog.seq,
      { onDelete: 'set null' }
    ),
    openedAt: text('opened_at').notNull(),
    terminalAt: text('terminal_at'),
    supersededAt: text('superseded_at'),
    // NixFleet: the halt (DECISIONS §3.4) and the operator's last resume.
    haltJson: text('halt_json'),
    lastResumeJson: text('last_resume_json'),
    // NixFleet: the channel's policy and budgets frozen at open, for the rollout's whole life.
    policyJson: text('policy_json').notNull(),
    budgetsJson: text('budgets_json').notNull().default('[]'),
    // NixFleet: the history (`/v1/rollouts?all=1`): the latest halt, kept after a resume or a
    // supersede; the operator's cancellation; the successor that superseded it.
    lastHaltJson: text('last_halt_json'),
    cancelJson: text('cancel_json'),
    supersededBy: text('superseded_by'),
  },
  (t) => [
    index('rollouts_channel_state').on(t.channel, t.state),
    index('rollouts_active')
      .on(t.state)
      .where(sql`state IN ('Opening','Active','Converging','Reverted','Failed')`),
    index('rollouts_opened').on(t.openedAt, t.rolloutId),
  ]
)

/** NixFleet: the hosts an operator skipped in a rollout (done for promotion, never re-dispatched). */
export const hostSkips = sqliteTable(
  'host_skips',
  {
    rolloutId: text('rollout_id').notNull(),
    hostname: text('hostname').notNull(),
    at: text('at').notNull(),
    operatorCn: text('operator_cn').notNull(),
    reason: text('reason').notNull(),
  },
  (t) => [primaryKey({ columns: [t.rolloutId, t.hostname] })]
)

/**
 * NixFleet: the operator's emergency denials of a host or an operator certificate (by CN): the
 * next request is refused until an operator allows it again or the signed revocation list
 * supersedes a host's denial.
 */
export const denials = sqliteTable(
  'denials',
  {
    kind: text('kind', { enum: ['host', 'operator'] }).notNull(),
    name: text('name').notNull(),
    reason: text('reason').notNull(),
    deniedBy: text('denied_by').notNull(),
    at: text('at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.kind, t.name] })]
)

/** The closures quarantined per channel (a host rolled back from them). */
export const quarantinedClosures = sqliteTable(
  'quarantined_closures',
  {
    channel: text('channel').notNull(),
    closureHash: text('closure_hash').notNull(),
    quarantinedAt: text('quarantined_at').notNull(),
    triggeringEventLogSeq: integer('triggering_event_log_seq').references(() => eventLog.seq, {
      onDelete: 'set null',
    }),
  },
  (t) => [
    primaryKey({ columns: [t.channel, t.closureHash] }),
    index('quarantined_closures_channel').on(t.channel),
  ]
)

/** The outbound dispatch queue: a row exists while a dispatch waits for its agent. */
export const dispatchQueue = sqliteTable(
  'dispatch_queue',
  {
    hostname: text('hostname').notNull(),
    rolloutId: text('rollout_id').notNull(),
    targetClosure: text('target_closure').notNull(),
    soakDueAt: text('soak_due_at').notNull(),
    enqueuedAt: text('enqueued_at').notNull(),
    // NixFleet: the host's wave (additive `wave_index` of the dispatch body).
    waveIndex: integer('wave_index').notNull().default(0),
  },
  (t) => [
    primaryKey({ columns: [t.hostname, t.rolloutId] }),
    index('dispatch_queue_hostname').on(t.hostname),
  ]
)

/** The failing enforce-probe results per rollout and host (compliance-wave gate). */
export const probeFailures = sqliteTable(
  'probe_failures',
  {
    eventLogSeq: integer('event_log_seq').references(() => eventLog.seq, { onDelete: 'cascade' }),
    rolloutId: text('rollout_id').notNull(),
    hostId: text('host_id').notNull(),
    probeName: text('probe_name').notNull(),
    controlId: text('control_id'),
    framework: text('framework'),
    observedAt: text('observed_at').notNull(),
  },
  (t) => [
    index('probe_failures_rollout_host_control').on(t.rolloutId, t.hostId, t.controlId),
    index('probe_failures_seq').on(t.eventLogSeq),
  ]
)

/**
 * The bootstrap-token nonces already used (single-use tokens), kept until `keep_until` (at least
 * the token's expiry); rows from before that column are pruned 24 h after `first_seen`.
 */
export const tokenReplay = sqliteTable('token_replay', {
  nonce: text('nonce').primaryKey(),
  hostname: text('hostname').notNull(),
  firstSeen: text('first_seen').notNull(),
  keepUntil: text('keep_until'),
})

/** The signed certificate revocations, by short hostname (never deleted). */
export const certRevocations = sqliteTable('cert_revocations', {
  hostname: text('hostname').primaryKey(),
  notBefore: text('not_before').notNull(),
  reason: text('reason'),
  revokedAt: text('revoked_at').notNull(),
  revokedBy: text('revoked_by'),
})

/** NixFleet: the anti-rollback high-water marks (DECISIONS §3.1), per kind and per channel. */
export const highWaterMarks = sqliteTable('high_water_marks', {
  key: text('key').primaryKey(),
  signedAt: text('signed_at').notNull(),
  ciCommit: text('ci_commit'),
  sha256: text('sha256').notNull(),
  updatedAt: text('updated_at').notNull(),
})

/** NixFleet: the bytes of each adopted signed artifact, so a restart serves the newest one. */
export const adoptedArtifacts = sqliteTable('adopted_artifacts', {
  key: text('key').primaryKey(),
  artifact: blob('artifact', { mode: 'buffer' }).notNull(),
  signature: blob('signature', { mode: 'buffer' }).notNull(),
  sha256: text('sha256').notNull(),
  adoptedAt: text('adopted_at').notNull(),
})

/** NixFleet: the operator actions (DECISIONS §3.13), each also in the event log. */
export const operatorActions = sqliteTable('operator_actions', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  at: text('at').notNull(),
  operatorCn: text('operator_cn').notNull(),
  action: text('action').notNull(),
  target: text('target').notNull(),
  reason: text('reason'),
  eventLogSeq: integer('event_log_seq').references(() => eventLog.seq, { onDelete: 'set null' }),
})

/**
 * NixFleet: what the CP knows of each host beyond its rollouts (kept after they close): the
 * closure it runs and its recent history (JSON, newest first, bounded), when it was last heard
 * from, its last rollout and how that ended, its enrolment and its certificate.
 */
export const hostRecords = sqliteTable('host_records', {
  hostname: text('hostname').primaryKey(),
  channel: text('channel'),
  currentClosure: text('current_closure'),
  currentClosureAt: text('current_closure_at'),
  targetClosure: text('target_closure'),
  lastSeenAt: text('last_seen_at'),
  lastRolloutId: text('last_rollout_id'),
  lastRolloutOutcome: text('last_rollout_outcome'),
  enrolledAt: text('enrolled_at'),
  certSerial: text('cert_serial'),
  certNotBefore: text('cert_not_before'),
  certNotAfter: text('cert_not_after'),
  closureHistory: text('closure_history').notNull().default('[]'),
})
