// Signed releases: the documents, their canonical form, signing and the chain of trust both ends share.
export { canonicalBytes, canonicalJson } from "./canonical.ts";
export { type UpdateRefusalCode, UpdateRefused } from "./errors.ts";
export {
  isSemVer,
  type KeySetBody,
  KeySetEnvelope,
  type ManifestBody,
  ManifestEnvelope,
  type PlatformBuild,
  ReleaseChannel,
} from "./model.ts";
export { inRollout, platformKey } from "./platform.ts";
export { generateKeyPair, type KeyPair, keyIdOf, publicKeyOf, signBody, verifyKeySet, verifyManifest } from "./signing.ts";
