// The client side of the raw TLS port (Bun.connect): 4-byte length-prefixed frames, JSON or
// binary. Bun only; the terminal client uses it.
import type { Socket } from 'bun'
import { SocketWriter } from '../net/socket-writer.ts'
import { wireOfBody } from '../protocol/binary.ts'
import { createFrameDecoder, encodeLengthPrefixed } from '../protocol/framing.ts'
import { MAX_SERVER_FRAME_BYTES } from '../protocol/limits.ts'
import type { ConnectTransport } from './transport.ts'
import { deliverServerFrame } from './transport.ts'

export interface TlsTransportOptions {
  readonly hostname: string
  readonly port: number
  /** PEM of the CAs to trust instead of the system store (the local development CA, a pin). */
  readonly ca?: string | readonly string[]
  /** The name the certificate must carry; defaults to the hostname. */
  readonly serverName?: string
  /** Largest frame accepted from the server; MAX_SERVER_FRAME_BYTES unless given. */
  readonly maxFrameBytes?: number
}

export function tlsTransport(options: TlsTransportOptions): ConnectTransport {
  // Whatever file limit the server was configured with, what it relays fits (with headroom for
  // the sequence number and sender it adds), so a member is never cut off by a message it is sent.
  const maxFrameBytes = options.maxFrameBytes ?? MAX_SERVER_FRAME_BYTES
  return (events) =>
    new Promise((resolve, reject) => {
      const decoder = createFrameDecoder(maxFrameBytes)
      let ready = false
      let closed = false
      let socketRef: Socket | undefined
      // Writes the socket could not take yet wait for `drain`, in order.
      let writer: SocketWriter | undefined

      Bun.connect({
        hostname: options.hostname,
        port: options.port,
        tls: {
          ca: typeof options.ca === 'string' ? options.ca : options.ca && [...options.ca],
          serverName: options.serverName ?? options.hostname,
          rejectUnauthorized: true,
        },
        socket: {
          // Bun drops writes made before the handshake ends, so the link is ready only here.
          handshake(socket, success, authorizationError) {
            if (!success || authorizationError) {
              const why = authorizationError?.message ?? 'TLS handshake failed'
              socket.terminate()
              reject(new Error(`cannot trust ${options.hostname}:${options.port}: ${why}`))
              return
            }
            ready = true
            socketRef = socket
            const link = new SocketWriter(socket)
            writer = link
            resolve({
              send(wire) {
                if (!closed) link.write(encodeLengthPrefixed(wire))
              },
              close() {
                closed = true
                socket.end()
              },
            })
          },
          data(_socket, chunk) {
            const result = decoder.push(chunk)
            for (const body of result.frames) {
              try {
                deliverServerFrame(events, wireOfBody(body))
              } catch {
                events.invalid('the server sent a frame that is not UTF-8')
              }
            }
            if (result.tooLarge) {
              events.invalid(`the server sent a frame of ${result.tooLarge.announced} bytes`)
              socketRef?.terminate()
            }
          },
          drain() {
            writer?.drain()
          },
          close() {
            closed = true
            if (ready) events.closed('connection closed')
            else reject(new Error(`cannot connect to ${options.hostname}:${options.port}`))
          },
          error(_socket, error) {
            if (!ready) reject(error)
          },
        },
      }).catch(reject)
    })
}
