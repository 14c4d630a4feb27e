// Whether a full-screen application is in front, where the OS tells: X11 (xprop), Windows (SHQueryUserNotificationState).
import type { CommandRunner } from "./command.ts";

/** true/false, or null when this desktop cannot tell (macOS, Wayland without X, tool missing). */
export type FullscreenProbe = () => Promise<boolean | null>;

/** SHQueryUserNotificationState's answers that mean "do not disturb": QUNS_BUSY, QUNS_RUNNING_D3D_FULL_SCREEN, QUNS_PRESENTATION_MODE. */
export const QUNS_FULLSCREEN = new Set([2, 3, 4]);

export const WINDOWS_QUNS_SCRIPT =
  "$t=Add-Type -Name Q -Namespace GoGrid -PassThru -MemberDefinition '[DllImport(\"shell32.dll\")] public static extern int SHQueryUserNotificationState(out int s);';$q=0;[void]$t::SHQueryUserNotificationState([ref]$q);$q";

/** The window id in `xprop -root _NET_ACTIVE_WINDOW` output, or null (no active window: 0x0). */
export function parseActiveWindow(out: string): string | null {
  const m = /window id # (0x[0-9a-f]+)/i.exec(out);
  if (!m || /^0x0+$/i.test(m[1] as string)) return null;
  return m[1] as string;
}

export function isFullscreenState(xpropState: string): boolean {
  return /\b_NET_WM_STATE_FULLSCREEN\b/.test(xpropState);
}

/** Linux/X11: the active window's _NET_WM_STATE contains _NET_WM_STATE_FULLSCREEN. */
export async function x11Fullscreen(run: CommandRunner): Promise<boolean | null> {
  const root = await run(["xprop", "-root", "_NET_ACTIVE_WINDOW"], { timeoutMs: 2000 });
  if (root === null || root.exitCode !== 0) return null;
  const id = parseActiveWindow(root.stdout);
  if (id === null) return false;
  const state = await run(["xprop", "-id", id, "_NET_WM_STATE"], { timeoutMs: 2000 });
  if (state === null || state.exitCode !== 0) return null;
  return isFullscreenState(state.stdout);
}

/** Windows: QUNS_BUSY, QUNS_RUNNING_D3D_FULL_SCREEN or QUNS_PRESENTATION_MODE. */
export async function windowsFullscreen(run: CommandRunner): Promise<boolean | null> {
  const r = await run(["powershell", "-NoProfile", "-NonInteractive", "-Command", WINDOWS_QUNS_SCRIPT], { timeoutMs: 10_000 });
  if (r === null || r.exitCode !== 0) return null;
  const state = Number.parseInt(r.stdout.trim(), 10);
  return Number.isInteger(state) ? QUNS_FULLSCREEN.has(state) : null;
}

/** The probe for this OS, or null where full screen is not detected (macOS; Linux without an X display). */
export function fullscreenProbe(
  run: CommandRunner,
  platform: NodeJS.Platform = process.platform,
  env: Record<string, string | undefined> = process.env,
): FullscreenProbe | null {
  if (platform === "win32") return () => windowsFullscreen(run);
  if (platform === "linux" && env.DISPLAY) return () => x11Fullscreen(run);
  return null;
}
