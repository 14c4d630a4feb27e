// Runs a small OS tool (nvidia-smi, xprop, powershell) for the yield probes; a missing tool is "no reading", not an error.

export interface CommandOutput {
  exitCode: number;
  stdout: string;
}

/** Runs argv; resolves null when the program is not installed. Tests pass a fake one. */
export type CommandRunner = (argv: readonly string[], options?: { timeoutMs?: number }) => Promise<CommandOutput | null>;

/** Bun.spawn with a timeout (killed → exit code 124-like non-zero); stderr is dropped. */
export const runCommand: CommandRunner = async (argv, options = {}) => {
  const [program, ...args] = argv;
  if (!program) throw new TypeError("runCommand: empty command");
  // Bun.spawn looks the program up in PATH itself (a missing one throws ENOENT below); on Windows `which`
  // also resolves PATHEXT (powershell → powershell.exe) as it always has
  const resolved = process.platform === "win32" ? Bun.which(program) : program;
  if (!resolved) return null;
  let proc: Bun.Subprocess<"ignore", "pipe", "ignore">;
  try {
    proc = Bun.spawn([resolved, ...args], {
      stdin: "ignore",
      stdout: "pipe",
      stderr: "ignore",
      windowsHide: true,
      timeout: options.timeoutMs ?? 5000,
    });
  } catch {
    return null;
  }
  const stdout = await new Response(proc.stdout).text();
  const exitCode = await proc.exited;
  return { exitCode, stdout };
};
