// Preloaded by `bun test` (bunfig.toml): engine tests load models and spawn processes, so give
// each test a minute on a busy 2-core machine instead of bun's default 5 s.
import { setDefaultTimeout } from "bun:test";

setDefaultTimeout(60_000);
