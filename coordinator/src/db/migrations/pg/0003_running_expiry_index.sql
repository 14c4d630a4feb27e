DROP INDEX "jobs_lease_expiry_idx";--> statement-breakpoint
CREATE INDEX "jobs_running_expiry_idx" ON "jobs" USING btree ("lease_expires_at") WHERE "jobs"."status" = 'running';