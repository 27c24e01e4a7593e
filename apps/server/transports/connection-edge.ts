// One connection where a transport meets the room: its id, its session, decoding each frame into
// receive-or-reject, and whether (and why) it is closing. Both transports map their socket's
// events onto it and never decide what a frame means.
import { wireOfBody } from '../../../shared/protocol/binary.ts'
import { decodeClientFrame, type WireFrame } from '../../../shared/protocol/codec.ts'
import type { ErrorCode, LeaveReason } from '../../../shared/protocol/frames.ts'
import type { Connection } from '../room/ports.ts'
import type { Room, Session } from '../room/room.ts'
import type { Arrival } from './connection-book.ts'

export class ConnectionEdge {
  private session: Session | undefined
  private closingFor: LeaveReason | undefined
  private closingNow = false
  /** How the connection book took this socket: what it gives back when the socket goes. */
  arrival: Arrival = 'cut'

  constructor(
    readonly id: string,
    readonly remoteAddress: string,
  ) {}

  /** Set once the socket is going: nothing more is read from it or written to it. */
  get closing(): boolean {
    return this.closingNow
  }

  /** The socket is ready for frames: the room takes it. */
  open(room: Room, connection: Connection): void {
    this.session = room.open(connection)
  }

  /** One frame, JSON text or binary: decoded once, here, then received or rejected with a code. */
  frame(wire: WireFrame): void {
    const session = this.session
    if (!session || this.closingNow) return
    const decoded = decodeClientFrame(wire)
    if (decoded.ok) session.receive(decoded.frame, wire.length)
    else session.reject(decoded.code, decoded.message)
  }

  /** One length-prefixed body from the TLS port: a binary frame by its tag, else UTF-8 JSON. */
  body(body: Uint8Array<ArrayBuffer>): void {
    let wire: WireFrame
    try {
      wire = wireOfBody(body)
    } catch {
      this.reject('bad_frame', 'a frame must be UTF-8 JSON or a binary frame')
      return
    }
    this.frame(wire)
  }

  /** A message the transport refuses before decoding (binary, say): counts as an invalid frame. */
  reject(code: ErrorCode, message: string): void {
    if (!this.closingNow) this.session?.reject(code, message)
  }

  /** An error after which nothing more is read: the room says why, then closes. */
  fail(code: ErrorCode, message: string): void {
    if (!this.closingNow) this.session?.fail(code, message)
  }

  /** The transport is ending the socket; with `reason`, that is why the member left. */
  close(reason?: LeaveReason): void {
    this.closingNow = true
    if (reason) this.closingFor = reason
  }

  /** The socket is gone: the room hears why (what this edge recorded, else `fallback`). */
  gone(fallback: LeaveReason): void {
    this.closingNow = true
    this.session?.closed(this.closingFor ?? fallback)
  }
}
