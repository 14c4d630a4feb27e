// Builds every installer once (`bun scripts/package.ts --fast`: light compression, same contents
// as a release) and checks what each one holds with the platform's own tools.
import { beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileNames, OUT_DIR, VERSION } from "./package.ts";

setDefaultTimeout(240_000);

const root = resolve(import.meta.dir, "..");
const out = (k: keyof typeof fileNames) => join(OUT_DIR, fileNames[k]);

function sh(cmd: string[], cwd = root): { code: number; stdout: string; stderr: string } {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, stdout: p.stdout.toString(), stderr: p.stderr.toString() };
}

function ok(cmd: string[], cwd = root): string {
  const r = sh(cmd, cwd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

const LINUX_FILES = [
  "/usr/bin/gogrid-worker",
  "/usr/bin/gogrid-tray",
  "/usr/lib/systemd/user/gogrid-worker.service",
  "/usr/share/applications/gogrid.desktop",
  "/etc/xdg/autostart/gogrid-tray.desktop",
  "/usr/share/icons/hicolor/64x64/apps/gogrid.png",
];

let scratch = "";

beforeAll(() => {
  const r = sh([process.execPath, join(root, "scripts", "package.ts"), "--fast"]);
  if (r.code !== 0) throw new Error(`bun scripts/package.ts --fast failed:\n${r.stdout}\n${r.stderr}`);
  scratch = mkdtempSync(join(tmpdir(), "gogrid-package-"));
  return () => rmSync(scratch, { recursive: true, force: true });
});

describe("installers", () => {
  test("size table", () => {
    const rows = (Object.keys(fileNames) as (keyof typeof fileNames)[]).map((k) => ({
      kind: k,
      file: fileNames[k],
      MiB: +(statSync(out(k)).size / 2 ** 20).toFixed(1),
    }));
    console.log("installer sizes (--fast: gzip -1 / NSIS uncompressed; a release uses xz / LZMA)");
    console.table(rows);
    // The size goal (Linux CPU package ≤ 45 MB) is met by shipping one Bun runtime: gogrid-tray is
    // the worker binary under another name. A release compresses with xz (measured in the issue
    // note); this run uses gzip -1 to stay within CI time, so here only the structure is checked.
    const list = ok(["dpkg-deb", "-c", out("deb")]);
    expect(list).toMatch(/\.\/usr\/bin\/gogrid-tray -> gogrid-worker\n/);
    const binaries = list.split("\n").filter((l) => l.startsWith("-rwx") && / \.\/usr\/bin\//.test(l));
    expect(binaries.length).toBe(1);
    console.log(`.deb with --fast compression: ${(statSync(out("deb")).size / 1e6).toFixed(1)} MB (one Bun binary; release: xz)`);
  });

  test(".deb: files, control fields, and a worker that runs from the extracted package", () => {
    const list = ok(["dpkg-deb", "-c", out("deb")]);
    for (const f of LINUX_FILES) expect(list).toContain(`.${f}`);
    expect(list).not.toContain("gogrid-worker-gpu");
    expect(list).toMatch(/rwxr-xr-x root\/root +\d+ .* \.\/usr\/bin\/gogrid-worker\n/);
    const control = ok(["dpkg-deb", "-f", out("deb")]);
    expect(control).toContain("Package: gogrid\n");
    expect(control).toContain(`Version: ${VERSION}\n`);
    expect(control).toContain("Architecture: amd64\n");
    expect(control).toMatch(/^Depends: libayatana-appindicator3-1 \| libappindicator3-1, libc6$/m);
    const info = ok(["dpkg-deb", "-I", out("deb")]);
    for (const s of ["postinst", "prerm", "postrm"]) expect(info).toContain(s);

    const dir = join(scratch, "deb");
    ok(["dpkg-deb", "-x", out("deb"), dir]);
    expect(ok([join(dir, "usr/bin/gogrid-worker"), "--version"]).trim()).toBe(VERSION);
    const unit = readFileSync(join(dir, "usr/lib/systemd/user/gogrid-worker.service"), "utf8");
    for (const line of ["ExecStart=/usr/bin/gogrid-worker run", "Restart=on-failure", "RestartSec=5", "RestartForceExitStatus=75"]) {
      expect(unit).toContain(`${line}\n`);
    }
    expect(unit).not.toMatch(/^User=/m);
    expect(readFileSync(join(dir, "usr/share/applications/gogrid.desktop"), "utf8")).toContain("Exec=/usr/bin/gogrid-tray\n");
    expect(readFileSync(join(dir, "etc/xdg/autostart/gogrid-tray.desktop"), "utf8")).toContain("Exec=/usr/bin/gogrid-tray\n");
    // Maintainer scripts are valid sh and never touch per-user data.
    const ctl = join(scratch, "deb-control");
    ok(["dpkg-deb", "-e", out("deb"), ctl]);
    for (const s of ["postinst", "prerm", "postrm"]) {
      ok(["sh", "-n", join(ctl, s)]);
      const text = readFileSync(join(ctl, s), "utf8");
      expect(text).not.toMatch(/rm[^\n]*(\.config|\.local|\$HOME|\/home)/);
    }
    expect(readFileSync(join(ctl, "postinst"), "utf8")).toContain("systemctl --global enable gogrid-worker.service");
  });

  test(".rpm: same files, appindicator requirement, scriptlets", () => {
    const list = ok(["rpm", "-qlp", out("rpm")]).split("\n");
    for (const f of LINUX_FILES) expect(list).toContain(f);
    const requires = ok(["rpm", "-qp", "--requires", out("rpm")]);
    expect(requires).toContain("libayatana-appindicator");
    const scripts = ok(["rpm", "-qp", "--scripts", out("rpm")]);
    expect(scripts).toContain("systemctl --global enable gogrid-worker.service");
    expect(scripts).toContain("systemctl --global disable gogrid-worker.service");
    // Not stripped: the extracted worker still runs.
    const dir = join(scratch, "rpm");
    ok(["mkdir", "-p", dir]);
    ok(["sh", "-c", `rpm2archive - < '${out("rpm")}' | tar -xzf - ./usr/bin/gogrid-worker`], dir);
    expect(ok([join(dir, "usr/bin/gogrid-worker"), "--version"]).trim()).toBe(VERSION);
  });

  test(".tar.gz: binaries, units, install.sh that parses", () => {
    const name = fileNames.tar.replace(/\.tar\.gz$/, "");
    const list = ok(["tar", "-tzf", out("tar")]).split("\n");
    for (const f of [
      "gogrid-worker",
      "gogrid-tray",
      "gogrid-worker.service",
      "gogrid.desktop",
      "gogrid-tray.desktop",
      "gogrid.png",
      "install.sh",
    ]) {
      expect(list).toContain(`${name}/${f}`);
    }
    const dir = join(scratch, "tar");
    ok(["mkdir", "-p", dir]);
    ok(["tar", "-xzf", out("tar"), "-C", dir, `${name}/install.sh`]);
    ok(["bash", "-n", join(dir, name, "install.sh")]);
    const script = readFileSync(join(dir, name, "install.sh"), "utf8");
    expect(script).toContain("set -euo pipefail");
    for (const pm of ["apt-get", "dnf", "yum", "zypper", "--uninstall", "--system"]) expect(script).toContain(pm);
  });

  test("NSIS setup.exe was compiled", () => {
    const exe = readFileSync(out("exe")).subarray(0, 2);
    expect(exe.toString("latin1")).toBe("MZ");
    expect(statSync(out("exe")).size).toBeGreaterThan(100 * 2 ** 20);
  });

  test(".dmg: GoGrid.app with Info.plist, both binaries, LaunchAgent and icon", () => {
    const list = ok(["isoinfo", "-f", "-R", "-i", out("dmg")]).split("\n");
    for (const f of [
      "/GoGrid.app/Contents/Info.plist",
      "/GoGrid.app/Contents/MacOS/gogrid-tray",
      "/GoGrid.app/Contents/MacOS/gogrid-worker",
      "/GoGrid.app/Contents/Library/LaunchAgents/ee.bx.gogrid.worker.plist",
      "/GoGrid.app/Contents/Resources/icon.icns",
      "/install.sh",
    ]) {
      expect(list).toContain(f);
    }
    const plist = ok(["isoinfo", "-R", "-i", out("dmg"), "-x", "/GoGrid.app/Contents/Info.plist"]);
    expect(plist).toContain("<string>ee.bx.gogrid</string>");
    expect(plist).toMatch(/<key>LSUIElement<\/key><true\/>/);
    expect(plist).toContain(`<string>${VERSION}</string>`);
    const icns = Buffer.from(
      ok(["sh", "-c", `isoinfo -R -i '${out("dmg")}' -x /GoGrid.app/Contents/Resources/icon.icns | head -c 8 | od -An -tx1`]),
    );
    expect(icns.toString().replace(/\s+/g, " ").trim().startsWith("69 63 6e 73")).toBe(true); // "icns"
  });

  test("systemd-analyze verify: worker user unit and coordinator unit", () => {
    if (!Bun.which("systemd-analyze")) {
      console.log("SKIPPED systemd-analyze verify: systemd-analyze is not installed (Debian package: systemd)");
      return;
    }
    // verify insists that ExecStart's binary exists: point it at real files in a temp copy.
    const dir = join(scratch, "units");
    ok(["mkdir", "-p", dir]);
    const worker = readFileSync(join(root, "installers/linux/gogrid-worker.service"), "utf8").replace(
      "@BINDIR@/gogrid-worker",
      join(root, "dist/bin/bun-linux-x64/gogrid-worker"),
    );
    const coord = readFileSync(join(root, "installers/coordinator/gogrid-coordinator.service"), "utf8");
    expect(coord).not.toMatch(/^MemoryDenyWriteExecute=/m);
    for (const line of ["NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes", "CapabilityBoundingSet=\n"]) {
      expect(coord).toContain(line);
    }
    expect(coord).toContain("--config /etc/gogrid/coordinator.toml");
    writeFileSync(join(dir, "gogrid-worker.service"), worker);
    writeFileSync(join(dir, "gogrid-coordinator.service"), coord.replace("/usr/local/bin/bun", process.execPath));
    for (const unit of ["gogrid-worker.service", "gogrid-coordinator.service"]) {
      const r = sh(["systemd-analyze", "verify", "--man=no", `./${unit}`], dir);
      expect({ unit, code: r.code, stderr: r.stderr.trim() }).toEqual({ unit, code: 0, stderr: "" });
    }
  });

  test("nftables script: nft -c -f", () => {
    const file = join(root, "installers/coordinator/nftables-gogrid.nft");
    const text = readFileSync(file, "utf8");
    expect(text).toContain("tcp dport 8443");
    expect(text).toContain("udp dport 8443");
    expect(text).toContain("limit rate over 20/second burst 40 packets");
    if (!Bun.which("nft")) {
      console.log(
        "SKIPPED nft -c -f installers/coordinator/nftables-gogrid.nft: nft is not installed (Debian package: nftables); only its text was checked",
      );
      return;
    }
    const r = sh(["nft", "-c", "-f", file]);
    if (r.code !== 0 && /Operation not permitted|Permission denied|netlink/i.test(r.stderr)) {
      console.log(`SKIPPED nft -c -f: nft cannot check without netlink access here: ${r.stderr.trim()}`);
      return;
    }
    expect({ code: r.code, stderr: r.stderr.trim() }).toEqual({ code: 0, stderr: "" });
  });

  test("shell scripts parse (bash -n)", () => {
    for (const f of [
      "installers/linux/install.sh",
      "installers/macos/install.sh",
      "installers/macos/build-pkg.sh",
      "installers/coordinator/install.sh",
      "installers/coordinator/postgres-setup.sh",
      "installers/coordinator/gogrid-admin",
    ]) {
      ok(["bash", "-n", join(root, f)]);
    }
  });
});
