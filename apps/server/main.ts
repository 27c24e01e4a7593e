// Entry of `bun run serve`: settings, certificates, store, both listeners, and a clean stop.
import { readFileSync } from 'node:fs'
import { createLimits } from '../../shared/protocol/limits.ts'
import { certificateFingerprint, ensureCertificates } from './certs.ts'
import { openRedisCluster, type RedisCluster, redactUrl } from './cluster/redis-cluster.ts'
import { ConfigError, loadConfig, type ServerConfig } from './config.ts'
import { logSecurityEvent, startChatServer } from './server.ts'
import { openEmbeddedBackend } from './store/embedded-backend.ts'
import { StoreError } from './store/sqlite-store.ts'

/** Hosts the development certificate must name besides localhost and the loopback addresses. */
function extraCertificateHosts(host: string): string[] {
  return ['localhost', '127.0.0.1', '::1', '0.0.0.0', '::'].includes(host) ? [] : [host]
}

function fail(message: string, code = 1): never {
  console.error(`chatbox: ${message}`)
  process.exit(code)
}

async function main(): Promise<void> {
  let config: ServerConfig
  try {
    config = loadConfig(process.argv.slice(2), process.env)
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2)
    throw error
  }
  const { paths, created } = await ensureCertificates({
    dir: config.certDir,
    hosts: extraCertificateHosts(config.host),
  }).catch((error: Error) =>
    fail(`cannot make certificates in ${config.certDir}: ${error.message}`),
  )
  const tls = {
    key: readFileSync(paths.serverKey, 'utf8'),
    cert: readFileSync(paths.serverCert, 'utf8'),
  }

  const limits = createLimits({
    maxFileBytes: config.maxFileBytes,
    leaveGraceMs: config.leaveGraceSeconds * 1000,
    commitTimeoutMs: config.commitTimeoutSeconds * 1000,
  })
  let cluster: RedisCluster | undefined
  if (config.redisUrl) {
    cluster = await openRedisCluster({
      url: config.redisUrl,
      limits,
      reportSecurityEvent: logSecurityEvent,
    }).catch((error: Error) =>
      fail(`${error.message}; start Redis or unset CHATBOX_REDIS_URL to run alone`),
    )
  }

  let server: ReturnType<typeof startChatServer>
  try {
    const backend =
      cluster ??
      openEmbeddedBackend({
        dataDir: config.dataDir,
        limits,
        reportSecurityEvent: logSecurityEvent,
      })
    server = startChatServer({
      hostname: config.host,
      webPort: config.webPort,
      termPort: config.termPort,
      tls,
      backend,
      limits,
      roomSecret: config.roomSecret,
      allowedOrigins: config.allowedOrigins,
    })
  } catch (error) {
    if (error instanceof StoreError) fail(error.message)
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EADDRINUSE') {
      fail(
        `port ${config.webPort} or ${config.termPort} is in use on ${config.host}; stop the other ` +
          'server or set CHATBOX_WEB_PORT / CHATBOX_TERM_PORT',
      )
    }
    if (code === 'EACCES') fail(`not allowed to listen on ${config.host}; choose a port above 1023`)
    fail(`cannot start: ${(error as Error).message}`)
  }

  const caPem = readFileSync(paths.caCert, 'utf8')
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  console.log(
    [
      `chatbox is running${created ? ' (made new development certificates)' : ''}`,
      `  web page:         https://${shownHost}:${server.webPort}/`,
      `  terminal clients: ${shownHost}:${server.termPort}`,
      `  CA certificate:   ${paths.caCert}`,
      `  CA SHA-256:       ${await certificateFingerprint(caPem)}`,
      cluster
        ? `  shared through:   Redis at ${redactUrl(config.redisUrl ?? '')} (instance ${cluster.instance})`
        : `  data:             ${config.dataDir}`,
      ...(config.roomSecret ? ['  room secret:      required'] : []),
    ].join('\n'),
  )

  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    console.log(`chatbox: ${signal}, saying goodbye to clients`)
    await server.stop()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
}

await main()
