CREATE TABLE `host_records` (
	`hostname` text PRIMARY KEY NOT NULL,
	`channel` text,
	`current_closure` text,
	`current_closure_at` text,
	`target_closure` text,
	`last_seen_at` text,
	`last_rollout_id` text,
	`last_rollout_outcome` text,
	`enrolled_at` text,
	`cert_serial` text,
	`cert_not_before` text,
	`cert_not_after` text,
	`closure_history` text DEFAULT '[]' NOT NULL
);
--> statement-breakpoint
INSERT INTO `host_records` (`hostname`) SELECT DISTINCT `hostname` FROM `host_rollout_records` WHERE `last_event_seq` > 0;
