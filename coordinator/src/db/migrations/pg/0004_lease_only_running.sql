-- Rows written before this constraint that break it: a finished job's leftover lease is dropped; a running job without a lease gets one that has already expired, so the next sweep requeues it instead of it running forever.
UPDATE "jobs" SET "lease_expires_at" = NULL WHERE "status" <> 'running' AND "lease_expires_at" IS NOT NULL;--> statement-breakpoint
UPDATE "jobs" SET "lease_expires_at" = 0 WHERE "status" = 'running' AND "lease_expires_at" IS NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD CONSTRAINT "jobs_lease_only_running" CHECK (("jobs"."status" = 'running') = ("jobs"."lease_expires_at" is not null));
