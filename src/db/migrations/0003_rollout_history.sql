CREATE TABLE `rollouts_new` (
	`rollout_id` text PRIMARY KEY NOT NULL,
	`channel` text NOT NULL,
	`target_ref` text NOT NULL,
	`state` text NOT NULL CHECK (`state` IN ('Opening','Active','Converging','Terminal','Reverted','Failed','Superseded','Pruned','Cancelled')),
	`current_wave` integer DEFAULT 0 NOT NULL,
	`opened_event_log_seq` integer,
	`last_transition_event_log_seq` integer,
	`opened_at` text NOT NULL,
	`terminal_at` text,
	`superseded_at` text,
	`halt_json` text,
	`last_resume_json` text,
	`policy_json` text NOT NULL,
	`budgets_json` text DEFAULT '[]' NOT NULL,
	`last_halt_json` text,
	`cancel_json` text,
	`superseded_by` text,
	FOREIGN KEY (`opened_event_log_seq`) REFERENCES `event_log`(`seq`) ON UPDATE no action ON DELETE set null,
	FOREIGN KEY (`last_transition_event_log_seq`) REFERENCES `event_log`(`seq`) ON UPDATE no action ON DELETE set null
);
--> statement-breakpoint
INSERT INTO `rollouts_new` (`rollout_id`,`channel`,`target_ref`,`state`,`current_wave`,`opened_event_log_seq`,`last_transition_event_log_seq`,`opened_at`,`terminal_at`,`superseded_at`,`halt_json`,`last_resume_json`,`policy_json`,`budgets_json`,`last_halt_json`) SELECT `rollout_id`,`channel`,`target_ref`,`state`,`current_wave`,`opened_event_log_seq`,`last_transition_event_log_seq`,`opened_at`,`terminal_at`,`superseded_at`,`halt_json`,`last_resume_json`,`policy_json`,`budgets_json`,`halt_json` FROM `rollouts`;
--> statement-breakpoint
DROP TABLE `rollouts`;
--> statement-breakpoint
ALTER TABLE `rollouts_new` RENAME TO `rollouts`;
--> statement-breakpoint
CREATE INDEX `rollouts_channel_state` ON `rollouts` (`channel`,`state`);
--> statement-breakpoint
CREATE INDEX `rollouts_active` ON `rollouts` (`state`) WHERE state IN ('Opening','Active','Converging','Reverted','Failed');
--> statement-breakpoint
CREATE INDEX `rollouts_opened` ON `rollouts` (`opened_at`,`rollout_id`);
--> statement-breakpoint
CREATE INDEX `event_log_rollout_host_seq` ON `event_log` (`rollout_id`,`host_id`,`seq`) WHERE rollout_id IS NOT NULL;
--> statement-breakpoint
CREATE TABLE `host_skips` (
	`rollout_id` text NOT NULL,
	`hostname` text NOT NULL,
	`at` text NOT NULL,
	`operator_cn` text NOT NULL,
	`reason` text NOT NULL,
	PRIMARY KEY(`rollout_id`, `hostname`)
);
--> statement-breakpoint
CREATE TABLE `denials` (
	`kind` text NOT NULL CHECK (`kind` IN ('host','operator')),
	`name` text NOT NULL,
	`reason` text NOT NULL,
	`denied_by` text NOT NULL,
	`at` text NOT NULL,
	PRIMARY KEY(`kind`, `name`)
);
