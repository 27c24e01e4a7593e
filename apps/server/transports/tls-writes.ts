// Writes to raw-TLS members once per event-loop turn, with a capped queue each. Members that kept
// up were handed the same broadcasts in a turn, so their queues hold the same frames: those are
// framed and joined once and the one buffer written to each (at 12,000 messages/s to 32 members,
// a copy per member was ~130 MB/s of garbage). Frames are queued as they are and get their length
// prefixes as they are joined: a prefixed copy of each was another ~470 bytes of garbage a
// message. Knows bytes and sockets, not frames' meaning.
import type { WireFrame } from '../../../shared/protocol/codec.ts'
import { LENGTH_PREFIX_BYTES, writeLengthPrefix } from '../../../shared/protocol/framing.ts'

/** What a socket's writes need kept between turns. */
export interface WriteState {
  /** Frames queued since the last write, as bytes, not yet length-prefixed. */
  queue: Uint8Array[]
  /** Bytes on the wire the socket has not taken: what `unsent` holds and what `queue` will be. */
  queuedBytes: number
  /** Written bytes (prefixes and all) the socket did not take; they go out first. */
  unsent?: Uint8Array
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
  // A broadcast of JSON hands the same text to every member in one go: encode it once.
  private lastText: string | undefined
  private lastTextBytes: Uint8Array = NOTHING

  /** Queues a frame; false when the socket's queue passed `capBytes` (a reader too slow). */
  queue(socket: WritableTlsSocket, wire: WireFrame, capBytes: number): boolean {
    const state = socket.data
    this.enqueue(state, wire)
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
    this.enqueue(state, text)
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
    state.unsent = undefined
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
    if (state.blocked || (state.queue.length === 0 && !state.unsent)) return
    const bytes = state.unsent ? framed(state.queue, state.unsent) : this.joined(state.queue)
    const written = Math.max(socket.write(bytes), 0)
    // The queue array is kept and emptied, not replaced: a fresh one per member per turn, grown
    // push by push, was a fifth of the garbage these writes made.
    state.queue.length = 0
    if (written < bytes.length) {
      state.unsent = bytes.subarray(written)
      state.queuedBytes = bytes.length - written
      state.blocked = true
    } else {
      state.unsent = undefined
      state.queuedBytes = 0
    }
  }

  /** The frames on the wire; the same frames as the last socket's are framed only once. */
  private joined(parts: Uint8Array[]): Uint8Array {
    if (!sameParts(parts, this.joinedParts)) {
      // A copy: the queue it came from is emptied once written.
      this.joinedParts = parts.slice()
      this.joinedBytes = framed(parts)
    }
    return this.joinedBytes
  }

  private enqueue(state: WriteState, wire: WireFrame): void {
    const bytes = this.bytesOf(wire)
    state.queue.push(bytes)
    state.queuedBytes += LENGTH_PREFIX_BYTES + bytes.length
  }

  private bytesOf(wire: WireFrame): Uint8Array {
    if (typeof wire !== 'string') return wire
    if (wire !== this.lastText) {
      this.lastText = wire
      this.lastTextBytes = utf8.encode(wire)
    }
    return this.lastTextBytes
  }
}

const utf8 = new TextEncoder()

/** The same frames in the same order: the shared encodings, compared by identity. */
function sameParts(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  if (a.length !== b.length) return false
  for (let index = 0; index < a.length; index++) if (a[index] !== b[index]) return false
  return true
}

/** `frames`, each behind its length, after `unsent` bytes (already on the wire's terms). */
function framed(frames: readonly Uint8Array[], unsent: Uint8Array = NOTHING): Uint8Array {
  let length = unsent.length
  for (const frame of frames) length += LENGTH_PREFIX_BYTES + frame.length
  const out = new Uint8Array(length)
  out.set(unsent, 0)
  let offset = unsent.length
  for (const frame of frames) {
    writeLengthPrefix(out, offset, frame.length)
    out.set(frame, offset + LENGTH_PREFIX_BYTES)
    offset += LENGTH_PREFIX_BYTES + frame.length
  }
  return out
}
