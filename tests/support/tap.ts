// A relay on loopback that passes bytes between clients and a server and keeps every one of them:
// plain TCP (the eavesdropper on the wire) or, holding a certificate the clients trust,
// TLS-terminating with its own TLS link onwards (the eavesdropper who broke TLS, a malicious
// server). Knows nothing of chatbox's frames; relay.ts reads and rewrites them on top of it.

import type { Socket } from 'bun'
import { SocketWriter } from '../../shared/net/socket-writer.ts'

export interface Recorded {
  /** From the clients towards the server, in order. */
  readonly up: Uint8Array[]
  /** From the server towards the clients, as the server sent them (before any rewrite). */
  readonly down: Uint8Array[]
  /** Both directions, interleaved in the order they crossed. */
  readonly both: Uint8Array[]
}

export interface TapOptions {
  /** The server's port on 127.0.0.1. */
  readonly port: number
  /** Terminate TLS with this key and certificate; reach the server over TLS trusting `ca`. */
  readonly tls?: { readonly key: string; readonly cert: string; readonly ca: string }
  /**
   * Made once per client link: turns each chunk from the server into what that client gets.
   * Without it the chunk passes unchanged.
   */
  readonly rewrite?: () => (chunk: Uint8Array) => Uint8Array
}

export interface Tap extends AsyncDisposable {
  readonly port: number
  readonly recorded: Recorded
  /** Writes to every connected client as if the server had. */
  toClients(bytes: Uint8Array): void
  stop(): void
}

interface Writable {
  write(bytes: Uint8Array): number
}

interface Forwarder {
  write(bytes: Uint8Array): void
  /** From here on writes go to `socket`; until then they wait. */
  attach(socket: Writable): void
  drain(): void
}

/** Writes in order, keeping what the socket could not take (or what came before it) until it drains. */
function createForwarder(): Forwarder {
  let socket: Writable | undefined
  // Until the socket is there it takes nothing: what is written waits in the writer.
  const writer = new SocketWriter({ write: (bytes) => socket?.write(bytes) ?? 0 })
  return {
    write(bytes) {
      if (bytes.length > 0) writer.write(bytes)
    },
    attach(attached) {
      socket = attached
      writer.drain()
    },
    drain: () => writer.drain(),
  }
}

interface Link {
  readonly toServer: Forwarder
  readonly toClient: Forwarder
  upstream?: Socket<undefined>
}

export function startTap(options: TapOptions): Tap {
  const recorded: Recorded = { up: [], down: [], both: [] }
  const links = new Set<Socket<Link>>()
  const listener = Bun.listen<Link>({
    hostname: '127.0.0.1',
    port: 0,
    ...(options.tls ? { tls: { key: options.tls.key, cert: options.tls.cert } } : {}),
    socket: {
      open(client) {
        const link: Link = { toServer: createForwarder(), toClient: createForwarder() }
        link.toClient.attach(client)
        client.data = link
        links.add(client)
        const rewrite = options.rewrite?.() ?? ((chunk: Uint8Array) => chunk)
        const upstream = {
          data(_socket: Socket<undefined>, chunk: Buffer) {
            const bytes = new Uint8Array(chunk)
            recorded.down.push(bytes)
            recorded.both.push(bytes)
            link.toClient.write(rewrite(bytes))
          },
          drain: () => link.toServer.drain(),
          close: () => void client.end(),
          error: () => void client.end(),
        }
        const ready = (socket: Socket<undefined>) => {
          link.upstream = socket
          link.toServer.attach(socket)
        }
        const tls = options.tls
        void Bun.connect(
          tls
            ? {
                hostname: '127.0.0.1',
                port: options.port,
                tls: { ca: tls.ca, serverName: 'localhost' },
                // Bun drops writes made before the handshake ends: start forwarding here.
                socket: { ...upstream, handshake: ready },
              }
            : { hostname: '127.0.0.1', port: options.port, socket: { ...upstream, open: ready } },
        ).catch(() => client.end())
      },
      data(client, chunk) {
        const bytes = new Uint8Array(chunk)
        recorded.up.push(bytes)
        recorded.both.push(bytes)
        client.data.toServer.write(bytes)
      },
      drain: (client) => client.data.toClient.drain(),
      close(client) {
        links.delete(client)
        client.data.upstream?.end()
      },
      error: () => {},
    },
  })
  const stop = () => {
    listener.stop(true)
    for (const link of links) link.terminate()
  }
  return {
    port: listener.port,
    recorded,
    toClients(bytes) {
      for (const link of links) link.data.toClient.write(bytes)
    },
    stop,
    async [Symbol.asyncDispose]() {
      stop()
    },
  }
}

/** Chunks as one run of bytes. */
export function joinBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0))
  let offset = 0
  for (const chunk of chunks) {
    out.set(chunk, offset)
    offset += chunk.length
  }
  return out
}
