// The client's link to the server, as an interface with a WebSocket and a raw-TLS implementation;
// the engine above it never knows which one it has.
import { decodeServerFrame, type WireFrame } from '../protocol/codec.ts'
import type { ServerFrame } from '../protocol/frames.ts'

export interface TransportEvents {
  frame(frame: ServerFrame): void
  /** A frame from the server that is not valid protocol; the link stays up. */
  invalid(message: string): void
  /** The link is gone; `reason` says how, for the status line. */
  closed(reason: string): void
}

export interface ClientTransport {
  /** Queues one encoded frame (see `encodeFrame`). */
  send(wire: WireFrame): void
  close(): void
}

/** Opens a link; resolves once frames can be sent, rejects when it cannot be opened. */
export type ConnectTransport = (events: TransportEvents) => Promise<ClientTransport>

/** Decodes a frame from the server and hands it to the right event. */
export function deliverServerFrame(events: TransportEvents, wire: WireFrame): void {
  const decoded = decodeServerFrame(wire)
  if (decoded.ok) events.frame(decoded.frame)
  else events.invalid(decoded.message)
}
