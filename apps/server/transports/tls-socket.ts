// The raw TLS transport (Bun.listen): maps Bun's callbacks onto connection edges, bytes ⇄
// length-prefixed frames, with a handshake deadline, a cap on connections per address, a short
// grace for closing, and per-turn capped writes (tls-writes.ts). What frames mean is the room's.
import type { Socket, TCPSocketListener } from 'bun'
import type { WireFrame } from '../../../shared/protocol/codec.ts'
import type { ErrorFrame } from '../../../shared/protocol/frames.ts'
import { createFrameDecoder } from '../../../shared/protocol/framing.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import type { TrafficMeter } from '../observe/server-metrics.ts'
import type { BroadcastGroup, Connection } from '../room/ports.ts'
import type { Room } from '../room/room.ts'
import type { ConnectionBook } from './connection-book.ts'
import { ConnectionEdge } from './connection-edge.ts'
import { TLS_1_3, type TlsFiles } from './tls-options.ts'
import { TurnWriter, type WriteState } from './tls-writes.ts'

let nextId = 0

/**
 * How long a socket the server closes waits for the peer to close its side before it is cut.
 * Bun's `end()` held it ~12 s for a peer that never closed (a client that never joined kept its
 * socket 12 s past the auth deadline), `close()` held it while the peer did not read, and after
 * either `terminate()` does nothing. `shutdown()` sends the FIN and leaves the socket cuttable.
 */
const CLOSE_GRACE_MS = 1000

/** A socket's own data: its edge, with its frame decoder and write queue inline (one object). */
class TlsEdge extends ConnectionEdge implements WriteState {
  queue: Uint8Array[] = []
  queuedBytes = 0
  blocked = false
  scheduled = false
  /** Set once ended: cuts the socket if the peer has not closed within the grace. */
  lingering: ReturnType<typeof setTimeout> | undefined

  constructor(
    remoteAddress: string,
    readonly decoder: ReturnType<typeof createFrameDecoder>,
  ) {
    super(`tls-${++nextId}`, remoteAddress)
  }
}

type TlsSocket = Socket<TlsEdge>

export interface TlsTransportOptions {
  readonly room: Room
  readonly limits: Limits
  readonly hostname: string
  readonly port: number
  readonly tls: TlsFiles
  /** Open connections per address, shared with the web port. */
  readonly connections: ConnectionBook
  /** Counts the frames written, for the operator's metrics. */
  readonly traffic: TrafficMeter
}

function cut(socket: TlsSocket): void {
  socket.terminate()
}

export function listenTlsSocket(options: TlsTransportOptions): TCPSocketListener<TlsEdge> {
  const { room, limits, connections, traffic } = options
  const writer = new TurnWriter()

  /** A reader this far behind would hold the server's memory hostage; it can resume. */
  function drop(socket: TlsSocket): void {
    socket.data.close('dropped')
    writer.forget(socket)
    socket.terminate()
  }

  /** A last frame, then the FIN; the peer has the grace to close its side before it is cut. */
  function end(socket: TlsSocket, farewell?: ErrorFrame): void {
    const edge = socket.data
    if (farewell) writer.writeLast(socket, JSON.stringify(farewell))
    edge.close()
    socket.shutdown()
    edge.lingering = setTimeout(cut, CLOSE_GRACE_MS, socket)
  }

  // Members' sockets, for broadcasts: one call queues a frame for all of them, as one
  // `server.publish` does for WebSockets, not one `send` per member through its connection.
  const listening = new Set<TlsSocket>()
  const socketOf = new WeakMap<Connection, TlsSocket>()
  const group: BroadcastGroup = {
    add(connection) {
      const socket = socketOf.get(connection)
      if (socket) listening.add(socket)
    },
    remove(connection) {
      const socket = socketOf.get(connection)
      if (socket) listening.delete(socket)
    },
    publish(wire) {
      let queued = 0
      for (const socket of listening) if (queueTo(socket, wire)) queued += 1
      traffic.sent('tls', queued, queued * wire.length)
    },
  }

  /** Queued for the turn's write; a reader past its cap is dropped (it can resume) instead. */
  function queueTo(socket: TlsSocket, wire: WireFrame): boolean {
    if (socket.data.closing) return false
    if (writer.queue(socket, wire, limits.sendQueueBytes)) return true
    drop(socket)
    return false
  }

  function connectionOf(socket: TlsSocket): Connection {
    const edge = socket.data
    const connection: Connection = {
      id: edge.id,
      transport: 'tls',
      remoteAddress: socket.remoteAddress,
      broadcastGroup: group,
      send(wire) {
        if (queueTo(socket, wire)) traffic.sent('tls', 1, wire.length)
      },
      bufferedBytes: () => edge.queuedBytes,
      close(farewell?: ErrorFrame) {
        if (!edge.closing) end(socket, farewell)
      },
    }
    socketOf.set(connection, socket)
    return connection
  }

  return Bun.listen<TlsEdge>({
    hostname: options.hostname,
    port: options.port,
    tls: { ...options.tls, ...TLS_1_3 },
    socket: {
      open(socket) {
        const edge = new TlsEdge(socket.remoteAddress, createFrameDecoder(limits.maxFrameBytes))
        socket.data = edge
        edge.arrival = connections.arrive(edge.remoteAddress)
        if (edge.arrival === 'cut') {
          socket.terminate()
          return
        }
        // Without this deadline a client that never finishes its handshake holds a socket forever.
        socket.timeout(limits.handshakeTimeoutSeconds)
      },
      handshake(socket, success) {
        if (!success) {
          socket.terminate()
          return
        }
        // Told only now: before the handshake there is no way to tell it anything.
        if (socket.data.arrival === 'refuse') {
          end(socket, connections.refusal)
          return
        }
        socket.timeout(limits.idleTimeoutSeconds)
        socket.data.open(room, connectionOf(socket))
      },
      data(socket, chunk) {
        const edge = socket.data
        const { decoder } = edge
        if (edge.closing) return
        // Bun's socket timeout is a deadline (counted in 4 s ticks), not an idle timer: data does
        // not push it back, so a member pinging every 25 s was still cut off after 75 s. Re-arm
        // it on every chunk the peer sends.
        socket.timeout(limits.idleTimeoutSeconds)
        const result = decoder.push(chunk)
        for (const body of result.frames) {
          if (edge.closing) return
          edge.body(body)
        }
        if (result.tooLarge) {
          const { announced, limit } = result.tooLarge
          edge.fail(
            'frame_too_large',
            `a frame of ${announced} bytes exceeds the limit of ${limit}`,
          )
        }
      },
      drain: (socket) => writer.drained(socket),
      timeout(socket) {
        socket.data.close('timeout')
        socket.terminate()
      },
      close(socket) {
        const edge = socket.data
        listening.delete(socket)
        clearTimeout(edge.lingering)
        connections.leave(edge.remoteAddress, edge.arrival)
        edge.gone('disconnect')
      },
      error() {
        // A broken peer (bad TLS, reset) ends in `close` as well; nothing else to do here.
      },
    },
  })
}
