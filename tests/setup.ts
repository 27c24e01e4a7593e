// Preloaded before every test file (bunfig.toml): cross-process tests start real TLS servers and
// child processes, which on a loaded two-core machine can take longer than Bun's 5 s default.
import { setDefaultTimeout } from 'bun:test'

setDefaultTimeout(30_000)
