// The WebSocket transport (Bun.serve): one JSON frame per text message, broadcasts through one
// `server.publish`. It must not know what frames mean; the room decides.
import type { Server, ServerWebSocket, WebSocketHandler } from 'bun'
import { decodeClientFrame } from '../../../shared/protocol/codec.ts'
import type { ErrorCode, ErrorFrame, LeaveReason } from '../../../shared/protocol/frames.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import type { BroadcastGroup, Connection } from '../room/ports.ts'
import type { Room, Session } from '../room/room.ts'

export interface WebSocketState {
  readonly id: string
  readonly remoteAddress: string
  session?: Session
  closing: boolean
  closeReason?: LeaveReason
}

type Socket = ServerWebSocket<WebSocketState>

const ROOM_TOPIC = 'room'
/** How often members are checked for a publish backlog past the cap. */
const BACKLOG_SWEEP_MS = 500
let nextId = 0

/** Close codes: 1000 normal, 1001 going away, 1008 policy violation (RFC 6455 §7.4.1). */
function closeCodeFor(code: ErrorCode | undefined): number {
  if (code === undefined) return 1000
  return code === 'going_away' ? 1001 : 1008
}

const BUN_IDLE_CLOSE_REASON = 'WebSocket timed out from inactivity'

/**
 * Why a socket this transport did not close itself went away. Bun closes a silent peer (no pong
 * within `idleTimeout`) and one that broke the protocol (invalid UTF-8, a message over
 * `maxPayloadLength`, a reserved bit) by itself; the handler then sees 1006 with Bun's own
 * reason text, while a peer that vanished gives 1006 with none. Without this, all of them would
 * leave as 'disconnect'.
 */
function leaveReasonFor(code: number, reason: string): LeaveReason {
  if (code !== 1006 || reason === '') return 'disconnect'
  return reason === BUN_IDLE_CLOSE_REASON ? 'timeout' : 'dropped'
}

export interface WebSocketTransport {
  readonly handler: WebSocketHandler<WebSocketState>
  /** The state a new socket starts with; pass it as `data` to `server.upgrade`. */
  initialState(remoteAddress: string): WebSocketState
  attach(server: Server<WebSocketState>): void
  stop(): void
}

export function createWebSocketTransport(room: Room, limits: Limits): WebSocketTransport {
  let server: Server<WebSocketState> | undefined
  const subscribed = new Set<Socket>()
  const sockets = new WeakMap<Connection, Socket>()

  const group: BroadcastGroup = {
    add(connection) {
      const socket = sockets.get(connection)
      if (!socket) return
      socket.subscribe(ROOM_TOPIC)
      subscribed.add(socket)
    },
    remove(connection) {
      const socket = sockets.get(connection)
      if (!socket) return
      subscribed.delete(socket)
      if (!socket.data.closing) socket.unsubscribe(ROOM_TOPIC)
    },
    publish(text) {
      server?.publish(ROOM_TOPIC, text)
    },
  }

  // `publish` cannot say whom it skipped, so members whose backlog passed the cap are found here
  // and dropped; they resume from their last sequence number when they reconnect.
  const sweep = setInterval(() => {
    for (const socket of subscribed) {
      if (socket.getBufferedAmount() > limits.sendQueueBytes) drop(socket)
    }
  }, BACKLOG_SWEEP_MS)
  sweep.unref()

  function drop(socket: Socket): void {
    socket.data.closing = true
    socket.data.closeReason = 'dropped'
    socket.terminate()
  }

  // A class, so each connection costs its fields and not two closures and their scope.
  class WebSocketConnection implements Connection {
    readonly id: string
    readonly transport = 'wss'
    readonly remoteAddress: string
    readonly broadcastGroup = group

    constructor(private readonly socket: Socket) {
      this.id = socket.data.id
      this.remoteAddress = socket.data.remoteAddress
    }

    sendText(text: string): void {
      if (this.socket.data.closing) return
      // 0 means Bun dropped the message: this reader is past the backpressure cap.
      if (this.socket.send(text) === 0) drop(this.socket)
    }

    close(farewell?: ErrorFrame): void {
      const socket = this.socket
      if (socket.data.closing) return
      if (farewell) socket.send(JSON.stringify(farewell))
      socket.data.closing = true
      socket.close(closeCodeFor(farewell?.code), farewell?.code ?? 'bye')
    }
  }

  function createConnection(socket: Socket): Connection {
    const connection = new WebSocketConnection(socket)
    sockets.set(connection, socket)
    return connection
  }

  const handler: WebSocketHandler<WebSocketState> = {
    maxPayloadLength: limits.maxFrameBytes,
    backpressureLimit: limits.sendQueueBytes,
    closeOnBackpressureLimit: false,
    idleTimeout: limits.idleTimeoutSeconds,
    sendPings: true,
    perMessageDeflate: false,
    open(socket) {
      socket.data.session = room.open(createConnection(socket))
    },
    message(socket, message) {
      const session = socket.data.session
      if (!session || socket.data.closing) return
      if (typeof message !== 'string') {
        session.reject('bad_frame', 'frames are JSON in text messages, not binary')
        return
      }
      const decoded = decodeClientFrame(message)
      if (decoded.ok) session.receive(decoded.frame)
      else session.reject(decoded.code, decoded.message)
    },
    close(socket, code, reason) {
      socket.data.closing = true
      subscribed.delete(socket)
      socket.data.session?.closed(socket.data.closeReason ?? leaveReasonFor(code, reason))
    },
  }

  return {
    handler,
    initialState: (remoteAddress) => ({ id: `wss-${++nextId}`, remoteAddress, closing: false }),
    attach(attached) {
      server = attached
    },
    stop() {
      clearInterval(sweep)
    },
  }
}
