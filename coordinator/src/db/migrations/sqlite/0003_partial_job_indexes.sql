DROP INDEX `jobs_lease_expiry_idx`;--> statement-breakpoint
DROP INDEX `jobs_lease_idx`;--> statement-breakpoint
DROP INDEX `jobs_worker_idx`;--> statement-breakpoint
CREATE INDEX `jobs_running_expiry_idx` ON `jobs` (`lease_expires_at`) WHERE "jobs"."status" = 'running';--> statement-breakpoint
CREATE INDEX `jobs_lease_idx` ON `jobs` (`model`,"priority" DESC,`created_at`) WHERE "jobs"."status" = 'queued';--> statement-breakpoint
CREATE INDEX `jobs_worker_idx` ON `jobs` (`worker_id`) WHERE "jobs"."worker_id" is not null;