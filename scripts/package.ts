// `bun run package`: installers under dist/installers/ from the compiled binaries of scripts/build.ts.
//
//   bun scripts/package.ts [--skip-build] [--only deb,rpm,tar,exe,dmg] [--fast]
//
// deb: dpkg-deb (xz); rpm: rpmbuild (xz, nothing stripped: stripping breaks Bun's compiled
// binaries); tar: .tar.gz with installers/linux/install.sh; exe: NSIS (makensis); dmg: GoGrid.app
// in an ISO9660/Rock Ridge image from genisoimage (macOS mounts it; a UDZO .dmg and signing need
// a Mac: installers/macos/build-pkg.sh). --fast trades size for speed (gzip, NSIS uncompressed):
// for CI checks of the contents, never for a release.
import {
  chmodSync,
  copyFileSync,
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

const root = resolve(import.meta.dir, "..");
const installers = join(root, "installers");
export const OUT_DIR = join(root, "dist", "installers");
const STAGE = join(root, "dist", ".package");

export const KINDS = ["deb", "rpm", "tar", "exe", "dmg"] as const;
export type Kind = (typeof KINDS)[number];

/** The bun target each installer kind needs binaries for. */
const TARGET_OF: Record<Kind, string> = {
  deb: "bun-linux-x64",
  rpm: "bun-linux-x64",
  tar: "bun-linux-x64",
  exe: "bun-windows-x64",
  dmg: "bun-darwin-arm64",
};

export const VERSION: string = JSON.parse(readFileSync(join(root, "worker", "package.json"), "utf8")).version;

export const DEB_DEPENDS = "libayatana-appindicator3-1 | libappindicator3-1, libc6";
export const RPM_REQUIRES = "(libayatana-appindicator-gtk3 or libayatana-appindicator3-1 or libappindicator-gtk3)";
const MAINTAINER = "GoGrid maintainers <gogrid@bx.ee>";
const SUMMARY = "GoGrid worker and tray: share your GPU with a GoGrid inference network";
const DESCRIPTION_LINES = [
  "The worker runs llama.cpp jobs for a GoGrid coordinator and earns for generated tokens;",
  "it runs as a systemd user service (gogrid-worker.service) and the tray shows its state.",
  "Per-user data (~/.config/gogrid, ~/.local/share/gogrid) is never removed by the package.",
];

export const fileNames = {
  deb: `gogrid_${VERSION}_amd64.deb`,
  rpm: `gogrid-${VERSION}-1.x86_64.rpm`,
  tar: `gogrid-${VERSION}-linux-x64.tar.gz`,
  exe: `GoGrid-${VERSION}-setup.exe`,
  dmg: `GoGrid-${VERSION}.dmg`,
} satisfies Record<Kind, string>;

function run(cmd: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): string {
  const p = Bun.spawnSync(cmd, { cwd: opts.cwd ?? root, env: { ...process.env, ...opts.env }, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) {
    throw new Error(`${cmd.join(" ")} failed (${p.exitCode}):\n${p.stdout.toString()}\n${p.stderr.toString()}`);
  }
  return p.stdout.toString();
}

function need(tool: string, pkg: string): void {
  if (!Bun.which(tool)) throw new Error(`${tool} is not installed (Debian package: ${pkg})`);
}

function bin(target: string, name: string): string {
  const p = join(root, "dist", "bin", target, name);
  if (!existsSync(p))
    throw new Error(`${relative(root, p)} is missing: run without --skip-build (or bun scripts/build.ts --target ${target})`);
  return p;
}

/** Place a file: hard link when possible (the binaries are 100+ MB), else copy; then set its mode. */
function put(src: string, dest: string, mode = 0o644): void {
  mkdirSync(dirname(dest), { recursive: true });
  rmSync(dest, { force: true });
  try {
    if (mode !== 0o755 || (statSync(src).mode & 0o777) !== 0o755) throw new Error("copy");
    linkSync(src, dest);
  } catch {
    copyFileSync(src, dest);
    chmodSync(dest, mode);
  }
}

function write(dest: string, text: string, mode = 0o644): void {
  mkdirSync(dirname(dest), { recursive: true });
  writeFileSync(dest, text);
  chmodSync(dest, mode);
}

const template = (name: string, vars: Record<string, string>): string =>
  Object.entries(vars).reduce((s, [k, v]) => s.split(`@${k}@`).join(v), readFileSync(join(installers, name), "utf8"));

/** The Linux file tree shared by the .deb and the .rpm (paths relative to /). */
function linuxTree(dir: string): string[] {
  const t = TARGET_OF.deb;
  const files: [string, string, number][] = [
    ["usr/bin/gogrid-worker", bin(t, "gogrid-worker"), 0o755],
    ["usr/share/icons/hicolor/64x64/apps/gogrid.png", join(root, "tray", "icons", "green-64.png"), 0o644],
  ];
  for (const [rel, src, mode] of files) put(src, join(dir, rel), mode);
  // the worker binary is also the tray (it looks at the name it was started by): one Bun runtime
  symlinkSync("gogrid-worker", join(dir, "usr/bin/gogrid-tray"));
  const vars = { BINDIR: "/usr/bin" };
  write(join(dir, "usr/lib/systemd/user/gogrid-worker.service"), template("linux/gogrid-worker.service", vars));
  write(join(dir, "usr/share/applications/gogrid.desktop"), template("linux/gogrid.desktop", vars));
  write(join(dir, "etc/xdg/autostart/gogrid-tray.desktop"), template("linux/gogrid-tray.desktop", vars));
  return [
    ...files.map(([rel]) => `/${rel}`),
    "/usr/bin/gogrid-tray",
    "/usr/lib/systemd/user/gogrid-worker.service",
    "/usr/share/applications/gogrid.desktop",
    "/etc/xdg/autostart/gogrid-tray.desktop",
  ];
}

function installedKiB(paths: string[], dir: string): number {
  return Math.ceil(paths.reduce((n, p) => n + lstatSync(join(dir, p)).size, 0) / 1024);
}

function packageDeb(fast: boolean): string {
  need("dpkg-deb", "dpkg");
  const dir = join(STAGE, "deb");
  rmSync(dir, { recursive: true, force: true });
  const paths = linuxTree(dir);
  const control = [
    "Package: gogrid",
    `Version: ${VERSION}`,
    "Section: net",
    "Priority: optional",
    "Architecture: amd64",
    `Depends: ${DEB_DEPENDS}`,
    `Maintainer: ${MAINTAINER}`,
    `Installed-Size: ${installedKiB(paths, dir)}`,
    "Homepage: https://bx.ee/gogrid",
    `Description: ${SUMMARY}`,
    ...DESCRIPTION_LINES.map((l) => ` ${l}`),
    "",
  ].join("\n");
  write(join(dir, "DEBIAN", "control"), control);
  write(join(dir, "DEBIAN", "conffiles"), "/etc/xdg/autostart/gogrid-tray.desktop\n");
  for (const s of ["postinst", "prerm", "postrm"]) put(join(installers, "linux", s), join(dir, "DEBIAN", s), 0o755);
  const out = join(OUT_DIR, fileNames.deb);
  const compression = fast ? ["-Zgzip", "-z1"] : ["-Zxz", "-z6"];
  run(["dpkg-deb", "--root-owner-group", ...compression, "--build", dir, out]);
  return out;
}

function packageRpm(fast: boolean): string {
  need("rpmbuild", "rpm");
  const top = join(STAGE, "rpm");
  rmSync(top, { recursive: true, force: true });
  const tree = join(top, "tree");
  const paths = linuxTree(tree);
  const body = (s: string) =>
    readFileSync(join(installers, "linux", s), "utf8")
      .split("\n")
      .filter((l) => !l.startsWith("#!"))
      .join("\n")
      .trim();
  const spec = [
    "%global __os_install_post %{nil}",
    "%global debug_package %{nil}",
    "%global __strip /bin/true",
    "%global _build_id_links none",
    "Name: gogrid",
    `Version: ${VERSION}`,
    "Release: 1",
    `Summary: ${SUMMARY}`,
    "License: Proprietary",
    "URL: https://bx.ee/gogrid",
    "BuildArch: x86_64",
    "AutoReqProv: no",
    `Requires: ${RPM_REQUIRES}`,
    "Requires: glibc",
    "",
    "%description",
    ...DESCRIPTION_LINES,
    "",
    "%install",
    `cp -a ${tree}/. %{buildroot}/`,
    "",
    // rpm passes $1 = 1 (install) / 2 (upgrade) to %post and 0 (removal) to %preun/%postun,
    // which the deb's scripts handle as well.
    "%post",
    body("postinst"),
    "",
    "%preun",
    body("prerm"),
    "",
    "%postun",
    body("postrm"),
    "",
    "%files",
    ...paths.map((p) => (p.startsWith("/etc/") ? `%config(noreplace) ${p}` : p)),
    "",
  ].join("\n");
  const specFile = join(top, "gogrid.spec");
  write(specFile, spec);
  run([
    "rpmbuild",
    "-bb",
    "--nodeps",
    "--define",
    `_topdir ${top}`,
    "--define",
    `_binary_payload ${fast ? "w1.gzdio" : "w6T.xzdio"}`,
    specFile,
  ]);
  const built = join(top, "RPMS", "x86_64", fileNames.rpm);
  const out = join(OUT_DIR, fileNames.rpm);
  put(built, out, 0o644);
  return out;
}

function packageTar(fast: boolean): string {
  const name = basename(fileNames.tar, ".tar.gz");
  const dir = join(STAGE, "tar", name);
  rmSync(dirname(dir), { recursive: true, force: true });
  const t = TARGET_OF.tar;
  put(bin(t, "gogrid-worker"), join(dir, "gogrid-worker"), 0o755);
  symlinkSync("gogrid-worker", join(dir, "gogrid-tray"));
  put(join(root, "tray", "icons", "green-64.png"), join(dir, "gogrid.png"));
  for (const f of ["gogrid-worker.service", "gogrid.desktop", "gogrid-tray.desktop"]) put(join(installers, "linux", f), join(dir, f));
  put(join(installers, "linux", "install.sh"), join(dir, "install.sh"), 0o755);
  const out = join(OUT_DIR, fileNames.tar);
  run(["tar", "--owner=0", "--group=0", "-I", fast ? "gzip -1" : "gzip -9", "-cf", out, "-C", dirname(dir), name]);
  return out;
}

function packageExe(fast: boolean): string {
  need("makensis", "nsis");
  const dir = join(STAGE, "exe");
  rmSync(dir, { recursive: true, force: true });
  const t = TARGET_OF.exe;
  put(bin(t, "gogrid-worker.exe"), join(dir, "gogrid-worker.exe"), 0o755);
  put(bin(t, "gogrid-tray.exe"), join(dir, "gogrid-tray.exe"), 0o755);
  put(join(root, "tray", "icons", "green.ico"), join(dir, "gogrid.ico"));
  for (const f of ["gogrid-worker-loop.ps1", "install.ps1"]) put(join(installers, "windows", f), join(dir, f));
  const out = join(OUT_DIR, fileNames.exe);
  run([
    "makensis",
    "-V2",
    "-INPUTCHARSET",
    "UTF8",
    `-DVERSION=${VERSION}`,
    `-DSRCDIR=${dir}`,
    `-DOUTFILE=${out}`,
    ...(fast ? ["-DFAST"] : []),
    join(installers, "windows", "gogrid.nsi"),
  ]);
  return out;
}

/** An .icns from PNGs: 'icns' + total length, then entries of (type, length incl. 8, PNG data). */
export function icns(entries: { type: string; png: Uint8Array }[]): Uint8Array {
  const total = 8 + entries.reduce((n, e) => n + 8 + e.png.length, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  const tag = (at: number, s: string) => out.set(new TextEncoder().encode(s), at);
  tag(0, "icns");
  view.setUint32(4, total);
  let at = 8;
  for (const e of entries) {
    if (e.type.length !== 4) throw new Error(`bad icns type ${e.type}`);
    tag(at, e.type);
    view.setUint32(at + 4, 8 + e.png.length);
    out.set(e.png, at + 8);
    at += 8 + e.png.length;
  }
  return out;
}

function appIcon(work: string): Uint8Array {
  const icons = join(root, "tray", "icons");
  const entries = [
    { type: "icp4", png: readFileSync(join(icons, "green-16.png")) },
    { type: "icp5", png: readFileSync(join(icons, "green-32.png")) },
    { type: "icp6", png: readFileSync(join(icons, "green-64.png")) },
  ];
  // Larger sizes scaled up from the 64 px icon when ImageMagick is here (Finder shows 128+).
  const convert = Bun.which("convert");
  if (convert) {
    for (const [type, px] of [
      ["ic07", 128],
      ["ic08", 256],
    ] as const) {
      const png = join(work, `icon-${px}.png`);
      const p = Bun.spawnSync([convert, join(icons, "green-64.png"), "-filter", "point", "-resize", `${px}x${px}`, png], {
        stderr: "pipe",
      });
      if (p.exitCode === 0 && existsSync(png)) entries.push({ type, png: readFileSync(png) });
    }
  }
  return icns(entries);
}

function packageDmg(): string {
  need("genisoimage", "genisoimage");
  const dir = join(STAGE, "dmg");
  rmSync(dir, { recursive: true, force: true });
  const vol = join(dir, "GoGrid");
  const app = join(vol, "GoGrid.app", "Contents");
  const t = TARGET_OF.dmg;
  put(bin(t, "gogrid-tray"), join(app, "MacOS", "gogrid-tray"), 0o755);
  put(bin(t, "gogrid-worker"), join(app, "MacOS", "gogrid-worker"), 0o755);
  write(join(app, "Info.plist"), template("macos/Info.plist", { VERSION }));
  write(join(app, "PkgInfo"), "APPL????");
  write(
    join(app, "Library", "LaunchAgents", "ee.bx.gogrid.worker.plist"),
    readFileSync(join(installers, "macos", "ee.bx.gogrid.worker.plist"), "utf8"),
  );
  mkdirSync(join(app, "Resources"), { recursive: true });
  writeFileSync(join(app, "Resources", "icon.icns"), appIcon(dir));
  put(join(installers, "macos", "install.sh"), join(vol, "install.sh"), 0o755);
  symlinkSync("/Applications", join(vol, "Applications"));
  const out = join(OUT_DIR, fileNames.dmg);
  rmSync(out, { force: true });
  run(["genisoimage", "-quiet", "-V", "GoGrid", "-D", "-R", "-apple", "-no-pad", "-o", out, vol]);
  return out;
}

export interface PackageOptions {
  only?: Kind[];
  skipBuild?: boolean;
  fast?: boolean;
}

export async function packageAll(opts: PackageOptions = {}): Promise<Record<string, string>> {
  const kinds = opts.only?.length ? opts.only : [...KINDS];
  if (!opts.skipBuild) {
    const targets = [...new Set(kinds.map((k) => TARGET_OF[k]))];
    const p = Bun.spawn([process.execPath, join(root, "scripts", "build.ts"), ...targets.flatMap((t) => ["--target", t])], {
      cwd: root,
      stdout: "inherit",
      stderr: "inherit",
    });
    if ((await p.exited) !== 0) throw new Error("scripts/build.ts failed");
  }
  mkdirSync(OUT_DIR, { recursive: true });
  const fast = opts.fast ?? false;
  const made: Record<string, string> = {};
  const steps: Record<Kind, () => string> = {
    deb: () => packageDeb(fast),
    rpm: () => packageRpm(fast),
    tar: () => packageTar(fast),
    exe: () => packageExe(fast),
    dmg: () => packageDmg(),
  };
  for (const k of kinds) {
    const started = performance.now();
    made[k] = steps[k]();
    const mib = (statSync(made[k]).size / 2 ** 20).toFixed(1);
    console.log(`${k}: ${relative(root, made[k])} (${mib} MiB, ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  }
  rmSync(STAGE, { recursive: true, force: true });
  return made;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      "skip-build": { type: "boolean" },
      only: { type: "string" },
      fast: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(
      `usage: bun scripts/package.ts [--skip-build] [--only ${KINDS.join(",")}] [--fast]\nwrites ${relative(root, OUT_DIR)}/; --fast: light compression (CI checks, not releases)`,
    );
    process.exit(0);
  }
  const only = values.only ? values.only.split(",").map((s) => s.trim()) : [];
  const bad = only.filter((k) => !(KINDS as readonly string[]).includes(k));
  if (bad.length) {
    console.error(`unknown --only kind(s): ${bad.join(", ")} (known: ${KINDS.join(", ")})`);
    process.exit(2);
  }
  try {
    await packageAll({ only: only as Kind[], skipBuild: values["skip-build"] ?? false, fast: values.fast ?? false });
  } catch (e) {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  }
}
