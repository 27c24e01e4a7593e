// Headless engine clients for cross-process tests: the real client engine over a real transport,
// with every event it emits kept for the test to wait on.
import type { ChatEvent } from '../../shared/client/events.ts'
import { createMemoryStores } from '../../shared/client/memory-stores.ts'
import { type ChatSession, createChatSession } from '../../shared/client/session.ts'
import type { ClientStores } from '../../shared/client/stores.ts'
import { tlsTransport } from '../../shared/client/tls-transport.ts'
import type { ConnectTransport } from '../../shared/client/transport.ts'
import { webSocketTransport } from '../../shared/client/websocket-transport.ts'
import type { TestServer } from './harness.ts'

export interface EngineClient extends AsyncDisposable {
  readonly session: ChatSession
  /** Settles once admitted to the room: for a device being linked, only after its approval. */
  readonly connected: Promise<void>
  readonly events: ChatEvent[]
  readonly stores: ClientStores
  /** The first event (from `from` on) that matches; waits for it if none has yet. */
  waitFor<T extends ChatEvent['type']>(
    type: T,
    where?: (event: Extract<ChatEvent, { type: T }>) => boolean,
    timeoutMs?: number,
  ): Promise<Extract<ChatEvent, { type: T }>>
}

export function transportFor(server: TestServer, kind: 'wss' | 'tls'): ConnectTransport {
  return kind === 'wss'
    ? webSocketTransport({ url: server.wsUrl, tls: { ca: server.ca } })
    : tlsTransport({
        hostname: '127.0.0.1',
        port: server.termPort,
        ca: server.ca,
        serverName: 'localhost',
      })
}

export interface EngineOptions {
  readonly stores?: ClientStores
  /** Resolve only once in the MLS group (the default), or as soon as admitted to the room. */
  readonly waitForGroup?: boolean
  readonly connect?: ConnectTransport
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number }
  /** The room secret, for a server started with one. */
  readonly secret?: string
  /**
   * Join as a new device of the name: resolves at once, while it waits for approval (its
   * `link-code` event); `connected` settles once it is admitted.
   */
  readonly linkDevice?: boolean
}

export function startEngineClient(
  server: TestServer,
  name: string,
  kind: 'wss' | 'tls',
  options: EngineOptions = {},
): Promise<EngineClient> {
  return startEngineSession(options.connect ?? transportFor(server, kind), name, options)
}

/** The same, for a server the test reaches by a transport of its own (another process, a relay). */
export async function startEngineSession(
  connect: ConnectTransport,
  name: string,
  options: EngineOptions = {},
): Promise<EngineClient> {
  const stores = options.stores ?? createMemoryStores()
  const session = createChatSession({
    connect,
    name,
    stores,
    reconnect: options.reconnect ?? { initialMs: 50, maxMs: 500 },
    secret: options.secret,
    linkDevice: options.linkDevice,
  })
  const events: ChatEvent[] = []
  const waiters = new Set<() => void>()
  session.on((event) => {
    events.push(event)
    for (const wake of waiters) wake()
  })
  const connected = session.connect()
  // A device being linked may never be admitted (its code expires): a test that awaits it sees why.
  connected.catch(() => {})
  if (!options.linkDevice) {
    await connected
    if (options.waitForGroup !== false) await session.whenReady()
  }

  return {
    session,
    connected,
    events,
    stores,
    waitFor(type, where = () => true, timeoutMs = 10_000) {
      type E = Extract<ChatEvent, { type: typeof type }>
      const find = () =>
        events.find((event) => event.type === type && where(event as E)) as E | undefined
      const found = find()
      if (found) return Promise.resolve(found)
      const { promise, resolve, reject } = Promise.withResolvers<E>()
      const wake = () => {
        const event = find()
        if (event) {
          waiters.delete(wake)
          clearTimeout(timer)
          resolve(event)
        }
      }
      const timer = setTimeout(() => {
        waiters.delete(wake)
        reject(
          new Error(
            `${name}: no ${type} event within ${timeoutMs} ms; events: ${JSON.stringify(
              events.map((event) => ({ ...event, bytes: undefined })),
            )}`,
          ),
        )
      }, timeoutMs)
      waiters.add(wake)
      return promise
    },
    async [Symbol.asyncDispose]() {
      await session.close()
    },
  }
}
