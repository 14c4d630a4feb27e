// One llama.cpp build opened in this process: libraries, the shim, devices and the log.
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LibraryNotFoundError } from "./errors.ts";
import { addressOf, type GgmlLib, type LlamaLib, openGgml, openLlama, type Pointer, ptr } from "./ffi.ts";
import { cacheRoot, findIncludeDirs, type LibraryVariant } from "./library.ts";
import { type LogLevel, type LogSink, levelNumber, NativeLogBuffer, parseLogLevel, stderrSink } from "./log.ts";
import shimSourcePath from "./shim.c" with { type: "file" };
import { loadShim, type Shim } from "./shim.ts";

export type DeviceType = "cpu" | "gpu" | "igpu" | "accel" | "meta";
const DEVICE_TYPES: DeviceType[] = ["cpu", "gpu", "igpu", "accel", "meta"];

export interface DeviceInfo {
  /** ggml device name, e.g. "CPU", "Vulkan0", "CUDA0". */
  name: string;
  description: string;
  type: DeviceType;
  /** ggml backend registry name, e.g. "CPU", "Vulkan", "CUDA". */
  backend: string;
  memoryFreeBytes: number;
  memoryTotalBytes: number;
}

/** The accelerators among `devices`, as a person reads them ("NVIDIA H200, ..."); "" for none. */
export function acceleratorNames(devices: DeviceInfo[]): string {
  return devices
    .filter((d) => d.type !== "cpu")
    .map((d) => d.description || d.name)
    .join(", ");
}

export interface BackendOptions {
  /** Lowest llama.cpp log level passed to the sink (default "error": quiet; GOGRID_LLAMA_LOG overrides). */
  logLevel?: LogLevel;
  logSink?: LogSink;
}

function shimSourceOnDisk(): string {
  if (existsSync(shimSourcePath) && !shimSourcePath.includes("$bunfs") && !shimSourcePath.includes("~BUN")) {
    return shimSourcePath;
  }
  // Inside a compiled binary the source is embedded: give TinyCC a real file.
  const text = readFileSync(shimSourcePath, "utf8");
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 16);
  const out = join(cacheRoot(), `shim-${hash}.c`);
  if (!existsSync(out)) {
    mkdirSync(cacheRoot(), { recursive: true });
    writeFileSync(out, text);
  }
  return out;
}

/** ggml's default poll level: measured here, 50 keeps decode within 3% of a C loop; 0 cost ~8%. */
const POOL_POLL = 50;

export class LlamaBackend {
  readonly llama: LlamaLib["symbols"];
  readonly ggml: GgmlLib["symbols"];
  readonly shim: Shim;
  readonly log = new NativeLogBuffer();
  private readonly logBuf = new Uint8Array(65536);
  private sink: LogSink | null;
  private readonly decoder = new TextDecoder();

  private constructor(
    readonly variant: LibraryVariant,
    llama: LlamaLib,
    ggml: GgmlLib,
    options: BackendOptions,
  ) {
    this.llama = llama.symbols;
    this.ggml = ggml.symbols;
    const level = options.logLevel ?? parseLogLevel(process.env.GOGRID_LLAMA_LOG, "error");
    this.sink = level === "silent" ? null : (options.logSink ?? stderrSink);
    this.shim = loadShim(shimSourceOnDisk(), findIncludeDirs(), llama, ggml);
    // Warnings are always collected (they explain load failures), printed only at `level`.
    this.minLevel = levelNumber(level);
    this.shim.gg_log_level(Math.min(this.minLevel, levelNumber("warn")));
    this.llama.llama_backend_init();
    this.ggml.ggml_backend_load_all_from_path(Buffer.from(`${variant.dir}\0`));
    this.drainLog();
  }

  private minLevel: number;

  /** Routes llama.cpp's log to `sink` from `level` up ("silent" = collect only). */
  setLogSink(sink: LogSink | null, level: LogLevel = "warn"): void {
    this.drainLog();
    this.sink = level === "silent" ? null : sink;
    this.minLevel = levelNumber(level);
    this.shim.gg_log_level(Math.min(this.minLevel, levelNumber("warn")));
  }

  /** Opens a library variant in this process. Only one backend can be open per process. */
  static open(variant: LibraryVariant, options: BackendOptions = {}): LlamaBackend {
    let ggml: GgmlLib;
    let llama: LlamaLib;
    try {
      ggml = openGgml(variant.ggmlPath);
      llama = openLlama(variant.llamaPath);
    } catch (e) {
      throw new LibraryNotFoundError(`cannot load the ${variant.name} llama.cpp build from ${variant.dir}: ${(e as Error).message}`);
    }
    return new LlamaBackend(variant, llama, ggml, options);
  }

  /** Moves llama.cpp's buffered log lines to the sink; call after every call into the library. */
  drainLog(): void {
    for (;;) {
      const n = this.shim.gg_log_take(ptr(this.logBuf), this.logBuf.length);
      if (n <= 0) return;
      this.log.push(this.decoder.decode(this.logBuf.subarray(0, n)), (level, message) => {
        if (this.sink && levelNumber(level) >= this.minLevel) this.sink(level, message);
      });
      if (n < this.logBuf.length) return;
    }
  }

  devices(): DeviceInfo[] {
    const out: DeviceInfo[] = [];
    const mem = new BigUint64Array(2);
    const count = Number(this.ggml.ggml_backend_dev_count());
    for (let i = 0; i < count; i++) {
      const dev = this.ggml.ggml_backend_dev_get(i) as Pointer;
      mem.fill(0n);
      this.ggml.ggml_backend_dev_memory(dev, ptr(mem), ptr(mem, 8));
      const reg = this.ggml.ggml_backend_dev_backend_reg(dev);
      out.push({
        name: String(this.ggml.ggml_backend_dev_name(dev)),
        description: String(this.ggml.ggml_backend_dev_description(dev)),
        type: DEVICE_TYPES[this.ggml.ggml_backend_dev_type(dev)] ?? "accel",
        backend: reg ? String(this.ggml.ggml_backend_reg_name(reg)) : "",
        memoryFreeBytes: Number(mem[0]),
        memoryTotalBytes: Number(mem[1]),
      });
    }
    return out;
  }

  /**
   * A persistent CPU threadpool of `threads` threads (ggml's default polling: they spin briefly
   * after each graph, then sleep), or null when
   * the CPU backend does not offer one. Free it after the context that uses it.
   */
  newThreadpool(threads: number): { pool: Pointer; free(): void } | null {
    const dev = this.ggml.ggml_backend_dev_by_type(0) as Pointer | null; // GGML_BACKEND_DEVICE_TYPE_CPU
    const reg = dev ? (this.ggml.ggml_backend_dev_backend_reg(dev) as Pointer | null) : null;
    if (!reg) return null;
    const create = this.ggml.ggml_backend_reg_get_proc_address(reg, Buffer.from("ggml_threadpool_new\0")) as Pointer | null;
    const destroy = this.ggml.ggml_backend_reg_get_proc_address(reg, Buffer.from("ggml_threadpool_free\0")) as Pointer | null;
    if (!create || !destroy) return null;
    const pool = this.shim.gg_threadpool_new(
      addressOf(this.ggml.ggml_threadpool_params_init),
      create,
      threads,
      POOL_POLL,
    ) as Pointer | null;
    if (!pool) return null;
    let freed = false;
    return {
      pool,
      free: () => {
        if (freed) return;
        freed = true;
        this.shim.gg_threadpool_free(destroy, pool);
      },
    };
  }

  systemInfo(): string {
    return String(this.llama.llama_print_system_info());
  }
}
