// Fuzz of live worker sessions in CI: generated and hostile frames over real mTLS never break the coordinator.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { fuzzSessions } from "./session-fuzz.ts";

setDefaultTimeout(120_000);

/** About 160 frames/s here (each waits for the session's answer); the soak sends 20,000. */
const FRAMES = 2_000;

describe("worker session fuzz", () => {
  test(`${FRAMES} frames on live sockets: no handler error, no welcome without the handshake, the port still serves`, async () => {
    const r = await fuzzSessions({ frames: FRAMES });
    console.log(
      `session fuzz: ${r.inputs} frames on ${r.connections} connections (${r.pre_auth_connections} without handshake) in ${r.seconds} s, ` +
        `seed ${r.seed}; errors sent back ${JSON.stringify(r.errors)}`,
    );
    expect(r.failure).toBeNull();
    expect(r.logged_errors).toBe(0);
    expect(r.pre_auth_welcomed).toBe(0);
    expect(r.alive_after).toBe(true);
    // frames after a close are not sent, so a few of the pre-handshake share go unused
    expect(r.inputs).toBeGreaterThan(FRAMES * 0.8);
    for (const code of ["invalid_message", "invalid_json", "unknown_type"]) expect(r.errors[code] ?? 0).toBeGreaterThan(0);
  });
});
