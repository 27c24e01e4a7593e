// Starts real servers on 127.0.0.1 with port 0 and real clients over real TLS, for the
// cross-process tests. Certificates are made once per test process in a temporary directory.

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join as joinPath } from 'node:path'
import { generateCertificates } from '../../apps/server/certs.ts'
import {
  openRedisCluster,
  type RedisCluster,
  type RedisClusterOptions,
} from '../../apps/server/cluster/redis-cluster.ts'
import { createEventLog, type EventLog } from '../../apps/server/observe/event-log.ts'
import type { ServerEvent } from '../../apps/server/observe/events.ts'
import type { IdentityStore, RoomStores } from '../../apps/server/room/ports.ts'
import { type ChatServer, startChatServer } from '../../apps/server/server.ts'
import { openEmbeddedBackend } from '../../apps/server/store/embedded-backend.ts'
import { tlsTransport } from '../../shared/client/tls-transport.ts'
import type { ClientTransport, ConnectTransport } from '../../shared/client/transport.ts'
import { webSocketTransport } from '../../shared/client/websocket-transport.ts'
import {
  createIdentityKeyPair,
  type IdentityKeyPair,
  signWithIdentity,
} from '../../shared/crypto/identity-key.ts'
import { encodeFrame, type WireFrame } from '../../shared/protocol/codec.ts'
import { authMessage, type ClientFrame, type ServerFrame } from '../../shared/protocol/frames.ts'
import { createLimits, type Limits } from '../../shared/protocol/limits.ts'
import { seededGroupRecord, seededIdentity } from './seeded-group.ts'

export interface TestCertificates {
  readonly dir: string
  readonly ca: string
  readonly key: string
  readonly cert: string
}

let certificates: Promise<TestCertificates> | undefined

export function testCertificates(): Promise<TestCertificates> {
  certificates ??= (async () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'chatbox-certs-'))
    const paths = await generateCertificates({ dir })
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }))
    return {
      dir,
      ca: readFileSync(paths.caCert, 'utf8'),
      key: readFileSync(paths.serverKey, 'utf8'),
      cert: readFileSync(paths.serverCert, 'utf8'),
    }
  })()
  return certificates
}

export function temporaryDirectory(prefix = 'chatbox-test-'): string & Disposable {
  const dir = mkdtempSync(joinPath(tmpdir(), prefix))
  return Object.assign(dir, {
    [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }),
  }) as string & Disposable
}

export interface TestServerOptions {
  readonly dataDir?: string
  readonly limits?: Partial<Limits>
  readonly roomSecret?: string
  readonly webPort?: number
  readonly termPort?: number
  /** Shares the room with other instances through this Redis. */
  readonly redis?: Omit<RedisClusterOptions, 'limits'>
  /**
   * Names the room's MLS group holds from the start (tests/support/seeded-group.ts), so clients
   * that speak the protocol without MLS may send `app` frames as these members.
   */
  readonly members?: readonly string[]
  /** The server's event log; by default only what means trouble is printed (quietEventLog). */
  readonly eventLog?: EventLog
}

/** Events a test server prints unasked: faults and attacks, not every join and leave. */
const TROUBLE = new Set<ServerEvent['event']>([
  'error',
  'commit_refused',
  'commit_blamed',
  'group_ended',
  'secret_lockout',
])

/** The text event log on stdout, with the routine events (joins, leaves, refusals) left out. */
export function quietEventLog(): EventLog {
  const log = createEventLog({ format: 'text' })
  const quiet = (event: ServerEvent) => {
    if (TROUBLE.has(event.event)) log(event)
  }
  return Object.assign(quiet, { flush: () => log.flush() })
}

export interface TestServer extends ChatServer {
  readonly ca: string
  readonly dataDir: string
  readonly wsUrl: string
  readonly cluster?: RedisCluster
  /**
   * The server's name bindings and devices, when the test started the server: a test playing a
   * malicious server writes to them.
   */
  readonly identities?: IdentityStore
  /** The server's stores, when the test started the server: what the admin's commands act on. */
  readonly stores?: RoomStores
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const certs = await testCertificates()
  const dataDir = options.dataDir ?? ':memory:'
  const limits = createLimits({
    // Every test client comes from 127.0.0.1, standing for many hosts: one address's budget
    // would be theirs together. Tests of that budget set it.
    addressRate: { perSecond: 1_000_000, burst: 1_000_000 },
    addressBytes: { perSecond: 1e12, burst: 1e12 },
    maxConnectionsPerAddress: 1_000_000,
    nameRatePerAddress: { perSecond: 1_000_000, burst: 1_000_000 },
    ...options.limits,
  })
  const cluster = options.redis && (await openRedisCluster({ ...options.redis, limits }))
  const backend = cluster ?? openEmbeddedBackend({ dataDir, limits })
  if (options.members) await backend.groups.found(await seededGroupRecord(options.members))
  const server = startChatServer({
    hostname: '127.0.0.1',
    webPort: options.webPort ?? 0,
    termPort: options.termPort ?? 0,
    tls: { key: certs.key, cert: certs.cert },
    backend,
    limits,
    roomSecret: options.roomSecret,
    eventLog: options.eventLog ?? quietEventLog(),
  })
  return Object.assign(server, {
    ca: certs.ca,
    dataDir,
    cluster,
    wsUrl: `wss://127.0.0.1:${server.webPort}/ws`,
    identities: backend.identities,
    stores: backend,
  })
}

