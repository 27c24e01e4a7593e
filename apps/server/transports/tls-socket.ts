// The raw TLS transport (Bun.listen): bytes ⇄ length-prefixed frames, a handshake deadline and a
// capped write queue per socket. It must not know what frames mean; the room decides.
import type { Socket, TCPSocketListener } from 'bun'
import { decodeClientFrame } from '../../../shared/protocol/codec.ts'
import type { ErrorFrame, LeaveReason } from '../../../shared/protocol/frames.ts'
import { createFrameDecoder, encodeLengthPrefixed } from '../../../shared/protocol/framing.ts'
import type { Limits } from '../../../shared/protocol/limits.ts'
import type { Connection } from '../room/ports.ts'
import type { Room, Session } from '../room/room.ts'
import { TLS_1_3, type TlsFiles } from './tls-options.ts'

interface SocketState {
  readonly id: string
  decoder: ReturnType<typeof createFrameDecoder>
  session?: Session
  /** Encoded frames not yet taken by the socket; the first may be a partly written remainder. */
  queue: Uint8Array[]
  queuedBytes: number
  /** Waiting for `drain`: the socket took less than it was given. */
  blocked: boolean
  scheduled: boolean
  closing: boolean
  closeReason?: LeaveReason
}

type TlsSocket = Socket<SocketState>

export interface TlsTransportOptions {
  readonly room: Room
  readonly limits: Limits
  readonly hostname: string
  readonly port: number
  readonly tls: TlsFiles
}

const utf8 = new TextDecoder('utf-8', { fatal: true })
const NOTHING = new Uint8Array(0)
let nextId = 0

export function listenTlsSocket(options: TlsTransportOptions): TCPSocketListener<SocketState> {
  const { room, limits } = options
  // Sockets with frames queued this event-loop turn: each gets one write when the turn ends.
  let dirty: TlsSocket[] = []
  let flushScheduled = false

  // Members that kept up were handed the same broadcasts this turn, so their queues hold the same
  // encoded frames: join those once and write the one buffer to each, rather than building a
  // copy per member (at 12,000 messages/s to 32 raw-TLS members that was ~130 MB/s of garbage).
  let joinedParts: readonly Uint8Array[] = []
  let joinedBytes: Uint8Array = NOTHING

  function flushDirty(): void {
    flushScheduled = false
    const sockets = dirty
    dirty = []
    for (const socket of sockets) {
      socket.data.scheduled = false
      flush(socket)
    }
    joinedParts = []
    joinedBytes = NOTHING
  }

  function joined(parts: Uint8Array[]): Uint8Array {
    if (parts.length === 1) return parts[0] as Uint8Array
    if (!sameParts(parts, joinedParts)) {
      joinedParts = parts
      joinedBytes = concat(parts)
    }
    return joinedBytes
  }

  function flush(socket: TlsSocket): void {
    const state = socket.data
    if (state.blocked || state.queue.length === 0) return
    const bytes = joined(state.queue)
    const written = socket.write(bytes)
    if (written < bytes.length) {
      state.queue = [bytes.subarray(Math.max(written, 0))]
      state.queuedBytes = bytes.length - Math.max(written, 0)
      state.blocked = true
    } else {
      state.queue = []
      state.queuedBytes = 0
    }
  }

  // A broadcast hands the same string to every member's connection in one go: encode it once, not
  // once per member (a thousand members otherwise make ~200 MB of short-lived copies for 500
  // messages). The bytes are shared and never written to, so queues may hold them safely.
  let lastText: string | undefined
  let lastBytes: Uint8Array = new Uint8Array(0)
  function encodeOnce(text: string): Uint8Array {
    if (text !== lastText) {
      lastText = text
      lastBytes = encodeLengthPrefixed(text)
    }
    return lastBytes
  }

  function createConnection(socket: TlsSocket): Connection {
    const state = socket.data
    return {
      id: state.id,
      transport: 'tls',
      remoteAddress: socket.remoteAddress,
      sendText(text) {
        if (state.closing) return
        const bytes = encodeOnce(text)
        state.queue.push(bytes)
        state.queuedBytes += bytes.length
        if (state.queuedBytes > limits.sendQueueBytes) {
          // A reader this far behind would hold the server's memory hostage; it can resume.
          drop(socket, 'dropped')
          return
        }
        if (!state.scheduled) {
          state.scheduled = true
          dirty.push(socket)
          if (!flushScheduled) {
            flushScheduled = true
            setImmediate(flushDirty)
          }
        }
      },
      close(farewell?: ErrorFrame) {
        if (state.closing) return
        if (farewell) {
          state.queue.push(encodeLengthPrefixed(JSON.stringify(farewell)))
          state.blocked = false
          flush(socket)
        }
        state.closing = true
        socket.end()
      },
    }
  }

  function drop(socket: TlsSocket, reason: LeaveReason): void {
    const state = socket.data
    state.closing = true
    state.queue = []
    state.queuedBytes = 0
    state.closeReason = reason
    socket.terminate()
  }

  function onFrame(state: SocketState, body: Uint8Array): void {
    const session = state.session as Session
    let text: string
    try {
      text = utf8.decode(body)
    } catch {
      session.reject('bad_frame', 'a frame must be UTF-8 JSON')
      return
    }
    const decoded = decodeClientFrame(text)
    if (decoded.ok) session.receive(decoded.frame)
    else session.reject(decoded.code, decoded.message)
  }

  return Bun.listen<SocketState>({
    hostname: options.hostname,
    port: options.port,
    tls: { ...options.tls, ...TLS_1_3 },
    socket: {
      open(socket) {
        socket.data = {
          id: `tls-${++nextId}`,
          decoder: createFrameDecoder(limits.maxFrameBytes),
          queue: [],
          queuedBytes: 0,
          blocked: false,
          scheduled: false,
          closing: false,
        }
        // Without this deadline a client that never finishes its handshake holds a socket forever.
        socket.timeout(limits.handshakeTimeoutSeconds)
      },
      handshake(socket, success) {
        if (!success) {
          socket.terminate()
          return
        }
        socket.timeout(limits.idleTimeoutSeconds)
        socket.data.session = room.open(createConnection(socket))
      },
      data(socket, chunk) {
        const state = socket.data
        if (!state.session || state.closing) return
        // Bun's socket timeout is a deadline (counted in 4 s ticks), not an idle timer: data does
        // not push it back, so a member pinging every 25 s was still cut off after 75 s. Re-arm
        // it on every chunk the peer sends.
        socket.timeout(limits.idleTimeoutSeconds)
        const result = state.decoder.push(chunk)
        for (const body of result.frames) {
          if (state.closing) return
          onFrame(state, body)
        }
        if (result.tooLarge) {
          state.session.fail(
            'frame_too_large',
            `a frame of ${result.tooLarge.announced} bytes exceeds the limit of ${result.tooLarge.limit}`,
          )
        }
      },
      drain(socket) {
        socket.data.blocked = false
        flush(socket)
      },
      timeout(socket) {
        socket.data.closeReason = 'timeout'
        socket.terminate()
      },
      close(socket) {
        const state = socket.data
        state.closing = true
        state.session?.closed(state.closeReason ?? 'disconnect')
      },
      error() {
        // A broken peer (bad TLS, reset) ends in `close` as well; nothing else to do here.
      },
    },
  })
}

/** The same frames in the same order: the shared encodings, compared by identity. */
function sameParts(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false
  return true
}

function concat(parts: Uint8Array[]): Uint8Array {
  let length = 0
  for (const part of parts) length += part.length
  const out = new Uint8Array(length)
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}
