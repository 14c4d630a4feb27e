#!/usr/bin/env bun
// Dev-time tool: renders tray/assets/<state>.svg to the committed icon files under tray/icons/.
// Needs ImageMagick's `convert` (Debian: imagemagick); the tray itself never runs it.
//   bun tray/scripts/make-icons.ts
// Output per state: <state>-<size>.png (16, 22, 32, 64 px) for Linux/macOS, <state>.ico (all sizes) for
// Windows, and <state>-template.png / <state>-template@2x.png (black + alpha) for macOS template images.
import { mkdirSync } from "node:fs";
import { join } from "node:path";

export const ICON_STATES = ["green", "yellow", "red", "grey", "sleep"] as const;
export const ICON_SIZES = [16, 22, 32, 64] as const;

const root = join(import.meta.dir, "..");
const assets = join(root, "assets");
const out = join(root, "icons");

function convert(...args: string[]): void {
  const r = Bun.spawnSync(["convert", ...args], { stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`convert ${args.join(" ")} failed: ${r.stderr.toString()}`);
}

if (import.meta.main) {
  if (!Bun.which("convert")) {
    console.error("make-icons needs ImageMagick's `convert` (Debian/Ubuntu: apt-get install imagemagick)");
    process.exit(2);
  }
  mkdirSync(out, { recursive: true });
  for (const state of ICON_STATES) {
    const svg = join(assets, `${state}.svg`);
    const pngs = ICON_SIZES.map((size) => {
      const png = join(out, `${state}-${size}.png`);
      // -density keeps small sizes crisp; -strip drops timestamps so reruns give identical files.
      convert("-background", "none", "-density", "384", svg, "-resize", `${size}x${size}`, "-strip", `PNG32:${png}`);
      return png;
    });
    convert(...pngs, "-strip", join(out, `${state}.ico`));
    // macOS template images: black + alpha (the menu bar tints them); the white glyph becomes a cut-out.
    for (const [size, suffix] of [
      [16, ""],
      [32, "@2x"],
    ] as const) {
      const src = join(out, `${state}-${size}.png`);
      convert(
        src,
        "(",
        "+clone",
        "-alpha",
        "extract",
        ")",
        "(",
        "-clone",
        "0",
        "-alpha",
        "off",
        "-colorspace",
        "gray",
        "-level",
        "60%,95%",
        "-negate",
        ")",
        "-delete",
        "0",
        "-compose",
        "multiply",
        "-composite",
        "-background",
        "black",
        "-alpha",
        "shape",
        "-strip",
        `PNG32:${join(out, `${state}-template${suffix}.png`)}`,
      );
    }
    console.log(`${state}: ${ICON_SIZES.map((s) => `${s}px`).join(", ")}, .ico, template`);
  }
}
