// A raw client of the TLS port (Bun.connect) shaped like the harness's TestClient, so `join` works
// on it, with the socket in reach: batched writes, a half-close, silence on demand.
import type { Socket } from 'bun'
import { SocketWriter } from '../../shared/net/socket-writer.ts'
import { wireOfBody } from '../../shared/protocol/binary.ts'
import { decodeServerFrame, encodeFrame } from '../../shared/protocol/codec.ts'
import { createFrameDecoder, encodeLengthPrefixed } from '../../shared/protocol/framing.ts'
import { Inbox, type TestClient } from './harness.ts'

export interface RawTlsClient extends TestClient {
  readonly socket: Socket
  /** Writes bytes as they are; what the socket cannot take now goes out on `drain`, in order. */
  write(bytes: Uint8Array): void
  /** True while earlier bytes still wait for `drain`. */
  readonly backlogged: boolean
}

export async function connectRawTls(options: {
  readonly port: number
  readonly ca: string
}): Promise<RawTlsClient> {
  const inbox = new Inbox()
  const decoder = createFrameDecoder(1 << 24)
  const closed = Promise.withResolvers<string>()
  const connected = Promise.withResolvers<Socket>()
  let writer: SocketWriter | undefined

  await Bun.connect({
    hostname: '127.0.0.1',
    port: options.port,
    tls: { ca: options.ca, serverName: 'localhost' },
    socket: {
      // Bun drops writes made before the TLS handshake ends: the link is usable only from here.
      handshake(socket, success) {
        if (success) connected.resolve(socket)
        else socket.terminate()
      },
      data(_socket, chunk) {
        for (const body of decoder.push(chunk).frames) {
          const wire = wireOfBody(body)
          const decoded = decodeServerFrame(wire)
          if (decoded.ok) inbox.push(decoded.frame)
          else inbox.invalid.push(typeof wire === 'string' ? wire : decoded.message)
        }
      },
      drain() {
        writer?.drain()
      },
      close() {
        connected.reject(new Error('the TLS handshake did not complete'))
        closed.resolve('connection closed')
      },
      error() {},
    },
  })
  const socket = await connected.promise
  const link = new SocketWriter(socket)
  writer = link

  return {
    socket,
    inbox,
    closed: closed.promise,
    get backlogged() {
      return link.backlogged
    },
    write: (bytes) => link.write(bytes),
    send: (frame) => link.write(encodeLengthPrefixed(encodeFrame(frame))),
    sendRaw: (wire) => link.write(encodeLengthPrefixed(wire)),
    close: () => socket.end(),
    async [Symbol.asyncDispose]() {
      socket.terminate()
    },
  }
}
