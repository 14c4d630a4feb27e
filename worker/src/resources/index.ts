// Resource monitor and adaptive throttling: what the worker daemon and the tray import.
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
  type GpuController,
  gpuLoadFrom,
  type LoadReading,
  type LoadSampler,
  type SystemInfoSource,
  SystemLoadSampler,
  type SystemLoadSamplerOptions,
  systemInfo,
} from "./sampler.ts";
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
