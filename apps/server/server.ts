// Puts one room behind both listeners: HTTPS + WSS on the web port, raw TLS on the terminal port.
// The entry point and the tests start the server through here.

import { networkInterfaces, hostname as osHostname } from 'node:os'
import type { Server } from 'bun'
import type { Limits } from '../../shared/protocol/limits.ts'
import { webClientAssets } from '../web/build.ts'
import { createWebFetch, withSecurityHeaders } from './http.ts'
import { createEventLog, type EventLog } from './observe/event-log.ts'
import { type EventSink, errorEvent, teeEvents } from './observe/events.ts'
import { createServerMetrics } from './observe/server-metrics.ts'
import type { RoomBackend } from './room/ports.ts'
import { createRoom, type Room } from './room/room.ts'
import { openEmbeddedBackend } from './store/embedded-backend.ts'
import { createConnectionBook } from './transports/connection-book.ts'
import { TLS_1_3, type TlsFiles } from './transports/tls-options.ts'
import { listenTlsSocket } from './transports/tls-socket.ts'
import { type WebSocketState, WebSocketTransport } from './transports/wss.ts'

export type ChatServerOptions = ListenerOptions &
  (
    | {
        /** Where the room's state lives: this process's own, or shared through Redis. */
        readonly backend: RoomBackend
      }
    | {
        /** Shorthand for this process's own backend on bun:sqlite in this directory. */
        readonly dataDir: string
      }
  )

interface ListenerOptions {
  readonly hostname: string
  readonly webPort: number
  readonly termPort: number
  readonly tls: TlsFiles
  readonly limits: Limits
  readonly roomSecret?: string
  /** Whether a name not bound yet needs an admin's invite. */
  readonly inviteOnly?: boolean
  /** Origins allowed to open /ws besides the server's own. */
  readonly allowedOrigins?: readonly string[]
  /** The operator's event log; text lines on stdout when not given. */
  readonly eventLog?: EventLog
  /** When set, /metrics answers only with this bearer token (from anywhere); else only loopback. */
  readonly metricsToken?: string
}

export interface ChatServer {
  readonly webPort: number
  readonly termPort: number
  readonly room: Room
  /** The origins whose pages may open /ws. */
  readonly origins: ReadonlySet<string>
  /** The event log with the metrics that count it: for parts started before the server. */
  readonly events: EventSink
  /** Says goodbye to every client, closes both listeners and the backend. */
  stop(): Promise<void>
  [Symbol.asyncDispose](): Promise<void>
}

export function startChatServer(options: ChatServerOptions): ChatServer {
  const { limits } = options
  const backend =
    'backend' in options
      ? options.backend
      : openEmbeddedBackend({ dataDir: options.dataDir, limits })
  const eventLog = options.eventLog ?? createEventLog({ format: 'text' })
  const metrics = createServerMetrics(() => room.census(), backend.log)
  const events = teeEvents(metrics.events, eventLog)
  const room = createRoom({
    backend,
    limits,
    secret: options.roomSecret,
    inviteOnly: options.inviteOnly ?? false,
    now: Date.now,
    randomBytes: (length) => crypto.getRandomValues(new Uint8Array(length)),
    events,
    reportInternalError(error) {
      // Redis being away is one line per refusal, not a stack trace each; anything else is a bug,
      // whose stack goes to stderr beside the event.
      const code = (error as { code?: unknown } | undefined)?.code
      const redisAway = typeof code === 'string' && code.startsWith('ERR_REDIS')
      events(errorEvent(redisAway ? 'redis' : 'room', error))
      if (!redisAway) console.error(error)
    },
  })
  const connections = createConnectionBook(limits.maxConnectionsPerAddress, events)
  const webSockets = new WebSocketTransport(room, limits, connections, metrics.traffic)
  // Built once per process, from the first start on, so the page is ready by the first visit.
  const assets = webClientAssets()
  assets.catch((error: Error) => events(errorEvent('web', error)))
  const webFetch = createWebFetch(
    () => storeAnswers(backend),
    { assets, maxFileBytes: limits.maxFileBytes },
    { origins: () => origins, initialState: (address) => webSockets.initialState(address) },
    { metricsToken: options.metricsToken, metrics: () => metrics.render(), events },
  )

  /** The page origins allowed to open /ws: known once the web port is. */
  let origins: ReadonlySet<string> = new Set()
  let web: Server<WebSocketState> | undefined
  let terminal: ReturnType<typeof listenTlsSocket> | undefined
  try {
    web = Bun.serve<WebSocketState>({
      hostname: options.hostname,
      port: options.webPort,
      tls: { ...options.tls, ...TLS_1_3 },
      websocket: webSockets.handler,
      fetch: webFetch,
      error(error) {
        events(errorEvent('web', error))
        return withSecurityHeaders(new Response('internal error\n', { status: 500 }))
      },
    })
    webSockets.attach(web)
    terminal = listenTlsSocket({
      room,
      limits,
      hostname: options.hostname,
      port: options.termPort,
      tls: options.tls,
      connections,
      traffic: metrics.traffic,
    })
  } catch (error) {
    web?.stop(true)
    webSockets.stop()
    metrics.stop()
    void backend.close().catch(() => {})
    throw error
  }

  const webPort = web.port as number
  origins = new Set([...ownOrigins(options.hostname, webPort), ...(options.allowedOrigins ?? [])])

  let stopped: Promise<void> | undefined
  async function stop(): Promise<void> {
    stopped ??= (async () => {
      room.shutdown()
      // Give the goodbye frames one turn to be written before the sockets go.
      await new Promise((resolve) => setImmediate(resolve))
      terminal?.stop(true)
      await web?.stop(true)
      webSockets.stop()
      metrics.stop()
      await backend.close()
      eventLog.flush()
    })()
    return stopped
  }

  return {
    webPort,
    termPort: terminal.port,
    room,
    origins,
    events,
    stop,
    [Symbol.asyncDispose]: stop,
  }
}

/** How long /healthz waits for the store before it calls the server unhealthy. */
const HEALTH_DEADLINE_MS = 2000

/** Healthy while the store answers a read; while Redis is away Bun's client refuses at once. */
async function storeAnswers(backend: RoomBackend): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(reject, HEALTH_DEADLINE_MS, new Error('the store did not answer'))
  })
  try {
    await Promise.race([backend.log.head(), deadline])
    return true
  } catch {
    return false
  } finally {
    clearTimeout(timer)
  }
}

/** The origins a browser shows for this server's own page. */
function ownOrigins(hostname: string, port: number): string[] {
  const suffix = port === 443 ? '' : `:${port}`
  const hosts = new Set(['localhost', '127.0.0.1', '::1'])
  if (hostname === '0.0.0.0' || hostname === '::') {
    // Bound to every interface: the team reaches it by this machine's name or any address.
    hosts.add(osHostname())
    for (const addresses of Object.values(networkInterfaces())) {
      for (const address of addresses ?? []) hosts.add(address.address)
    }
  } else {
    hosts.add(hostname)
  }
  return [...hosts].map((host) => `https://${host.includes(':') ? `[${host}]` : host}${suffix}`)
}
