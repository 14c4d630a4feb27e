CREATE TABLE `audits` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`model` text NOT NULL,
	`worker_class` text,
	`subject_worker` text,
	`audit_job_id` text,
	`audit_worker` text,
	`tiebreak_job_id` text,
	`tiebreak_worker` text,
	`canary_id` text,
	`status` text NOT NULL,
	`culprit` text,
	`detail` text,
	`created_at` integer NOT NULL,
	`resolved_at` integer
);
--> statement-breakpoint
CREATE INDEX `audits_status_idx` ON `audits` (`status`,`created_at`);--> statement-breakpoint
CREATE INDEX `audits_audit_job_idx` ON `audits` (`audit_job_id`);--> statement-breakpoint
CREATE INDEX `audits_tiebreak_job_idx` ON `audits` (`tiebreak_job_id`);--> statement-breakpoint
CREATE INDEX `audits_subject_idx` ON `audits` (`subject_worker`);--> statement-breakpoint
CREATE TABLE `canaries` (
	`id` text PRIMARY KEY NOT NULL,
	`model` text NOT NULL,
	`prompt` text NOT NULL,
	`expected` text NOT NULL,
	`max_tokens` integer NOT NULL,
	`worker_class` text,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `canaries_model_idx` ON `canaries` (`model`);--> statement-breakpoint
ALTER TABLE `jobs` ADD `purpose` text DEFAULT 'client' NOT NULL;--> statement-breakpoint
ALTER TABLE `jobs` ADD `target_worker` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `avoid_workers` text;--> statement-breakpoint
ALTER TABLE `jobs` ADD `worker_class` text;--> statement-breakpoint
ALTER TABLE `workers` ADD `quarantined_at` integer;--> statement-breakpoint
ALTER TABLE `workers` ADD `quarantine_reason` text;--> statement-breakpoint
ALTER TABLE `workers` ADD `audit_matches` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `workers` ADD `audit_mismatches` integer DEFAULT 0 NOT NULL;