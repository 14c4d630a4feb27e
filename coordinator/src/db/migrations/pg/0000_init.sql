CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"key_hash" text NOT NULL,
	"name" text NOT NULL,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint,
	"prompt_tokens" bigint DEFAULT 0 NOT NULL,
	"completion_tokens" bigint DEFAULT 0 NOT NULL,
	"cost_micros" bigint DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE TABLE "certificates" (
	"serial" text PRIMARY KEY NOT NULL,
	"node_id" text NOT NULL,
	"pem" text NOT NULL,
	"not_before" bigint NOT NULL,
	"not_after" bigint NOT NULL,
	"revoked_at" bigint,
	"revoke_reason" text
);
--> statement-breakpoint
CREATE TABLE "earnings_ledger" (
	"job_id" text PRIMARY KEY NOT NULL,
	"node_id" text NOT NULL,
	"owner_id" text,
	"model" text NOT NULL,
	"prompt_tokens" integer NOT NULL,
	"completion_tokens" integer NOT NULL,
	"amount_micros" bigint NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "enrolment_tokens" (
	"token_hash" text PRIMARY KEY NOT NULL,
	"label" text,
	"owner_id" text,
	"created_at" bigint NOT NULL,
	"expires_at" bigint NOT NULL,
	"used_at" bigint,
	"used_by_node_id" text
);
--> statement-breakpoint
CREATE TABLE "job_attempts" (
	"job_id" text NOT NULL,
	"attempt" integer NOT NULL,
	"worker_id" text NOT NULL,
	"fence" text NOT NULL,
	"started_at" bigint NOT NULL,
	"ended_at" bigint,
	"outcome" text NOT NULL,
	"error" text,
	CONSTRAINT "job_attempts_job_id_attempt_pk" PRIMARY KEY("job_id","attempt")
);
--> statement-breakpoint
CREATE TABLE "jobs" (
	"id" text PRIMARY KEY NOT NULL,
	"seq" bigint GENERATED ALWAYS AS IDENTITY (sequence name "jobs_seq_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"api_key_id" text,
	"model" text NOT NULL,
	"request" jsonb NOT NULL,
	"status" text NOT NULL,
	"priority" integer DEFAULT 0 NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"max_attempts" integer NOT NULL,
	"available_at" bigint NOT NULL,
	"timeout_ms" bigint NOT NULL,
	"worker_id" text,
	"fence" text,
	"lease_expires_at" bigint,
	"origin_instance" text,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	"started_at" bigint,
	"finished_at" bigint,
	"result_text" text,
	"finish_reason" text,
	"prompt_tokens" integer,
	"completion_tokens" integer,
	"error" jsonb
);
--> statement-breakpoint
CREATE TABLE "metric_samples" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "metric_samples_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"name" text NOT NULL,
	"labels" jsonb NOT NULL,
	"value" double precision NOT NULL,
	"at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "models" (
	"id" text PRIMARY KEY NOT NULL,
	"source" text NOT NULL,
	"sha256" text NOT NULL,
	"size_bytes" bigint NOT NULL,
	"context_length" integer,
	"created_at" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "prices" (
	"model_id" text PRIMARY KEY NOT NULL,
	"completion_micros_per_1k" bigint NOT NULL,
	"prompt_micros_per_1k" bigint NOT NULL
);
--> statement-breakpoint
CREATE TABLE "workers" (
	"node_id" text PRIMARY KEY NOT NULL,
	"client_id" text,
	"name" text,
	"owner_id" text,
	"status" text DEFAULT 'offline' NOT NULL,
	"info" jsonb,
	"instance_id" text,
	"last_heartbeat_at" bigint,
	"created_at" bigint NOT NULL,
	"revoked_at" bigint,
	"trust" double precision DEFAULT 1 NOT NULL
);
--> statement-breakpoint
ALTER TABLE "certificates" ADD CONSTRAINT "certificates_node_id_workers_node_id_fk" FOREIGN KEY ("node_id") REFERENCES "public"."workers"("node_id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "job_attempts" ADD CONSTRAINT "job_attempts_job_id_jobs_id_fk" FOREIGN KEY ("job_id") REFERENCES "public"."jobs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash_idx" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE INDEX "certificates_node_idx" ON "certificates" USING btree ("node_id");--> statement-breakpoint
CREATE INDEX "certificates_revoked_idx" ON "certificates" USING btree ("revoked_at");--> statement-breakpoint
CREATE INDEX "earnings_ledger_node_idx" ON "earnings_ledger" USING btree ("node_id","at");--> statement-breakpoint
CREATE INDEX "earnings_ledger_owner_idx" ON "earnings_ledger" USING btree ("owner_id","at");--> statement-breakpoint
CREATE INDEX "job_attempts_worker_idx" ON "job_attempts" USING btree ("worker_id");--> statement-breakpoint
CREATE INDEX "jobs_lease_idx" ON "jobs" USING btree ("status","model","priority" DESC NULLS LAST,"created_at","seq");--> statement-breakpoint
CREATE INDEX "jobs_lease_expiry_idx" ON "jobs" USING btree ("status","lease_expires_at");--> statement-breakpoint
CREATE INDEX "jobs_worker_idx" ON "jobs" USING btree ("worker_id");--> statement-breakpoint
CREATE INDEX "jobs_created_idx" ON "jobs" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "metric_samples_name_at_idx" ON "metric_samples" USING btree ("name","at");--> statement-breakpoint
CREATE INDEX "workers_status_heartbeat_idx" ON "workers" USING btree ("status","last_heartbeat_at");--> statement-breakpoint
CREATE INDEX "workers_owner_idx" ON "workers" USING btree ("owner_id");