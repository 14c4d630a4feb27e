// What this build is: version, platform key, and the update root keys (fixed at `bun build --compile` time).
import { platformKey } from "@gogrid/protocol/release";

/**
 * The root public keys (hex, comma-separated). scripts/build.ts always defines this at compile time, so a
 * compiled worker never reads it from the environment; a development run (`bun worker/src/main.ts`) may.
 */
export function rootPublicKeys(): string[] {
  const raw = process.env.GOGRID_UPDATE_ROOT_KEYS ?? "";
  return raw
    .split(",")
    .map((k) => k.trim().toLowerCase())
    .filter((k) => /^[0-9a-f]{64}$/.test(k));
}

/** The release platform this binary was built for (`linux-x64`, `windows-x64-gpu` ...). */
export function buildPlatform(): string {
  return process.env.GOGRID_BUILD_PLATFORM || platformKey(process.platform, process.arch);
}
