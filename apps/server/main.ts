// Entry of `bun run serve`: settings, certificates, store, both listeners, and a clean stop.
import { X509Certificate } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createLimits } from '../../shared/protocol/limits.ts'
import { answerControl } from './admin/control.ts'
import { type ControlSocket, listenControlSocket } from './admin/control-socket.ts'
import { certificateFingerprint, ensureCertificates } from './certs.ts'
import {
  openRedisCluster,
  type RedisCluster,
  RedisReplicasError,
  RedisTlsError,
  redactUrl,
} from './cluster/redis-cluster.ts'
import {
  ConfigError,
  helpText,
  loadConfig,
  pageUrl,
  type ServerConfig,
  terminalAddress,
  wantsHelp,
} from './config.ts'
import { createEventLog } from './observe/event-log.ts'
import { type EventSink, errorEvent } from './observe/events.ts'
import { startChatServer } from './server.ts'
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
    writeBatchMs: config.batchMs,
    logRetention: {
      entries: config.logMaxEntries,
      bytes: config.logMaxMegabytes * 1024 * 1024,
      ageMs: config.logMaxDays * 24 * 3_600_000,
    },
  })
  const eventLog = createEventLog({ format: config.logFormat })
  /** Redis's faults go to the log, and once the server runs, to its metrics as well. */
  let events: EventSink = eventLog
  let cluster: RedisCluster | undefined
  if (config.redisUrl) {
    cluster = await openRedisCluster({
      url: config.redisUrl,
      limits,
      reportError: (error) => events(errorEvent('redis', error)),
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
  let control: ControlSocket | undefined
  try {
    const backend = cluster ?? openEmbeddedBackend({ dataDir: config.dataDir, limits })
    server = startChatServer({
      hostname: config.host,
      webPort: config.webPort,
      termPort: config.termPort,
      tls,
      backend,
      limits,
      roomSecret: config.roomSecret,
      inviteOnly: config.inviteOnly,
      allowedOrigins: config.allowedOrigins,
      eventLog,
      metricsToken: config.metricsToken,
    })
    // `bun run admin` reaches the running server here; `:memory:` has no directory to put it in.
    const room = server.room
    if (config.dataDir !== ':memory:') {
      const live = { members: () => room.members(), expel: room.expel, events: server.events }
      control = listenControlSocket(
        config.dataDir,
        answerControl(backend, {
          live,
          pageUrl: pageUrl({ ...config, webPort: server.webPort }),
          terminalAddress: terminalAddress({ ...config, termPort: server.termPort }),
          now: Date.now,
          randomBytes: (length) => crypto.getRandomValues(new Uint8Array(length)),
        }),
      )
    }
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

  events = server.events
  // Before the banner: a supervisor may send SIGTERM the moment it reads it, and a signal that
  // came before its handler would kill the server without a goodbye (tests/shutdown.test.ts saw it).
  let stopping = false
  const stop = async (signal: string) => {
    if (stopping) return
    stopping = true
    if (config.logFormat === 'json') eventLog({ event: 'stopping', signal })
    else console.log(`chatbox: ${signal}, saying goodbye to clients`)
    control?.stop()
    await server.stop()
    process.exit(0)
  }
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGTERM', () => void stop('SIGTERM'))
  const caPem = readFileSync(paths.caCert, 'utf8')
  const shownHost = config.host === '0.0.0.0' || config.host === '::' ? 'localhost' : config.host
  const web = `https://${shownHost}:${server.webPort}/`
  const terminal = `${shownHost}:${server.termPort}`
  const caSha256 = await certificateFingerprint(caPem)
  const store = cluster
    ? `Redis at ${redactUrl(config.redisUrl ?? '')} (instance ${cluster.instance})`
    : config.dataDir
  // A log shipper reading json lines gets the banner as one more event, not as loose text.
  if (config.logFormat === 'json') {
    eventLog({
      event: 'started',
      web,
      terminal,
      caCertificate: paths.caCert,
      caValidUntil: validUntil(caPem),
      caSha256,
      newCertificates: created,
      ...(replaced ? { newCaBecause: replaced } : {}),
      store,
      roomSecret: config.roomSecret !== undefined,
      inviteOnly: config.inviteOnly,
    })
  } else {
    console.log(
      [
        `chatbox is running${created ? ' (made new development certificates)' : ''}`,
        `  web page:         ${web}`,
        `  terminal clients: ${terminal}`,
        `  CA certificate:   ${paths.caCert} (valid until ${validUntil(caPem)})`,
        `  CA SHA-256:       ${caSha256}`,
        // A new CA has to be trusted again wherever the old one was.
        ...(replaced ? [`  new CA because:   ${replaced}; trust the new one again`] : []),
        cluster ? `  shared through:   ${store}` : `  data:             ${store}`,
        ...(config.roomSecret ? ['  room secret:      required'] : []),
        ...(config.inviteOnly
          ? ['  new names:        by invite only (bun run admin invite NAME)']
          : []),
      ].join('\n'),
    )
  }
}

await main()
