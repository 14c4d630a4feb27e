// LlamaEngine: the one interface the worker sees — pick a backend, load models, list devices.
import { type BackendOptions, type DeviceInfo, LlamaBackend } from "./backend.ts";
import { LibraryNotFoundError } from "./errors.ts";
import { type BackendKind, findLibraryVariants, type LibraryVariant } from "./library.ts";
import { levelNumber, parseLogLevel, stderrSink } from "./log.ts";
import { LlamaModel, type LoadModelOptions } from "./model.ts";
import { type BackendChoice, chooseVariant, type Prober, probeInChild } from "./probe.ts";

export interface EngineOptions extends BackendOptions {
  /** "auto" (default; GOGRID_BACKEND overrides) or one backend kind. */
  backend?: "auto" | BackendKind;
  /** Candidate builds (default: findLibraryVariants()). */
  variants?: LibraryVariant[];
  /** How GPU builds are tested (default: a real decode in a child process). */
  probe?: Prober;
}

export class LlamaEngine {
  private constructor(
    readonly backend: LlamaBackend,
    readonly choice: BackendChoice,
  ) {}

  private static opened: Promise<LlamaEngine> | null = null;

  /**
   * Opens the engine once per process (llama.cpp keeps global state): later calls return the
   * same engine whatever their options.
   */
  static open(options: EngineOptions = {}): Promise<LlamaEngine> {
    LlamaEngine.opened ??= LlamaEngine.create(options).catch((e) => {
      LlamaEngine.opened = null;
      throw e;
    });
    return LlamaEngine.opened;
  }

  private static async create(options: EngineOptions): Promise<LlamaEngine> {
    const variants = options.variants ?? findLibraryVariants();
    const prefer = options.backend ?? ((process.env.GOGRID_BACKEND as BackendKind | "auto" | undefined) || "auto");
    const considered: BackendChoice["tried"] = [];
    const choice = await chooseVariant(variants, options.probe ?? ((v) => probeInChild(v)), prefer, considered);
    if (!choice) {
      const why = considered.map((t) => `${t.name}: ${t.reason}`).join("; ");
      throw new LibraryNotFoundError(
        `no usable llama.cpp build (backend ${prefer}): ${why || "none found"} — set GOGRID_BACKEND=auto or cpu`,
      );
    }
    const backend = LlamaBackend.open(choice.variant, options);
    // Say which build runs and why the ones before it were passed over.
    const sink = options.logSink ?? stderrSink;
    const quiet = (options.logLevel ?? parseLogLevel(process.env.GOGRID_LLAMA_LOG, "error")) === "silent";
    const level = levelNumber(options.logLevel ?? parseLogLevel(process.env.GOGRID_LLAMA_LOG, "error"));
    for (const t of choice.tried) {
      if (t.ok || quiet || t.reason.startsWith("skipped:")) continue;
      // no GPU on this machine is normal; a GPU build that crashed or failed is worth a warning
      const severity = t.reason.includes("found no GPU device") ? "info" : "warn";
      if (levelNumber(severity) >= level) sink(severity, `llama.cpp ${t.name} (${t.backend}) not used: ${t.reason}`);
    }
    return new LlamaEngine(backend, { ...choice, devices: backend.devices() });
  }

  /** Which build runs and why the others did not (for logs and `register`). */
  get backendName(): BackendKind {
    return this.choice.variant.backend;
  }

  devices(): DeviceInfo[] {
    return this.backend.devices();
  }

  loadModel(path: string, options: LoadModelOptions = {}): Promise<LlamaModel> {
    return LlamaModel.load(this.backend, path, options);
  }
}
