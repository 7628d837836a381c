/**
 * The control plane's tables described once, in neither dialect (spec runtime.md §7, RFC-0008
 * §6.2): `schema.ts` builds the SQLite tables from this and `schema-pg.ts` the PostgreSQL ones,
 * so the two cannot drift apart column by column. Each dialect's migrations create exactly what
 * its builder produces; tests compare them (`schema.test.ts`, `schema-agree.test.ts`).
 * One place describes every table, so a schema change (and the migration it needs in each
 * dialect) is reviewed in one file; turning these descriptions into drizzle tables is
 * `schema-build.ts`.
 *
 * Invariants (do not change without a migration in both dialects):
 * - `event_log` is canonical and append-only; every other table is derived state, written by
 *   the CP's single reducer in the same transaction as the event-log row that explains it.
 * - Timestamps are RFC 3339 UTC text with milliseconds (`toISOString()` form), so they sort
 *   lexicographically in both dialects; JSON columns hold plain JSON written by `src/db/queries`.
 * - NixFleet additions to the reference's tables are marked; reference columns keep their
 *   names and meanings.
 *
 * Column types map as follows (SQLite / PostgreSQL):
 * - `text`: text / text (an `enum` adds a CHECK in both migrations);
 * - `int`: integer / integer (small counters and wave indexes);
 * - `bigint`: integer / bigint in number mode (event-log seqs and millisecond values);
 * - `boolean`: integer in boolean mode / boolean;
 * - `bytes`: blob in buffer mode / bytea;
 * - `seq`: autoincrement integer primary key / bigint primary key whose values the writer
 *   assigns (the event log: the leader numbers events itself, docs/control-plane.md, replicas);
 * - `serial`: autoincrement integer primary key / bigserial primary key.
 */
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

/** A column's type in neither dialect (see the module header for the mapping). */
export type ColumnType = 'text' | 'int' | 'bigint' | 'boolean' | 'bytes' | 'seq' | 'serial'

/** One column: its SQL name, type and constraints. `seq` and `serial` are primary keys. */
export type ColumnDef = {
  readonly name: string
  readonly type: ColumnType
  readonly enum?: readonly [string, ...string[]]
  readonly notNull?: true
  /** A single-column primary key (composite ones are the table's `primaryKey`). */
  readonly primaryKey?: true
  readonly default?: string | number | boolean
  /** A foreign key: the referenced table and column by their export names. */
  readonly references?: {
    readonly table: string
    readonly column: string
    readonly onDelete: 'set null' | 'cascade'
  }
}

/** An index on columns (by key), optionally partial (`where` is SQL both dialects accept). */
export type IndexDef<K extends string = string> = {
  readonly name: string
  readonly columns: readonly K[]
  readonly where?: string
}

/** A table: its SQL name, columns by export key, and table-level constraints. */
export type TableDef<
  C extends Readonly<Record<string, ColumnDef>> = Readonly<Record<string, ColumnDef>>,
> = {
  readonly name: string
  readonly columns: C
  readonly primaryKey?: readonly (keyof C & string)[]
  readonly indexes?: readonly IndexDef<keyof C & string>[]
  /** Unique indexes. */
  readonly unique?: readonly IndexDef<keyof C & string>[]
}

/** Declares a table, keeping its literal name and columns (the builders derive drizzle's types). */
function table<const N extends string, const C extends Readonly<Record<string, ColumnDef>>>(
  def: TableDef<C> & { readonly name: N }
): TableDef<C> & { readonly name: N } {
  return def
}

const seqRef = (onDelete: 'set null' | 'cascade') =>
  ({ table: 'eventLog', column: 'seq', onDelete }) as const

