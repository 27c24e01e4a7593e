// Runs the product (`startChatServer`) in its own process for the bench: alone with a temporary
// data directory so the sqlite log is real, or as one instance of a room shared through Redis;
// limits raised only where the bench would trip them.
// Run: bun bench/product-server.ts --key FILE --cert FILE --ca FILE [--redis-url URL]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { openRedisCluster } from '../apps/server/cluster/redis-cluster.ts'
import { startChatServer } from '../apps/server/server.ts'
import { openEmbeddedBackend } from '../apps/server/store/embedded-backend.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { announce } from './server-control.ts'

const { values } = parseArgs({
  options: {
    key: { type: 'string' },
    cert: { type: 'string' },
    ca: { type: 'string' },
    host: { type: 'string' },
    /** `:memory:` keeps the store off the disk: a diagnostic, to see what the disk costs. */
    'data-dir': { type: 'string' },
    /** One instance of a room shared through this Redis instead of the embedded sqlite store. */
    'redis-url': { type: 'string' },
  },
})
if (!values.key || !values.cert || !values.ca) {
  console.error(
    'usage: bun bench/product-server.ts --key FILE --cert FILE --ca FILE [--host A] [--redis-url URL]',
  )
  process.exit(2)
}

const hostname = values.host ?? '127.0.0.1'
const dataDir = values['data-dir'] ?? mkdtempSync(join(tmpdir(), 'chatbox-bench-data-'))
const limits = createLimits({
  // One client sends thousands of frames a second in the ladder; the bucket would stop it.
  rate: { perSecond: 1_000_000_000, burst: 1_000_000_000, strikes: 1_000_000_000 },
  // Every member is on 127.0.0.1 here, and the ladder's bytes are its measure, not an abuse.
  bytes: { perSecond: 1e15, burst: 1e15 },
  addressRate: { perSecond: 1_000_000_000, burst: 1_000_000_000 },
  addressBytes: { perSecond: 1e15, burst: 1e15 },
  // (d) opens every connection first and authenticates them afterwards, to time the two apart.
  authTimeoutMs: 3_600_000,
  // Members the bench closes must not be removed (an MLS commit) while the next step runs.
  leaveGraceMs: 3_600_000,
  // Thousands of members join from this one address, each under a name new to the room.
  nameRatePerAddress: { perSecond: 1_000_000, burst: 1_000_000 },
  // ... and hold their connections open at once, all from 127.0.0.1.
  maxConnectionsPerAddress: 1_000_000,
  // The server's own setting, so a run can compare paces: --server-env CHATBOX_BATCH_MS=0.
  ...(process.env.CHATBOX_BATCH_MS ? { writeBatchMs: Number(process.env.CHATBOX_BATCH_MS) } : {}),
})
// The same limits as alone: the leader's grace and commit timeout come from them too.
const redisUrl = values['redis-url']
const backend = redisUrl
  ? await openRedisCluster({ url: redisUrl, limits })
  : openEmbeddedBackend({ dataDir, limits })
const server = startChatServer({
  hostname,
  webPort: 0,
  termPort: 0,
  tls: { key: readFileSync(values.key, 'utf8'), cert: readFileSync(values.cert, 'utf8') },
  backend,
  limits,
})

// The page is built in the background at start; wait for it so the build's CPU is not charged
// to the first measured step.
const ca = readFileSync(values.ca, 'utf8')
const page = await fetch(`https://${hostname}:${server.webPort}/`, { tls: { ca } })
await page.arrayBuffer()
if (!page.ok) console.error(`bench: the page answered ${page.status}; carrying on`)

announce({ pid: process.pid, webPort: server.webPort, termPort: server.termPort }, async () => {
  // With a cluster, this also writes what is pending, retires the instance and disconnects.
  await server.stop()
  if (!values['data-dir']) rmSync(dataDir, { recursive: true, force: true })
})
