// The heartbeat_ack fast path: a frame built from cached earnings JSON is exactly what encode() gives.
import { expect, test } from "bun:test";
import { decodeCoordinatorMessage, type Earnings, encode } from "@gogrid/protocol";
import { formatEarnings } from "../earnings/ledger.ts";
import { heartbeatAckFrame } from "./session.ts";

test("heartbeatAckFrame equals the encoded message and decodes as a valid heartbeat_ack", () => {
  for (const sums of [
    { today: 0, week: 0, month: 0, total: 0 },
    { today: 1_500_010, week: 1_750_010, month: 9_999_999, total: 123_456_789_012 },
  ]) {
    const earnings: Earnings = formatEarnings(sums);
    for (const now of [0, 1_732_761_600_123]) {
      const frame = heartbeatAckFrame(now, JSON.stringify(earnings));
      expect(frame).toBe(encode({ type: "heartbeat_ack", server_time: now, earnings }, { validate: true }));
      const decoded = decodeCoordinatorMessage(frame);
      expect(decoded.ok).toBe(true);
    }
  }
});
