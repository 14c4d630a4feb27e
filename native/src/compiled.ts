// Whether this process runs from a `bun build --compile` binary. No imports: the tray uses it without the rest of native.

/** True inside a `bun build --compile` binary (its entry lives in Bun's embedded file system). */
export function isCompiledBinary(): boolean {
  return Bun.main.startsWith("/$bunfs/") || /^[A-Za-z]:[\\/]~BUN[\\/]/.test(Bun.main);
}
