// Writes bytes to a socket in order without ever splitting what the caller sent out of order:
// what the socket cannot take now waits for its `drain`. Over any socket whose write() says how
// much it took (Bun's TCP and TLS sockets); knows nothing of frames or protocols.

/** A socket as the writer needs it: write() returns the bytes taken, negative once closed. */
export interface WritableSocket {
  write(bytes: Uint8Array): number
}

export class SocketWriter {
  private backlog: Uint8Array[] = []
  private waiting = 0

  constructor(private readonly socket: WritableSocket) {}

  /** True while earlier bytes still wait for `drain`. */
  get backlogged(): boolean {
    return this.backlog.length > 0
  }

  /** Bytes waiting for `drain`. */
  get queuedBytes(): number {
    return this.waiting
  }

  write(bytes: Uint8Array): void {
    if (this.backlog.length > 0) {
      this.queue(bytes)
      return
    }
    const written = this.socket.write(bytes)
    if (written < bytes.length) this.queue(bytes.subarray(Math.max(written, 0)))
  }

  /** The socket can take more: what waits goes out, in order, until it is full again. */
  drain(): void {
    while (this.backlog.length > 0) {
      const next = this.backlog[0] as Uint8Array
      const written = Math.max(this.socket.write(next), 0)
      this.waiting -= written
      if (written < next.length) {
        this.backlog[0] = next.subarray(written)
        return
      }
      this.backlog.shift()
    }
  }

  private queue(bytes: Uint8Array): void {
    this.backlog.push(bytes)
    this.waiting += bytes.length
  }
}
