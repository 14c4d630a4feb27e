// @peculiar/x509 loaded after the Reflect polyfill it needs; PKI modules take `x509` from here.
import "./reflect-metadata.ts";
import type * as X509 from "@peculiar/x509";

// A static import would not do: Bun evaluates the CommonJS build (and tsyringe's polyfill check)
// before any ES module body, so the polyfill must be installed before this require runs.
export const x509: typeof X509 = require("@peculiar/x509");
