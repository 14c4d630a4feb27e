// The mTLS matrix in CI: every badly credentialed case is refused every time, and the control always gets in.
import { describe, expect, setDefaultTimeout, test } from "bun:test";
import { type CaseFigures, checkFigures, matrixTable, runMtlsMatrix } from "./mtls-matrix.ts";

setDefaultTimeout(120_000);

/** About 16 s on the 2-core CI machine (250 attempts/s); the soak runs 1,000 per case. */
const ATTEMPTS_PER_CASE = 400;

describe("mTLS matrix on the real worker port", () => {
  test(`${ATTEMPTS_PER_CASE} attempts per case: 0 accepted for every bad credential, all accepted for the control`, async () => {
    const r = await runMtlsMatrix({ attemptsPerCase: ATTEMPTS_PER_CASE, concurrency: 8 });
    console.log(matrixTable(r));
    expect(r.failures).toEqual([]);
    expect(r.cases).toHaveLength(10);
    for (const f of r.cases) {
      expect(f.attempts).toBe(ATTEMPTS_PER_CASE);
      expect(f.accepted).toBe(f.expectAccepted ? ATTEMPTS_PER_CASE : 0);
      // refusals after the TLS handshake are the nonce check's, with its code
      if (f.app_refused > 0) expect(Object.keys(f.codes)).toEqual(["unauthorized"]);
    }
    // the two cases TLS cannot see (a live revocation, a claimed serial) reach the application check
    const byName = Object.fromEntries(r.cases.map((f) => [f.case, f]));
    expect(byName.revoked_live?.app_refused).toBe(ATTEMPTS_PER_CASE);
    expect(byName.certificate_without_key?.app_refused).toBe(ATTEMPTS_PER_CASE);
  });
});

describe("checkFigures", () => {
  const base: CaseFigures = {
    case: "other_ca",
    what: "",
    attempts: 10,
    accepted: 0,
    tls_refused: 10,
    app_refused: 0,
    closed: 0,
    timeout: 0,
    codes: {},
    expectAccepted: false,
  };

  test("flags one accepted bad credential, a control refused once, and undecided attempts", () => {
    expect(checkFigures(base)).toEqual([]);
    expect(checkFigures({ ...base, accepted: 1, tls_refused: 9 })).toEqual(["other_ca: 1/10 accepted, expected none"]);
    expect(checkFigures({ ...base, case: "control", expectAccepted: true, accepted: 9 })).toEqual([
      "control: 9/10 accepted, expected every one",
    ]);
    expect(checkFigures({ ...base, timeout: 2 })).toEqual(["other_ca: 2/10 attempts timed out undecided"]);
  });
});
