ALTER TABLE `jobs` ADD `credit_pending` integer;--> statement-breakpoint
CREATE INDEX `jobs_credit_pending_idx` ON `jobs` (`finished_at`) WHERE "jobs"."credit_pending" = 1;--> statement-breakpoint
-- jobs completed before this migration that are still owed their credit (what the reconciler used to find by walking every completed job)
UPDATE `jobs` SET `credit_pending` = 1 WHERE `status` = 'completed' AND `purpose` = 'client' AND `completion_tokens` > 0 AND NOT EXISTS (SELECT 1 FROM `earnings_ledger` WHERE `earnings_ledger`.`job_id` = `jobs`.`id`);
