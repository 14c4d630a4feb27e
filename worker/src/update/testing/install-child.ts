// Test helper process: installs release 1.1.0 from a manifest URL into a store, so a test can SIGKILL it mid-install.
import { UpdateStore } from "../state.ts";
import { Updater } from "../updater.ts";

const [storeDir, manifestUrl, rootKey, currentBinary] = process.argv.slice(2) as [string, string, string, string];
const u = new Updater({
  store: new UpdateStore(storeDir),
  enabled: () => true,
  channel: () => "stable",
  version: "1.0.0",
  platform: "linux-x64",
  rootKeys: [rootKey],
  currentBinary,
  tls: () => undefined,
  drain: async () => {},
  undrain: () => {},
  restart: () => process.exit(75),
  report: () => {},
  log: () => {},
});
console.log(await u.offer({ version: "1.1.0", channel: "stable", manifest_url: manifestUrl }));
