// Cross-field rules a JSON schema cannot say well, checked after the schema passes.
import type { MessageType, ProtocolMessage } from "./registry.ts";

/** A broken rule: the field to blame (JSON pointer) and what to do about it. */
export interface RuleViolation {
  readonly path: string;
  readonly message: string;
}

type Rule = (message: ProtocolMessage) => RuleViolation | undefined;

const RULES: Partial<Record<MessageType, Rule>> = {
  hello: (m) => {
    if (m.type !== "hello") return undefined;
    if (m.min_protocol_version > m.max_protocol_version) {
      return { path: "/min_protocol_version", message: "min_protocol_version must not exceed max_protocol_version" };
    }
    if (m.protocol_version < m.min_protocol_version || m.protocol_version > m.max_protocol_version) {
      return { path: "/protocol_version", message: "protocol_version must lie between min_protocol_version and max_protocol_version" };
    }
    return undefined;
  },
  auth_response: (m) => {
    if (m.type !== "auth_response") return undefined;
    if (m.cert_serial === undefined && m.cert_chain_pem === undefined) {
      return { path: "/cert_serial", message: "name the client certificate: send cert_serial or cert_chain_pem" };
    }
    return undefined;
  },
  version_mismatch: (m) => {
    if (m.type !== "version_mismatch") return undefined;
    if (m.min_protocol_version > m.max_protocol_version) {
      return { path: "/min_protocol_version", message: "min_protocol_version must not exceed max_protocol_version" };
    }
    return undefined;
  },
  job_assignment: (m) => {
    if (m.type !== "job_assignment") return undefined;
    if ((m.prompt === undefined) === (m.messages === undefined)) {
      return { path: "/prompt", message: "send exactly one of prompt (completion) or messages (chat)" };
    }
    return undefined;
  },
  job_result: (m) => {
    if (m.type !== "job_result") return undefined;
    if (m.status === "completed" && m.finish_reason !== "stop" && m.finish_reason !== "length") {
      return { path: "/finish_reason", message: 'a completed job must have finish_reason "stop" or "length"' };
    }
    if (m.status === "completed" && m.error !== undefined) {
      return { path: "/error", message: 'a completed job must not carry an error; use status "failed"' };
    }
    if (m.status === "failed" && m.error === undefined) {
      return { path: "/error", message: "a failed job must carry error {code, message}" };
    }
    if (m.status === "cancelled" && m.finish_reason !== "cancelled" && m.finish_reason !== null) {
      return { path: "/finish_reason", message: 'a cancelled job must have finish_reason "cancelled" or null' };
    }
    return undefined;
  },
  command: (m) => {
    if (m.type !== "command") return undefined;
    if (m.duration_secs !== undefined && m.action !== "pause") {
      return { path: "/duration_secs", message: 'duration_secs only applies to action "pause"' };
    }
    return undefined;
  },
  update_complete: (m) => {
    if (m.type !== "update_complete") return undefined;
    if (!m.ok && m.error === undefined) return { path: "/error", message: "a failed update (ok: false) must carry error {code, message}" };
    if (m.ok && m.error !== undefined) return { path: "/error", message: "a successful update (ok: true) must not carry an error" };
    return undefined;
  },
};

/** Checks the rules for a message that already passed its schema. */
export function checkRules(message: ProtocolMessage): RuleViolation | undefined {
  const rule = RULES[message.type];
  return rule === undefined ? undefined : rule(message);
}
