// The client side of `wss://host:port/ws`: one frame per message, JSON text or binary. Runs in
// browsers and in Bun; Bun alone takes TLS options (a private CA) through the second constructor
// argument.
import type { ConnectTransport } from './transport.ts'
import { deliverServerFrame } from './transport.ts'

export interface WebSocketTransportOptions {
  readonly url: string
  /** Bun only: TLS settings such as `{ ca }` for a server signed by a local CA. */
  readonly tls?: { readonly ca?: string; readonly serverName?: string }
  /** Bun only: extra request headers, such as an Origin. */
  readonly headers?: Readonly<Record<string, string>>
}

export function webSocketTransport(options: WebSocketTransportOptions): ConnectTransport {
  return (events) =>
    new Promise((resolve, reject) => {
      const bunOptions = options.tls || options.headers ? options : undefined
      // The options object is Bun's extension of the constructor; browsers never get one.
      const socket = bunOptions
        ? new WebSocket(options.url, bunOptions as unknown as string[])
        : new WebSocket(options.url)
      // Binary frames (those carrying MLS bytes) arrive whole, not as a Blob to read later.
      socket.binaryType = 'arraybuffer'
      let opened = false
      socket.addEventListener('open', () => {
        opened = true
        resolve({
          send(wire) {
            if (socket.readyState === WebSocket.OPEN) socket.send(wire)
          },
          close() {
            socket.close(1000, 'bye')
          },
        })
      })
      socket.addEventListener('message', (event) => {
        const { data } = event
        if (typeof data === 'string') deliverServerFrame(events, data)
        else if (data instanceof ArrayBuffer) deliverServerFrame(events, new Uint8Array(data))
        else events.invalid('the server sent a message of an unknown kind')
      })
      socket.addEventListener('close', (event) => {
        if (!opened) {
          reject(new Error(`cannot open ${options.url} (close code ${event.code})`))
          return
        }
        events.closed(event.reason || `closed (${event.code})`)
      })
      socket.addEventListener('error', () => {
        if (!opened) reject(new Error(`cannot open ${options.url}`))
      })
    })
}
