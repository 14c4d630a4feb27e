// systray2's helper binary for each OS (the tray runs it; the build embeds it).
export const HELPER_NAMES: Partial<Record<NodeJS.Platform, string>> = {
  linux: "tray_linux_release",
  darwin: "tray_darwin_release",
  win32: "tray_windows_release.exe",
};
