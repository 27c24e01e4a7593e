// Entry of `bun run serve`: settings, certificates, store, both listeners, and a clean stop.
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createLimits } from '../../shared/protocol/limits.ts'
import { certificateFingerprint, ensureCertificates } from './certs.ts'
import {
  openRedisCluster,
  type RedisCluster,
  RedisReplicasError,
  RedisTlsError,
  redactUrl,
} from './cluster/redis-cluster.ts'
import { ConfigError, helpText, loadConfig, type ServerConfig, wantsHelp } from './config.ts'
import { logSecurityEvent, startChatServer } from './server.ts'
import { openEmbeddedBackend } from './store/embedded-backend.ts'
import { StoreError } from './store/sqlite-store.ts'

/** Hosts the development certificate must name besides localhost and the loopback addresses. */
function extraCertificateHosts(host: string): string[] {
  return ['localhost', '127.0.0.1', '::1', '0.0.0.0', '::'].includes(host) ? [] : [host]
}

/** The day a PEM certificate ends, so a 90-day development CA's end is never a surprise. */
function validUntil(pem: string): string {
  return new Date(new X509Certificate(pem).validTo).toISOString().slice(0, 10)
}

function fail(message: string, code = 1): never {
  console.error(`chatbox: ${message}`)
  process.exit(code)
}

/** The CA Redis's certificate must chain to, read from CHATBOX_REDIS_CA; only for rediss://. */
function redisCa(config: ServerConfig): string | undefined {
  if (!config.redisCa) return undefined
  if (!config.redisUrl?.startsWith('rediss://')) {
    fail('CHATBOX_REDIS_CA (--redis-ca) needs a rediss:// URL in CHATBOX_REDIS_URL', 2)
  }
  try {
    return readFileSync(config.redisCa, 'utf8')
  } catch (error) {
    fail(`cannot read CHATBOX_REDIS_CA (--redis-ca): ${(error as Error).message}`, 2)
  }
}

async function main(): Promise<void> {
  if (wantsHelp(process.argv.slice(2))) {
    console.log(helpText())
    return
  }
  let config: ServerConfig
  try {
    config = loadConfig(process.argv.slice(2), process.env)
  } catch (error) {
    if (error instanceof ConfigError) fail(error.message, 2)
    throw error
  }
  const { paths, created, replaced } = await ensureCertificates({
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
    unusedNameMs: config.unusedNameDays * 86_400_000,
    maxConnectionsPerAddress: config.maxConnectionsPerAddress,
    logRetention: {
      entries: config.logMaxEntries,
      bytes: config.logMaxMegabytes * 1024 * 1024,
      ageMs: config.logMaxDays * 24 * 3_600_000,
    },
  })
  let cluster: RedisCluster | undefined
  if (config.redisUrl) {
    cluster = await openRedisCluster({
      url: config.redisUrl,
      limits,
      reportSecurityEvent: logSecurityEvent,
      ca: redisCa(config),
      waitReplicas: config.redisWaitReplicas,
      waitTimeoutMs: config.redisWaitSeconds * 1000,
    }).catch((error: Error) =>
      fail(
        `${error.message}; ${
          error instanceof RedisTlsError
            ? "CHATBOX_REDIS_CA (--redis-ca) names the CA that signed Redis's certificate"
            : error instanceof RedisReplicasError
              ? 'attach a replica or set CHATBOX_REDIS_WAIT_REPLICAS=0'
              : 'start Redis or unset CHATBOX_REDIS_URL to run alone'
        }`,
      ),
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
      `  CA certificate:   ${paths.caCert} (valid until ${validUntil(caPem)})`,
      `  CA SHA-256:       ${await certificateFingerprint(caPem)}`,
      // A new CA has to be trusted again wherever the old one was.
      ...(replaced ? [`  new CA because:   ${replaced}; trust the new one again`] : []),
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
