-- The control plane's schema on PostgreSQL (src/db/schema-pg.ts; the tables printed by
-- scripts/pg-schema-sql.ts), then the replica tables (docs/control-plane.md, replicas), which only PostgreSQL has.
CREATE TABLE "event_log" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"ts" text NOT NULL,
	"host_id" text,
	"rollout_id" text,
	"kind" text NOT NULL CHECK ("kind" IN ('agent_event','plan_action','effect','gate_decision','verify_outcome','manifest_poll','rollout_event','operator_action')),
	"payload" text NOT NULL
);
--> statement-breakpoint
CREATE INDEX "event_log_host_ts" ON "event_log" ("host_id","ts") WHERE host_id IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "event_log_rollout_seq" ON "event_log" ("rollout_id","seq") WHERE rollout_id IS NOT NULL;
--> statement-breakpoint
CREATE INDEX "event_log_kind_ts" ON "event_log" ("kind","ts");
--> statement-breakpoint
CREATE INDEX "event_log_rollout_host_seq" ON "event_log" ("rollout_id","host_id","seq") WHERE rollout_id IS NOT NULL;
--> statement-breakpoint
CREATE TABLE "host_rollout_records" (
	"rollout_id" text NOT NULL,
	"hostname" text NOT NULL,
	"channel" text NOT NULL,
	"state" text NOT NULL CHECK ("state" IN ('Pending','Activating','Deferred','Soaking','Converged','Failed','Reverted')),
	"wave_index" integer DEFAULT 0 NOT NULL,
	"target_closure" text NOT NULL,
	"current_closure_at_dispatch" text,
	"current_closure" text,
	"reverted_to" text,
	"dispatched_at" text NOT NULL,
	"dispatch_acked_at" text,
	"activation_started_at" text,
	"activation_completed_at" text,
	"activation_failed_at" text,
	"probe_observed_first_at" text,
	"probe_failure_first_at" text,
	"soak_due_at" text,
	"converged_at" text,
	"failed_at" text,
	"policy_applied" text CHECK ("policy_applied" IS NULL OR "policy_applied" IN ('halt','rollback-and-halt')),
	"reverted_at" text,
	"probe_topology_json" text,
	"probes_json" text DEFAULT '{}' NOT NULL,
	"last_event_seq" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "host_rollout_records_rollout_id_hostname_pk" PRIMARY KEY("rollout_id","hostname")
);
--> statement-breakpoint
CREATE INDEX "host_rollout_records_hostname" ON "host_rollout_records" ("hostname");
--> statement-breakpoint
CREATE INDEX "host_rollout_records_channel_state" ON "host_rollout_records" ("channel","state");
--> statement-breakpoint
CREATE TABLE "rollouts" (
	"rollout_id" text PRIMARY KEY NOT NULL,
	"channel" text NOT NULL,
	"target_ref" text NOT NULL,
	"state" text NOT NULL CHECK ("state" IN ('Opening','Active','Converging','Terminal','Reverted','Failed','Superseded','Pruned','Cancelled')),
	"current_wave" integer DEFAULT 0 NOT NULL,
	"opened_event_log_seq" bigint,
	"last_transition_event_log_seq" bigint,
	"opened_at" text NOT NULL,
	"terminal_at" text,
	"superseded_at" text,
	"halt_json" text,
	"last_resume_json" text,
	"policy_json" text NOT NULL,
	"budgets_json" text DEFAULT '[]' NOT NULL,
	"last_halt_json" text,
	"cancel_json" text,
	"superseded_by" text,
	CONSTRAINT "rollouts_opened_event_log_seq_event_log_seq_fk" FOREIGN KEY ("opened_event_log_seq") REFERENCES "event_log"("seq") ON DELETE set null,
	CONSTRAINT "rollouts_last_transition_event_log_seq_event_log_seq_fk" FOREIGN KEY ("last_transition_event_log_seq") REFERENCES "event_log"("seq") ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX "rollouts_channel_state" ON "rollouts" ("channel","state");
--> statement-breakpoint
CREATE INDEX "rollouts_active" ON "rollouts" ("state") WHERE state IN ('Opening','Active','Converging','Reverted','Failed');
--> statement-breakpoint
CREATE INDEX "rollouts_opened" ON "rollouts" ("opened_at","rollout_id");
--> statement-breakpoint
CREATE TABLE "host_skips" (
	"rollout_id" text NOT NULL,
	"hostname" text NOT NULL,
	"at" text NOT NULL,
	"operator_cn" text NOT NULL,
	"reason" text NOT NULL,
	CONSTRAINT "host_skips_rollout_id_hostname_pk" PRIMARY KEY("rollout_id","hostname")
);
--> statement-breakpoint
CREATE TABLE "denials" (
	"kind" text NOT NULL CHECK ("kind" IN ('host','operator')),
	"name" text NOT NULL,
	"reason" text NOT NULL,
	"denied_by" text NOT NULL,
	"at" text NOT NULL,
	CONSTRAINT "denials_kind_name_pk" PRIMARY KEY("kind","name")
);
--> statement-breakpoint
CREATE TABLE "quarantined_closures" (
	"channel" text NOT NULL,
	"closure_hash" text NOT NULL,
	"quarantined_at" text NOT NULL,
	"triggering_event_log_seq" bigint,
	CONSTRAINT "quarantined_closures_channel_closure_hash_pk" PRIMARY KEY("channel","closure_hash"),
	CONSTRAINT "quarantined_closures_triggering_event_log_seq_event_log_seq_fk" FOREIGN KEY ("triggering_event_log_seq") REFERENCES "event_log"("seq") ON DELETE set null
);
--> statement-breakpoint
CREATE INDEX "quarantined_closures_channel" ON "quarantined_closures" ("channel");
--> statement-breakpoint
CREATE TABLE "dispatch_queue" (
	"hostname" text NOT NULL,
	"rollout_id" text NOT NULL,
	"target_closure" text NOT NULL,
	"soak_due_at" text NOT NULL,
	"enqueued_at" text NOT NULL,
	"wave_index" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "dispatch_queue_hostname_rollout_id_pk" PRIMARY KEY("hostname","rollout_id")
);
--> statement-breakpoint
CREATE INDEX "dispatch_queue_hostname" ON "dispatch_queue" ("hostname");
--> statement-breakpoint
CREATE TABLE "probe_failures" (
	"event_log_seq" bigint,
	"rollout_id" text NOT NULL,
	"host_id" text NOT NULL,
	"probe_name" text NOT NULL,
	"control_id" text,
	"framework" text,
	"observed_at" text NOT NULL,
	CONSTRAINT "probe_failures_event_log_seq_event_log_seq_fk" FOREIGN KEY ("event_log_seq") REFERENCES "event_log"("seq") ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX "probe_failures_rollout_host_control" ON "probe_failures" ("rollout_id","host_id","control_id");
--> statement-breakpoint
CREATE INDEX "probe_failures_seq" ON "probe_failures" ("event_log_seq");
--> statement-breakpoint
CREATE TABLE "token_replay" (
	"nonce" text PRIMARY KEY NOT NULL,
	"hostname" text NOT NULL,
	"first_seen" text NOT NULL,
	"keep_until" text
);
--> statement-breakpoint
CREATE TABLE "cert_revocations" (
	"hostname" text PRIMARY KEY NOT NULL,
	"not_before" text NOT NULL,
	"reason" text,
	"revoked_at" text NOT NULL,
	"revoked_by" text
);
--> statement-breakpoint
CREATE TABLE "high_water_marks" (
	"key" text PRIMARY KEY NOT NULL,
	"signed_at" text NOT NULL,
	"ci_commit" text,
	"sha256" text NOT NULL,
	"updated_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "adopted_artifacts" (
	"key" text PRIMARY KEY NOT NULL,
	"artifact" bytea NOT NULL,
	"signature" bytea NOT NULL,
	"sha256" text NOT NULL,
	"adopted_at" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "operator_actions" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"at" text NOT NULL,
	"operator_cn" text NOT NULL,
	"action" text NOT NULL,
	"target" text NOT NULL,
	"reason" text,
	"event_log_seq" bigint,
	CONSTRAINT "operator_actions_event_log_seq_event_log_seq_fk" FOREIGN KEY ("event_log_seq") REFERENCES "event_log"("seq") ON DELETE set null
);
--> statement-breakpoint
CREATE TABLE "host_records" (
	"hostname" text PRIMARY KEY NOT NULL,
	"channel" text,
	"current_closure" text,
	"current_closure_at" text,
	"target_closure" text,
	"last_seen_at" text,
	"last_rollout_id" text,
	"last_rollout_outcome" text,
	"enrolled_at" text,
	"cert_serial" text,
	"cert_not_before" text,
	"cert_not_after" text,
	"closure_history" text DEFAULT '[]' NOT NULL
);
--> statement-breakpoint
CREATE TABLE cp_leader (id integer PRIMARY KEY CHECK (id = 1), epoch bigint NOT NULL, holder text NOT NULL, since text NOT NULL);
--> statement-breakpoint
INSERT INTO cp_leader VALUES (1, 0, '', '') ON CONFLICT DO NOTHING;
--> statement-breakpoint
CREATE TABLE cp_inputs (id bigserial PRIMARY KEY, origin text NOT NULL, kind text NOT NULL, payload text NOT NULL,
                        created_at text NOT NULL, done_at text, reply text);
--> statement-breakpoint
CREATE INDEX cp_inputs_pending ON cp_inputs (id) WHERE done_at IS NULL;
