// Signed release metadata: the key set (signed by the root key) and a channel's manifest (signed by a release key).
import { type Static, Type } from "@sinclair/typebox";
import { Value } from "@sinclair/typebox/value";
import { SemVer, Sha256 } from "../messages/common.ts";
import { UpdateChannel } from "../messages/session.ts";

/** 64 lowercase hex characters: an Ed25519 public key. */
export const PublicKeyHex = Type.String({ pattern: "^[0-9a-f]{64}$", description: "an Ed25519 public key in 64 hex characters" });
/** 16 hex characters: the first 8 bytes of SHA-256 over the public key. */
export const KeyId = Type.String({ pattern: "^[0-9a-f]{16}$", description: "a key id: 16 hex characters" });
const IsoTime = Type.String({
  pattern: "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$",
  description: "an ISO 8601 UTC time",
});

export const Signature = Type.Object(
  { keyid: KeyId, sig: Type.String({ pattern: "^[0-9a-f]{128}$", description: "an Ed25519 signature in 128 hex characters" }) },
  { additionalProperties: false },
);
export type Signature = Static<typeof Signature>;

/** A semantic version as the protocol accepts it (1.2.3, 1.2.3-beta.1). */
export const isSemVer = (v: string): boolean => Value.Check(SemVer, v);

/** Release channels a worker can follow: the channels a worker names in `register` (one list for both). */
export const ReleaseChannel = UpdateChannel;
export type ReleaseChannel = UpdateChannel;

/** The set of release keys the root key vouches for. A key absent from the newest set is revoked. */
export const KeySetBody = Type.Object(
  {
    type: Type.Literal("gogrid-keys"),
    /** Increases with every re-signing; a worker never accepts a lower one than it has seen. */
    version: Type.Integer({ minimum: 1 }),
    expires: IsoTime,
    keys: Type.Array(Type.Object({ keyid: KeyId, public_key: PublicKeyHex }, { additionalProperties: false }), { maxItems: 32 }),
    /** Release keys that must never be trusted again (kept listed so an old copy cannot be replayed around them). */
    revoked: Type.Array(KeyId, { maxItems: 256 }),
  },
  { additionalProperties: false },
);
export type KeySetBody = Static<typeof KeySetBody>;

const FileRef = {
  /** Absolute, or relative to the manifest's own URL. */
  url: Type.String({ minLength: 1, maxLength: 2048 }),
  size: Type.Integer({ minimum: 1, maximum: 2 ** 33 }),
  sha256: Sha256,
};

/** One platform's build: the full binary and, optionally, a delta from the previous release. */
export const PlatformBuild = Type.Object(
  {
    ...FileRef,
    delta: Type.Optional(
      Type.Object(
        { ...FileRef, from_version: SemVer, from_sha256: Sha256, format: Type.Literal("vcdiff") },
        { additionalProperties: false },
      ),
    ),
  },
  { additionalProperties: false },
);
export type PlatformBuild = Static<typeof PlatformBuild>;

/** Platform keys: `<os>-<arch>` as bun names targets (linux-x64, windows-x64, darwin-arm64 ...), `-gpu` for the Vulkan flavour. */
export const PlatformKey = Type.String({ pattern: "^(linux|windows|darwin)-(x64|arm64)(-gpu)?$" });

export const ManifestBody = Type.Object(
  {
    type: Type.Literal("gogrid-release"),
    channel: ReleaseChannel,
    version: SemVer,
    released_at: IsoTime,
    /** After this the manifest is refused (a frozen mirror cannot hold workers back for ever). */
    expires: IsoTime,
    /** Workers older than this must update even in a staged rollout. */
    minimum_version: SemVer,
    /** Staged rollout: the share of workers offered this release, 1–100. */
    rollout_percent: Type.Integer({ minimum: 1, maximum: 100 }),
    platforms: Type.Record(PlatformKey, PlatformBuild),
  },
  { additionalProperties: false },
);
export type ManifestBody = Static<typeof ManifestBody>;

export const KeySetEnvelope = Type.Object(
  { signed: KeySetBody, signatures: Type.Array(Signature, { minItems: 1, maxItems: 8 }) },
  { additionalProperties: false },
);
export type KeySetEnvelope = Static<typeof KeySetEnvelope>;

export const ManifestEnvelope = Type.Object(
  { signed: ManifestBody, signatures: Type.Array(Signature, { minItems: 1, maxItems: 8 }) },
  { additionalProperties: false },
);
export type ManifestEnvelope = Static<typeof ManifestEnvelope>;
