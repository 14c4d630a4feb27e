CREATE TABLE "audits" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"model" text NOT NULL,
	"worker_class" text,
	"subject_worker" text,
	"audit_job_id" text,
	"audit_worker" text,
	"tiebreak_job_id" text,
	"tiebreak_worker" text,
	"canary_id" text,
	"status" text NOT NULL,
	"culprit" text,
	"detail" text,
	"created_at" bigint NOT NULL,
	"resolved_at" bigint
);
--> statement-breakpoint
CREATE TABLE "canaries" (
	"id" text PRIMARY KEY NOT NULL,
	"model" text NOT NULL,
	"prompt" text NOT NULL,
	"expected" text NOT NULL,
	"max_tokens" integer NOT NULL,
	"worker_class" text,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "purpose" text DEFAULT 'client' NOT NULL;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "target_worker" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "avoid_workers" text;--> statement-breakpoint
ALTER TABLE "jobs" ADD COLUMN "worker_class" text;--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "quarantined_at" bigint;--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "quarantine_reason" text;--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "audit_matches" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "workers" ADD COLUMN "audit_mismatches" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE INDEX "audits_status_idx" ON "audits" USING btree ("status","created_at");--> statement-breakpoint
CREATE INDEX "audits_audit_job_idx" ON "audits" USING btree ("audit_job_id");--> statement-breakpoint
CREATE INDEX "audits_tiebreak_job_idx" ON "audits" USING btree ("tiebreak_job_id");--> statement-breakpoint
CREATE INDEX "audits_subject_idx" ON "audits" USING btree ("subject_worker");--> statement-breakpoint
CREATE INDEX "canaries_model_idx" ON "canaries" USING btree ("model");