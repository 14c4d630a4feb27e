// @gogrid/tray: the tray icon (run it with `bun tray/src/main.ts`); the pure state → icon/menu mapping.
export {
  formatMoney,
  type IconName,
  type MenuEntry,
  type MenuKey,
  menuItems,
  type TrayView,
  trayState,
  type WorkerStatus,
} from "./state.ts";
