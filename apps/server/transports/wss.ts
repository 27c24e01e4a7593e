// The WebSocket transport (Bun.serve): maps Bun's callbacks onto connection edges, one frame per
// message (JSON text, or binary for the frames carrying MLS bytes), broadcasts through one
// `server.publish`, connections per address counted with the TLS port's. What frames mean is the
// room's.
import type { Server, ServerWebSocket, WebSocketHandler } from 'bun'
import type { WireFrame } from '../../../shared/protocol/codec.ts'
import type { ErrorCode, ErrorFrame, LeaveReason } from '../../../shared/protocol/frames.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import type { TrafficMeter } from '../observe/server-metrics.ts'
import type { BroadcastGroup, Connection } from '../room/ports.ts'
import type { Room } from '../room/room.ts'
import type { ConnectionBook } from './connection-book.ts'
import { ConnectionEdge } from './connection-edge.ts'

/** A WebSocket's own data is its edge: one object per connection, not two. */
export type WebSocketState = ConnectionEdge

type Socket = ServerWebSocket<WebSocketState>

const ROOM_TOPIC = 'room'
/** How often members are checked for a publish backlog past the cap. */
const BACKLOG_SWEEP_MS = 500
const BUN_IDLE_CLOSE_REASON = 'WebSocket timed out from inactivity'
const BUN_TOO_BIG_CLOSE_REASON = 'Received too big message'
let nextId = 0

/** Close codes: 1000 normal, 1001 going away, 1008 policy violation (RFC 6455 §7.4.1). */
export function closeCodeFor(code: ErrorCode | undefined): number {
  if (code === undefined) return 1000
  return code === 'going_away' ? 1001 : 1008
}

/**
 * Why a socket this transport did not close itself went away. Bun closes a silent peer (no pong
 * within `idleTimeout`) and one that broke the protocol (invalid UTF-8, a message over
 * `maxPayloadLength`, a reserved bit) by itself; the handler then sees 1006 with Bun's own
 * reason text, while a peer that vanished gives 1006 with none.
 */
export function leaveReasonFor(code: number, reason: string): LeaveReason {
  if (code !== 1006 || reason === '') return 'disconnect'
  return reason === BUN_IDLE_CLOSE_REASON ? 'timeout' : 'dropped'
}

export class WebSocketTransport {
  readonly handler: WebSocketHandler<WebSocketState>
  private server: Server<WebSocketState> | undefined
  private readonly subscribed = new Set<Socket>()
  /** The socket behind each connection the room holds, for the broadcast group. */
  private readonly sockets = new WeakMap<Connection, Socket>()
  private readonly sweep: ReturnType<typeof setInterval>

  constructor(room: Room, limits: Limits, connections: ConnectionBook, traffic: TrafficMeter) {
    const group: BroadcastGroup = {
      add: (connection) => {
        const socket = this.sockets.get(connection)
        socket?.subscribe(ROOM_TOPIC)
        if (socket) this.subscribed.add(socket)
      },
      remove: (connection) => {
        const socket = this.sockets.get(connection)
        if (!socket) return
        this.subscribed.delete(socket)
        if (!socket.data.closing) socket.unsubscribe(ROOM_TOPIC)
      },
      publish: (wire) => {
        const readers = this.subscribed.size
        traffic.sent('wss', readers, readers * wire.length)
        this.server?.publish(ROOM_TOPIC, wire)
      },
    }
    // `publish` cannot say whom it skipped, so members whose backlog passed the cap are found here
    // and dropped; they resume from their last sequence number when they reconnect.
    this.sweep = setInterval(() => {
      for (const socket of this.subscribed) {
        if (socket.getBufferedAmount() > limits.sendQueueBytes) drop(socket)
      }
    }, BACKLOG_SWEEP_MS)
    this.sweep.unref()
    this.handler = {
      maxPayloadLength: limits.maxFrameBytes,
      backpressureLimit: limits.sendQueueBytes,
      closeOnBackpressureLimit: false,
      idleTimeout: limits.idleTimeoutSeconds,
      sendPings: true,
      perMessageDeflate: false,
      open: (socket) => {
        const edge = socket.data
        edge.arrival = connections.arrive(edge.remoteAddress)
        if (edge.arrival !== 'admit') {
          refuse(socket, connections.refusal)
          return
        }
        const connection = new WebSocketConnection(socket, group, traffic)
        this.sockets.set(connection, socket)
        socket.data.open(room, connection)
      },
      message(socket, message) {
        // Text messages are JSON frames, binary ones the frames that carry MLS bytes.
        socket.data.frame(message)
      },
      close: (socket, code, reason) => {
        connections.leave(socket.data.remoteAddress, socket.data.arrival)
        this.subscribed.delete(socket)
        // Bun closed it over a message past maxPayloadLength: refused, as on the TLS port.
        if (reason === BUN_TOO_BIG_CLOSE_REASON) {
          socket.data.fail('frame_too_large', `a message over ${limits.maxFrameBytes} bytes`)
        }
        socket.data.gone(leaveReasonFor(code, reason))
      },
    }
  }

  /** The state a new socket starts with; pass it as `data` to `server.upgrade`. */
  initialState(remoteAddress: string): WebSocketState {
    return new ConnectionEdge(`wss-${++nextId}`, remoteAddress)
  }

  attach(server: Server<WebSocketState>): void {
    this.server = server
  }

  stop(): void {
    clearInterval(this.sweep)
  }
}

/** Over the address's cap: told so and closed; cut without a word when a flood is past twice it. */
function refuse(socket: Socket, refusal: ErrorFrame): void {
  socket.data.close()
  if (socket.data.arrival === 'cut') {
    socket.terminate()
    return
  }
  socket.send(JSON.stringify(refusal))
  socket.close(closeCodeFor(refusal.code), refusal.code)
}

/** A reader past the backpressure cap: dropped, to resume from its last sequence number. */
function drop(socket: Socket): void {
  socket.data.close('dropped')
  socket.terminate()
}

// A class, so each connection costs its fields and not closures and their scope.
class WebSocketConnection implements Connection {
  readonly id: string
  readonly transport = 'wss'
  readonly remoteAddress: string

  constructor(
    private readonly socket: Socket,
    readonly broadcastGroup: BroadcastGroup,
    private readonly traffic: TrafficMeter,
  ) {
    this.id = socket.data.id
    this.remoteAddress = socket.data.remoteAddress
  }

  send(wire: WireFrame): void {
    if (this.socket.data.closing) return
    // 0 means Bun dropped the message: this reader is past the backpressure cap.
    if (this.socket.send(wire) === 0) drop(this.socket)
    else this.traffic.sent('wss', 1, wire.length)
  }

  bufferedBytes(): number {
    return this.socket.getBufferedAmount()
  }

  close(farewell?: ErrorFrame): void {
    const { socket } = this
    if (socket.data.closing) return
    if (farewell) socket.send(JSON.stringify(farewell))
    socket.data.close()
    socket.close(closeCodeFor(farewell?.code), farewell?.code ?? 'bye')
  }
}
