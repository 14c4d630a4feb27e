// Resource monitor and adaptive throttling: what the worker daemon and the tray import.

export { type CommandOutput, type CommandRunner, runCommand } from "./command.ts";
export { AUTO_MAX_JOBS, autoConcurrency, type ConcurrencyDecision, type ConcurrencyInputs, SAFETY_MARGIN } from "./concurrency.ts";
export {
  type ActivePause,
  applyServerCommand,
  effectiveStatus,
  PAUSE_SOURCES,
  type PauseChange,
  PauseControl,
  type PauseListener,
  type PauseRequest,
  type PauseSource,
  realScheduler,
  type Scheduler,
} from "./control.ts";
export { PauseError, ResourceConfigError, ResourceError, type ResourceErrorCode } from "./errors.ts";
export { type FullscreenProbe, fullscreenProbe, isFullscreenState, parseActiveWindow, QUNS_FULLSCREEN } from "./fullscreen.ts";
export { foreignGpuProcesses, type GpuProcess, NVIDIA_SMI_QUERY, parseComputeApps } from "./gpu-apps.ts";
export {
  isResourceMode,
  MODE_THRESHOLDS,
  RESOURCE_MODES,
  type ResourceMode,
  type ResourceOverrides,
  type Thresholds,
  thresholdsFor,
  validateOverrides,
} from "./modes.ts";
export { type HeartbeatLoad, type MonitorListener, ResourceMonitor, type ResourceMonitorOptions, type ResourceStats } from "./monitor.ts";
export {
  type CpuTimes,
  clampPercent,
  defaultSource,
  type GpuController,
  gpuLoadFrom,
  type LoadReading,
  type LoadSampler,
  type SampleHint,
  type SystemInfoSource,
  SystemLoadSampler,
  type SystemLoadSamplerOptions,
  systemInfo,
} from "./sampler.ts";
export {
  type CpuTotals,
  cpuPercentBetween,
  NVIDIA_SMI_GPU_QUERY,
  nvidiaControllers,
  type ProcSourceOptions,
  parseGpuQuery,
  parseMeminfo,
  parseProcStat,
  procSource,
} from "./system-source.ts";
export {
  type LoadKind,
  Throttle,
  type ThrottleChange,
  type ThrottleCounters,
  type ThrottleListener,
  type ThrottleOptions,
  type ThrottleState,
  type UpdateContext,
} from "./throttle.ts";
export { type YieldCause, type YieldListener, type YieldOptions, type YieldState, YieldWatcher } from "./yield.ts";
