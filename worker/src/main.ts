#!/usr/bin/env bun
// gogrid-worker: the contributor's program: run, enroll, status, pause, resume, generate, bench.
import { PROBE_COMMAND, runProbeChild } from "@gogrid/native";
import { Command } from "commander";
import { registerBench } from "./commands/bench.ts";
import { registerDaemonCommands } from "./commands/daemon.ts";
import { registerGenerate } from "./commands/generate.ts";
import { WORKER_VERSION } from "./version.ts";

export function buildProgram(): Command {
  const program = new Command()
    .name("gogrid-worker")
    .description("GoGrid worker: lends this machine's GPU to the GoGrid inference network")
    .version(WORKER_VERSION, "-V, --version")
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    // usage errors exit with 2 (after commander has printed what was wrong), --help/--version with 0
    .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));
  registerDaemonCommands(program);
  registerGenerate(program);
  registerBench(program);
  return program;
}

/** Runs the command line (`argv` as in process.argv). */
export async function runCli(argv: string[]): Promise<void> {
  // The worker re-executes itself to probe a GPU build in a child process.
  if (argv[2] === PROBE_COMMAND && argv[3]) {
    await runProbeChild(argv[3]);
    return;
  }
  await buildProgram().parseAsync(argv);
}

if (import.meta.main) await runCli(process.argv);
