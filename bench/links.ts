// The bench's client links: the engine's two wire formats (WebSocket, length-prefixed raw TLS) with
// a tap that sees each frame's bytes before anything decodes them. Bench traffic is counted there
// from a fixed header, so a receiver pays no UTF-8 decode, JSON parse or schema check per delivery
// that the reference's receivers would not pay; every other frame goes on to the engine as usual.

import type { Socket } from 'bun'
import type {
  ClientTransport,
  ConnectTransport,
  TransportEvents,
} from '../shared/client/transport.ts'
import { deliverServerFrame } from '../shared/client/transport.ts'
import { SocketWriter } from '../shared/net/socket-writer.ts'
import { type WireFrame, wireOfBody } from '../shared/protocol/binary.ts'
import { encodeLengthPrefixed, LENGTH_PREFIX_BYTES } from '../shared/protocol/framing.ts'
import { createLimits } from '../shared/protocol/limits.ts'
import { openRawWebSocket } from './raw-websocket.ts'

/** Sees a frame's bytes[start, end) first (valid only during the call); true when it took it. */
export type Tap = (bytes: Buffer, start: number, end: number) => boolean

export interface LinkEndpoint {
  readonly host: string
  readonly webPort: number
  /** `/ws` for the product, `/` for the reference. */
  readonly path: string
  readonly termPort: number
  readonly ca: string
}

export interface TappedLink {
  /** What the engine connects through (or the bench itself, for members without an engine). */
  readonly connect: ConnectTransport
  /** The open link, for frames the bench writes itself. */
  current(): ClientTransport | undefined
  /**
   * Cuts the engine off while the connection stays: it hears nothing more, and what it sends or
   * closes goes nowhere. A member that has joined the group needs its engine no longer (the bench
   * writes its frames), and a load client holding 64 engines' MLS state (~40 MB of heap) pauses
   * for garbage collection long enough to blur a 10 ms p99.
   */
  detach(): void
}

/** The certificates gen-certs makes name localhost (and 127.0.0.1); the engine checks the same. */
const SERVER_NAME = 'localhost'

export function tappedLink(
  endpoint: LinkEndpoint,
  transport: 'wss' | 'tls',
  tap: Tap,
  onClose: () => void,
): TappedLink {
  let link: ClientTransport | undefined
  /** The engine's side; dropped on `detach`, so nothing here keeps the engine's memory alive. */
  let engine: TransportEvents | undefined
  const open = transport === 'wss' ? openWebSocket : openTls
  // Once detached, every frame is taken here and none is decoded for an engine that is gone.
  const guarded: Tap = (bytes, start, end) => tap(bytes, start, end) || engine === undefined
  const relay: TransportEvents = {
    frame: (frame) => engine?.frame(frame),
    invalid: (message) => engine?.invalid(message),
    closed(reason) {
      link = undefined
      onClose()
      engine?.closed(reason)
    },
  }
  return {
    connect: async (events) => {
      engine = events
      const opened = await open(endpoint, guarded, relay)
      link = opened
      return {
        send(wire) {
          if (engine) opened.send(wire)
        },
        close() {
          if (engine) opened.close()
        },
      }
    },
    current: () => link,
    detach() {
      engine = undefined
    },
  }
}

function deliver(events: TransportEvents, payload: Uint8Array): void {
  let wire: WireFrame
  try {
    // Copied: the bytes are only valid during the call.
    wire = wireOfBody(new Uint8Array(payload))
  } catch {
    events.invalid('the server sent a frame that is neither UTF-8 JSON nor a binary frame')
    return
  }
  deliverServerFrame(events, wire)
}

function openWebSocket(
  endpoint: LinkEndpoint,
  tap: Tap,
  events: TransportEvents,
): Promise<ClientTransport> {
  return openRawWebSocket(
    {
      host: endpoint.host,
      port: endpoint.webPort,
      path: endpoint.path,
      ca: endpoint.ca,
      serverName: SERVER_NAME,
    },
    {
      message(bytes, start, end) {
        if (!tap(bytes, start, end)) deliver(events, bytes.subarray(start, end))
      },
      closed: (reason) => events.closed(reason),
    },
  )
}

function openTls(
  endpoint: LinkEndpoint,
  tap: Tap,
  events: TransportEvents,
): Promise<ClientTransport> {
  return new Promise((resolve, reject) => {
    const maxFrameBytes = createLimits().maxFrameBytes
    let ready = false
    let closed = false
    /** Writes the socket could not take yet wait for `drain`, in order. */
    let writer: SocketWriter | undefined
    /** An unfinished frame's bytes, copied out of the chunk it came in. */
    let pending: Buffer | undefined

    function write(socket: Socket, bytes: Uint8Array): void {
      writer ??= new SocketWriter(socket)
      writer.write(bytes)
    }

    // Length-prefixed frames read in place, as framing.ts's decoder would but without copying
    // each body out: a receiver takes tens of thousands of them a second.
    function frames(socket: Socket, bytes: Buffer): void {
      let at = 0
      while (bytes.length - at >= LENGTH_PREFIX_BYTES) {
        const length = bytes.readUInt32BE(at)
        if (length > maxFrameBytes) {
          socket.terminate()
          return
        }
        const start = at + LENGTH_PREFIX_BYTES
        const end = start + length
        if (end > bytes.length) break
        at = end
        if (!tap(bytes, start, end)) deliver(events, bytes.subarray(start, end))
      }
      pending = at < bytes.length ? Buffer.from(bytes.subarray(at)) : undefined
    }

    Bun.connect({
      hostname: endpoint.host,
      port: endpoint.termPort,
      tls: { ca: endpoint.ca, serverName: SERVER_NAME, rejectUnauthorized: true },
      socket: {
        // Bun drops writes made before the handshake ends (DESIGN.md), so the link starts here.
        handshake(socket, success, authorizationError) {
          if (!success || authorizationError) {
            socket.terminate()
            reject(new Error(`TLS handshake failed: ${authorizationError?.message ?? 'unknown'}`))
            return
          }
          ready = true
          resolve({
            send(wire) {
              if (!closed) write(socket, encodeLengthPrefixed(wire))
            },
            close() {
              closed = true
              socket.end()
            },
          })
        },
        data(socket, chunk) {
          frames(socket, pending ? Buffer.concat([pending, chunk]) : chunk)
        },
        drain() {
          writer?.drain()
        },
        close() {
          closed = true
          if (ready) events.closed('connection closed')
          else reject(new Error(`cannot connect to ${endpoint.host}:${endpoint.termPort}`))
        },
        error(_socket, error) {
          if (!ready) reject(error)
        },
      },
    }).catch(reject)
  })
}
