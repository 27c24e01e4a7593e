// Writes to raw-TLS members once per event-loop turn, with a capped queue each. Members that kept
// up were handed the same broadcasts in a turn, so their queues hold the same encoded frames: those
// are joined once and the one buffer written to each (at 12,000 messages/s to 32 members, a copy
// per member was ~130 MB/s of garbage). Knows bytes and sockets, not frames' meaning.
import type { WireFrame } from '../../../shared/protocol/codec.ts'
import { encodeLengthPrefixed } from '../../../shared/protocol/framing.ts'

/** What a socket's writes need kept between turns. */
export interface WriteState {
  /** Encoded frames not yet taken by the socket; the first may be a partly written remainder. */
  queue: Uint8Array[]
  queuedBytes: number
  /** Waiting for `drain`: the socket took less than it was given. */
  blocked: boolean
  scheduled: boolean
}

export interface WritableTlsSocket {
  readonly data: WriteState
  write(bytes: Uint8Array): number
}

const NOTHING = new Uint8Array(0)

export class TurnWriter {
  /** Sockets with frames queued this turn: each gets one write when the turn ends. */
  private dirty: WritableTlsSocket[] = []
  private flushScheduled = false
  private joinedParts: readonly Uint8Array[] = []
  private joinedBytes: Uint8Array = NOTHING
  // A broadcast hands the same frame to every member in one go: prefix it once, not per member.
  private lastWire: WireFrame | undefined
  private lastBytes: Uint8Array = NOTHING

  /** Queues a frame; false when the socket's queue passed `capBytes` (a reader too slow). */
  queue(socket: WritableTlsSocket, wire: WireFrame, capBytes: number): boolean {
    const state = socket.data
    const bytes = this.encodeOnce(wire)
    state.queue.push(bytes)
    state.queuedBytes += bytes.length
    if (state.queuedBytes > capBytes) return false
    if (!state.scheduled) {
      state.scheduled = true
      this.dirty.push(socket)
      if (!this.flushScheduled) {
        this.flushScheduled = true
        setImmediate(() => this.flushTurn())
      }
    }
    return true
  }

  /** A last frame before the socket ends: written now, past any block. */
  writeLast(socket: WritableTlsSocket, text: string): void {
    const state = socket.data
    state.queue.push(encodeLengthPrefixed(text))
    state.blocked = false
    this.flush(socket)
  }

  /** The socket can take more. */
  drained(socket: WritableTlsSocket): void {
    socket.data.blocked = false
    this.flush(socket)
  }

  forget(socket: WritableTlsSocket): void {
    const state = socket.data
    state.queue.length = 0
    state.queuedBytes = 0
  }

  private flushTurn(): void {
    this.flushScheduled = false
    const sockets = this.dirty
    this.dirty = []
    for (const socket of sockets) {
      socket.data.scheduled = false
      this.flush(socket)
    }
    this.joinedParts = []
    this.joinedBytes = NOTHING
  }

  private flush(socket: WritableTlsSocket): void {
    const state = socket.data
    if (state.blocked || state.queue.length === 0) return
    const bytes = this.joined(state.queue)
    const written = Math.max(socket.write(bytes), 0)
    // The queue array is kept and emptied, not replaced: a fresh one per member per turn, grown
    // push by push, was a fifth of the garbage these writes made.
    state.queue.length = 0
    if (written < bytes.length) {
      state.queue.push(bytes.subarray(written))
      state.queuedBytes = bytes.length - written
      state.blocked = true
    } else {
      state.queuedBytes = 0
    }
  }

  private joined(parts: Uint8Array[]): Uint8Array {
    if (parts.length === 1) return parts[0] as Uint8Array
    if (!sameParts(parts, this.joinedParts)) {
      // A copy: the queue it came from is emptied once written.
      this.joinedParts = parts.slice()
      this.joinedBytes = concat(parts)
    }
    return this.joinedBytes
  }

  private encodeOnce(wire: WireFrame): Uint8Array {
    if (wire !== this.lastWire) {
      this.lastWire = wire
      this.lastBytes = encodeLengthPrefixed(wire)
    }
    return this.lastBytes
  }
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