/** Frames as they arrive, and a way to wait for the next one that matches. */
export class Inbox {
  readonly frames: ServerFrame[] = []
  readonly invalid: string[] = []
  private waiters: Array<{
    test: (frame: ServerFrame) => boolean
    resolve: (f: ServerFrame) => void
  }> = []

  push(frame: ServerFrame): void {
    const index = this.waiters.findIndex((waiter) => waiter.test(frame))
    if (index >= 0) {
      const [waiter] = this.waiters.splice(index, 1)
      waiter?.resolve(frame)
      return
    }
    this.frames.push(frame)
  }

  /** The first unclaimed frame that matches, now or when it arrives; claimed frames are removed. */
  take<T extends ServerFrame['type']>(
    type: T,
    where: (frame: Extract<ServerFrame, { type: T }>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Extract<ServerFrame, { type: T }>> {
    const test = (frame: ServerFrame) =>
      frame.type === type && where(frame as Extract<ServerFrame, { type: T }>)
    const index = this.frames.findIndex(test)
    if (index >= 0) {
      return Promise.resolve(this.frames.splice(index, 1)[0] as Extract<ServerFrame, { type: T }>)
    }
    const { promise, resolve, reject } = Promise.withResolvers<ServerFrame>()
    const waiter = { test, resolve }
    this.waiters.push(waiter)
    const timer = setTimeout(() => {
      this.waiters = this.waiters.filter((item) => item !== waiter)
      reject(
        new Error(
          `no ${type} frame within ${timeoutMs} ms; unclaimed: ${JSON.stringify(this.frames)}`,
        ),
      )
    }, timeoutMs)
    return promise.finally(() => clearTimeout(timer)) as Promise<Extract<ServerFrame, { type: T }>>
  }
}

export interface TestClient extends AsyncDisposable {
  readonly inbox: Inbox
  readonly closed: Promise<string>
  send(frame: ClientFrame): void
  /** An encoded frame as it is, JSON text or binary, valid or not. */
  sendRaw(wire: WireFrame): void
  close(): void
}

export async function connectClient(connect: ConnectTransport): Promise<TestClient> {
  const inbox = new Inbox()
  const closed = Promise.withResolvers<string>()
  const transport: ClientTransport = await connect({
    // A batch of joins and leaves is taken as its events, one by one, as the engine takes them.
    frame: (frame) => {
      if (frame.type === 'presences') for (const event of frame.events) inbox.push(event)
      else inbox.push(frame)
    },
    invalid: (message) => inbox.invalid.push(message),
    closed: (reason) => closed.resolve(reason),
  })
  return {
    inbox,
    closed: closed.promise,
    send: (frame) => transport.send(encodeFrame(frame)),
    sendRaw: (wire) => transport.send(wire),
    close: () => transport.close(),
    async [Symbol.asyncDispose]() {
      transport.close()
    },
  }
}

/** Where a server listens and the CA it is trusted by: a test server, or one in another process. */
export type ServerAddress = Pick<TestServer, 'ca' | 'termPort' | 'wsUrl'>

export function connectWebSocket(server: ServerAddress, headers?: Record<string, string>) {
  return connectClient(webSocketTransport({ url: server.wsUrl, tls: { ca: server.ca }, headers }))
}

export function connectTls(server: ServerAddress) {
  return connectClient(
    tlsTransport({
      hostname: '127.0.0.1',
      port: server.termPort,
      ca: server.ca,
      serverName: 'localhost',
    }),
  )
}

/**
 * hello → challenge → signed auth → ready, with a fresh identity unless one is given (or the name
 * was seeded into the group: then with the key it is there under).
 */
export async function join(
  client: TestClient,
  name: string,
  identity?: IdentityKeyPair,
): Promise<{ ready: Extract<ServerFrame, { type: 'ready' }>; identity: IdentityKeyPair }> {
  const keys = identity ?? seededIdentity(name) ?? (await createIdentityKeyPair())
  client.send({ type: 'hello', name, identityKey: keys.publicKeyText })
  const { nonce } = await client.inbox.take('challenge')
  client.send({ type: 'auth', signature: await signWithIdentity(keys, authMessage(nonce, name)) })
  return { ready: await client.inbox.take('ready'), identity: keys }
}
