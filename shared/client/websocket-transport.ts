// The client side of `wss://host:port/ws`: one JSON frame per text message. Runs in browsers and
// in Bun; Bun alone takes TLS options (a private CA) through the second constructor argument.
import type { ConnectTransport } from './transport.ts'
import { deliverServerText } from './transport.ts'

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
      let opened = false
      socket.addEventListener('open', () => {
        opened = true
        resolve({
          sendText(text) {
            if (socket.readyState === WebSocket.OPEN) socket.send(text)
          },
          close() {
            socket.close(1000, 'bye')
          },
        })
      })
      socket.addEventListener('message', (event) => {
        if (typeof event.data === 'string') deliverServerText(events, event.data)
        else events.invalid('the server sent a binary message')
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
