CREATE TABLE `api_keys` (
	`id` text PRIMARY KEY NOT NULL,
	`key_hash` text NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	`prompt_tokens` integer DEFAULT 0 NOT NULL,
	`completion_tokens` integer DEFAULT 0 NOT NULL,
	`cost_micros` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_keys_key_hash_idx` ON `api_keys` (`key_hash`);--> statement-breakpoint
CREATE TABLE `certificates` (
	`serial` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`pem` text NOT NULL,
	`not_before` integer NOT NULL,
	`not_after` integer NOT NULL,
	`revoked_at` integer,
	`revoke_reason` text,
	FOREIGN KEY (`node_id`) REFERENCES `workers`(`node_id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `certificates_node_idx` ON `certificates` (`node_id`);--> statement-breakpoint
CREATE INDEX `certificates_revoked_idx` ON `certificates` (`revoked_at`);--> statement-breakpoint
CREATE TABLE `earnings_ledger` (
	`job_id` text PRIMARY KEY NOT NULL,
	`node_id` text NOT NULL,
	`owner_id` text,
	`model` text NOT NULL,
	`prompt_tokens` integer NOT NULL,
	`completion_tokens` integer NOT NULL,
	`amount_micros` integer NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `earnings_ledger_node_idx` ON `earnings_ledger` (`node_id`,`at`);--> statement-breakpoint
CREATE INDEX `earnings_ledger_owner_idx` ON `earnings_ledger` (`owner_id`,`at`);--> statement-breakpoint
CREATE TABLE `enrolment_tokens` (
	`token_hash` text PRIMARY KEY NOT NULL,
	`label` text,
	`owner_id` text,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`used_by_node_id` text
);
--> statement-breakpoint
CREATE TABLE `job_attempts` (
	`job_id` text NOT NULL,
	`attempt` integer NOT NULL,
	`worker_id` text NOT NULL,
	`fence` text NOT NULL,
	`started_at` integer NOT NULL,
	`ended_at` integer,
	`outcome` text NOT NULL,
	`error` text,
	PRIMARY KEY(`job_id`, `attempt`),
	FOREIGN KEY (`job_id`) REFERENCES `jobs`(`id`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE INDEX `job_attempts_worker_idx` ON `job_attempts` (`worker_id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`api_key_id` text,
	`model` text NOT NULL,
	`request` text NOT NULL,
	`status` text NOT NULL,
	`priority` integer DEFAULT 0 NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`max_attempts` integer NOT NULL,
	`available_at` integer NOT NULL,
	`timeout_ms` integer NOT NULL,
	`worker_id` text,
	`fence` text,
	`lease_expires_at` integer,
	`origin_instance` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`started_at` integer,
	`finished_at` integer,
	`result_text` text,
	`finish_reason` text,
	`prompt_tokens` integer,
	`completion_tokens` integer,
	`error` text
);
--> statement-breakpoint
CREATE INDEX `jobs_lease_idx` ON `jobs` (`status`,`model`,"priority" DESC,`created_at`);--> statement-breakpoint
CREATE INDEX `jobs_lease_expiry_idx` ON `jobs` (`status`,`lease_expires_at`);--> statement-breakpoint
CREATE INDEX `jobs_worker_idx` ON `jobs` (`worker_id`);--> statement-breakpoint
CREATE INDEX `jobs_created_idx` ON `jobs` (`created_at`);--> statement-breakpoint
CREATE TABLE `metric_samples` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`name` text NOT NULL,
	`labels` text NOT NULL,
	`value` real NOT NULL,
	`at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `metric_samples_name_at_idx` ON `metric_samples` (`name`,`at`);--> statement-breakpoint
CREATE TABLE `models` (
	`id` text PRIMARY KEY NOT NULL,
	`source` text NOT NULL,
	`sha256` text NOT NULL,
	`size_bytes` integer NOT NULL,
	`context_length` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `prices` (
	`model_id` text PRIMARY KEY NOT NULL,
	`completion_micros_per_1k` integer NOT NULL,
	`prompt_micros_per_1k` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `workers` (
	`node_id` text PRIMARY KEY NOT NULL,
	`client_id` text,
	`name` text,
	`owner_id` text,
	`status` text DEFAULT 'offline' NOT NULL,
	`info` text,
	`instance_id` text,
	`last_heartbeat_at` integer,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	`trust` real DEFAULT 1 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `workers_status_heartbeat_idx` ON `workers` (`status`,`last_heartbeat_at`);--> statement-breakpoint
CREATE INDEX `workers_owner_idx` ON `workers` (`owner_id`);