/** Every table, by the name both schema modules export it under, in foreign-key order. */
export const TABLES = {
  /** The canonical, append-only event log. */
  eventLog: table({
    name: 'event_log',
    columns: {
      seq: { name: 'seq', type: 'seq' },
      ts: { name: 'ts', type: 'text', notNull: true },
      hostId: { name: 'host_id', type: 'text' },
      rolloutId: { name: 'rollout_id', type: 'text' },
      kind: { name: 'kind', type: 'text', enum: EVENT_KINDS, notNull: true },
      payload: { name: 'payload', type: 'text', notNull: true },
    },
    indexes: [
      { name: 'event_log_host_ts', columns: ['hostId', 'ts'], where: 'host_id IS NOT NULL' },
      {
        name: 'event_log_rollout_seq',
        columns: ['rolloutId', 'seq'],
        where: 'rollout_id IS NOT NULL',
      },
      { name: 'event_log_kind_ts', columns: ['kind', 'ts'] },
      // NixFleet: one host's events of a rollout, paged by seq (`/v1/rollouts/:id/events?host=`).
      {
        name: 'event_log_rollout_host_seq',
        columns: ['rolloutId', 'hostId', 'seq'],
        where: 'rollout_id IS NOT NULL',
      },
    ],
  }),

  /** The CP mirror of every (rollout, host) record (`HostRolloutState`). */
  hostRolloutRecords: table({
    name: 'host_rollout_records',
    columns: {
      rolloutId: { name: 'rollout_id', type: 'text', notNull: true },
      hostname: { name: 'hostname', type: 'text', notNull: true },
      channel: { name: 'channel', type: 'text', notNull: true },
      state: { name: 'state', type: 'text', enum: HOST_PHASES, notNull: true },
      // NixFleet: the manifest's wave index, from which the host's soak is resolved.
      waveIndex: { name: 'wave_index', type: 'int', notNull: true, default: 0 },
      targetClosure: { name: 'target_closure', type: 'text', notNull: true },
      currentClosureAtDispatch: { name: 'current_closure_at_dispatch', type: 'text' },
      currentClosure: { name: 'current_closure', type: 'text' },
      revertedTo: { name: 'reverted_to', type: 'text' },
      dispatchedAt: { name: 'dispatched_at', type: 'text', notNull: true },
      dispatchAckedAt: { name: 'dispatch_acked_at', type: 'text' },
      activationStartedAt: { name: 'activation_started_at', type: 'text' },
      activationCompletedAt: { name: 'activation_completed_at', type: 'text' },
      activationFailedAt: { name: 'activation_failed_at', type: 'text' },
      probeObservedFirstAt: { name: 'probe_observed_first_at', type: 'text' },
      probeFailureFirstAt: { name: 'probe_failure_first_at', type: 'text' },
      soakDueAt: { name: 'soak_due_at', type: 'text' },
      convergedAt: { name: 'converged_at', type: 'text' },
      failedAt: { name: 'failed_at', type: 'text' },
      policyApplied: { name: 'policy_applied', type: 'text', enum: ['halt', 'rollback-and-halt'] },
      revertedAt: { name: 'reverted_at', type: 'text' },
      // NixFleet: the declared probe set (convergence waits for it, DECISIONS §3.6).
      probeTopologyJson: { name: 'probe_topology_json', type: 'text' },
      probesJson: { name: 'probes_json', type: 'text', notNull: true, default: '{}' },
      lastEventSeq: { name: 'last_event_seq', type: 'bigint', notNull: true, default: 0 },
    },
    primaryKey: ['rolloutId', 'hostname'],
    indexes: [
      { name: 'host_rollout_records_hostname', columns: ['hostname'] },
      { name: 'host_rollout_records_channel_state', columns: ['channel', 'state'] },
    ],
  }),

  /** The rollout lifecycle view (`RolloutRecord`). */
  rollouts: table({
    name: 'rollouts',
    columns: {
      rolloutId: { name: 'rollout_id', type: 'text', primaryKey: true },
      channel: { name: 'channel', type: 'text', notNull: true },
      targetRef: { name: 'target_ref', type: 'text', notNull: true },
      state: { name: 'state', type: 'text', enum: ROLLOUT_PHASES, notNull: true },
      currentWave: { name: 'current_wave', type: 'int', notNull: true, default: 0 },
      openedEventLogSeq: {
        name: 'opened_event_log_seq',
        type: 'bigint',
        references: seqRef('set null'),
      },
      lastTransitionEventLogSeq: {
        name: 'last_transition_event_log_seq',
        type: 'bigint',
        references: seqRef('set null'),
      },
      openedAt: { name: 'opened_at', type: 'text', notNull: true },
      terminalAt: { name: 'terminal_at', type: 'text' },
      supersededAt: { name: 'superseded_at', type: 'text' },
      // NixFleet: the halt (DECISIONS §3.4) and the operator's last resume.
      haltJson: { name: 'halt_json', type: 'text' },
      lastResumeJson: { name: 'last_resume_json', type: 'text' },
      // NixFleet: the channel's policy and budgets frozen at open, for the rollout's whole life.
      policyJson: { name: 'policy_json', type: 'text', notNull: true },
      budgetsJson: { name: 'budgets_json', type: 'text', notNull: true, default: '[]' },
      // NixFleet: the history (`/v1/rollouts?all=1`): the latest halt, kept after a resume or a
      // supersede; the operator's cancellation; the successor that superseded it.
      lastHaltJson: { name: 'last_halt_json', type: 'text' },
      cancelJson: { name: 'cancel_json', type: 'text' },
      supersededBy: { name: 'superseded_by', type: 'text' },
    },
    indexes: [
      { name: 'rollouts_channel_state', columns: ['channel', 'state'] },
      {
        name: 'rollouts_active',
        columns: ['state'],
        where: "state IN ('Opening','Active','Converging','Reverted','Failed')",
      },
      { name: 'rollouts_opened', columns: ['openedAt', 'rolloutId'] },
    ],
  }),

  /** NixFleet: the hosts an operator skipped in a rollout (done for promotion, never re-dispatched). */
  hostSkips: table({
    name: 'host_skips',
    columns: {
      rolloutId: { name: 'rollout_id', type: 'text', notNull: true },
      hostname: { name: 'hostname', type: 'text', notNull: true },
      at: { name: 'at', type: 'text', notNull: true },
      operatorCn: { name: 'operator_cn', type: 'text', notNull: true },
      reason: { name: 'reason', type: 'text', notNull: true },
    },
    primaryKey: ['rolloutId', 'hostname'],
  }),

  /**
   * NixFleet: the operator's emergency denials of a host or an operator certificate (by CN): the
   * next request is refused until an operator allows it again or the signed revocation list
   * supersedes a host's denial.
   */
  denials: table({
    name: 'denials',
    columns: {
      kind: { name: 'kind', type: 'text', enum: ['host', 'operator'], notNull: true },
      name: { name: 'name', type: 'text', notNull: true },
      reason: { name: 'reason', type: 'text', notNull: true },
      deniedBy: { name: 'denied_by', type: 'text', notNull: true },
      at: { name: 'at', type: 'text', notNull: true },
    },
    primaryKey: ['kind', 'name'],
  }),

  /** The closures quarantined per channel (a host rolled back from them). */
  quarantinedClosures: table({
    name: 'quarantined_closures',
    columns: {
      channel: { name: 'channel', type: 'text', notNull: true },
      closureHash: { name: 'closure_hash', type: 'text', notNull: true },
      quarantinedAt: { name: 'quarantined_at', type: 'text', notNull: true },
      triggeringEventLogSeq: {
        name: 'triggering_event_log_seq',
        type: 'bigint',
        references: seqRef('set null'),
      },
    },
    primaryKey: ['channel', 'closureHash'],
    indexes: [{ name: 'quarantined_closures_channel', columns: ['channel'] }],
  }),

  /** The outbound dispatch queue: a row exists while a dispatch waits for its agent. */
  dispatchQueue: table({
    name: 'dispatch_queue',
    columns: {
      hostname: { name: 'hostname', type: 'text', notNull: true },
      rolloutId: { name: 'rollout_id', type: 'text', notNull: true },
      targetClosure: { name: 'target_closure', type: 'text', notNull: true },
      soakDueAt: { name: 'soak_due_at', type: 'text', notNull: true },
      enqueuedAt: { name: 'enqueued_at', type: 'text', notNull: true },
      // NixFleet: the host's wave (additive `wave_index` of the dispatch body).
      waveIndex: { name: 'wave_index', type: 'int', notNull: true, default: 0 },
    },
    primaryKey: ['hostname', 'rolloutId'],
    indexes: [{ name: 'dispatch_queue_hostname', columns: ['hostname'] }],
  }),

  /** The failing enforce-probe results per rollout and host (compliance-wave gate). */
  probeFailures: table({
    name: 'probe_failures',
    columns: {
      eventLogSeq: { name: 'event_log_seq', type: 'bigint', references: seqRef('cascade') },
      rolloutId: { name: 'rollout_id', type: 'text', notNull: true },
      hostId: { name: 'host_id', type: 'text', notNull: true },
      probeName: { name: 'probe_name', type: 'text', notNull: true },
      controlId: { name: 'control_id', type: 'text' },
      framework: { name: 'framework', type: 'text' },
      observedAt: { name: 'observed_at', type: 'text', notNull: true },
    },
    indexes: [
      {
        name: 'probe_failures_rollout_host_control',
        columns: ['rolloutId', 'hostId', 'controlId'],
      },
      { name: 'probe_failures_seq', columns: ['eventLogSeq'] },
    ],
  }),

  /**
   * The bootstrap-token nonces already used (single-use tokens), kept until `keep_until` (at
   * least the token's expiry); rows from before that column are pruned 24 h after `first_seen`.
   */
  tokenReplay: table({
    name: 'token_replay',
    columns: {
      nonce: { name: 'nonce', type: 'text', primaryKey: true },
      hostname: { name: 'hostname', type: 'text', notNull: true },
      firstSeen: { name: 'first_seen', type: 'text', notNull: true },
      keepUntil: { name: 'keep_until', type: 'text' },
    },
  }),

  /** The signed certificate revocations, by short hostname (never deleted). */
  certRevocations: table({
    name: 'cert_revocations',
    columns: {
      hostname: { name: 'hostname', type: 'text', primaryKey: true },
      notBefore: { name: 'not_before', type: 'text', notNull: true },
      reason: { name: 'reason', type: 'text' },
      revokedAt: { name: 'revoked_at', type: 'text', notNull: true },
      revokedBy: { name: 'revoked_by', type: 'text' },
    },
  }),

  /** NixFleet: the anti-rollback high-water marks (DECISIONS §3.1), per kind and per channel. */
  highWaterMarks: table({
    name: 'high_water_marks',
    columns: {
      key: { name: 'key', type: 'text', primaryKey: true },
      signedAt: { name: 'signed_at', type: 'text', notNull: true },
      ciCommit: { name: 'ci_commit', type: 'text' },
      sha256: { name: 'sha256', type: 'text', notNull: true },
      updatedAt: { name: 'updated_at', type: 'text', notNull: true },
    },
  }),

  /** NixFleet: the bytes of each adopted signed artifact, so a restart serves the newest one. */
  adoptedArtifacts: table({
    name: 'adopted_artifacts',
    columns: {
      key: { name: 'key', type: 'text', primaryKey: true },
      artifact: { name: 'artifact', type: 'bytes', notNull: true },
      signature: { name: 'signature', type: 'bytes', notNull: true },
      sha256: { name: 'sha256', type: 'text', notNull: true },
      adoptedAt: { name: 'adopted_at', type: 'text', notNull: true },
    },
  }),

  /** NixFleet: the operator actions (DECISIONS §3.13), each also in the event log. */
  operatorActions: table({
    name: 'operator_actions',
    columns: {
      id: { name: 'id', type: 'serial' },
      at: { name: 'at', type: 'text', notNull: true },
      operatorCn: { name: 'operator_cn', type: 'text', notNull: true },
      action: { name: 'action', type: 'text', notNull: true },
      target: { name: 'target', type: 'text', notNull: true },
      reason: { name: 'reason', type: 'text' },
      eventLogSeq: { name: 'event_log_seq', type: 'bigint', references: seqRef('set null') },
    },
  }),

  /**
   * NixFleet: what the CP knows of each host beyond its rollouts (kept after they close): the
   * closure it runs and its recent history (JSON, newest first, bounded), when it was last heard
   * from, its last rollout and how that ended, its enrolment and its certificate.
   */
  hostRecords: table({
    name: 'host_records',
    columns: {
      hostname: { name: 'hostname', type: 'text', primaryKey: true },
      channel: { name: 'channel', type: 'text' },
      currentClosure: { name: 'current_closure', type: 'text' },
      currentClosureAt: { name: 'current_closure_at', type: 'text' },
      targetClosure: { name: 'target_closure', type: 'text' },
      lastSeenAt: { name: 'last_seen_at', type: 'text' },
      lastRolloutId: { name: 'last_rollout_id', type: 'text' },
      lastRolloutOutcome: { name: 'last_rollout_outcome', type: 'text' },
      enrolledAt: { name: 'enrolled_at', type: 'text' },
      certSerial: { name: 'cert_serial', type: 'text' },
      certNotBefore: { name: 'cert_not_before', type: 'text' },
      certNotAfter: { name: 'cert_not_after', type: 'text' },
      closureHistory: { name: 'closure_history', type: 'text', notNull: true, default: '[]' },
    },
  }),
} as const satisfies Record<string, TableDef>

/** The tables by export name. */
export type Tables = typeof TABLES
