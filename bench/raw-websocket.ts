// A minimal WebSocket client (RFC 6455) straight over Bun.connect, for the bench's receivers: it
// hands each message over as bytes, in the chunk it arrived in, so a load client can take many
// thousands of deliveries a second on one core where a full WebSocket object per message could not.

import type { Socket } from 'bun'
import { SocketWriter } from '../shared/net/socket-writer.ts'

const ACCEPT_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'
const OP_CONTINUATION = 0x0
const OP_TEXT = 0x1
const OP_BINARY = 0x2
const OP_CLOSE = 0x8
const OP_PING = 0x9

export interface RawWebSocketOptions {
  readonly host: string
  readonly port: number
  readonly path: string
  readonly ca: string
  /** The name the certificate must carry. */
  readonly serverName: string
}

export interface RawWebSocketSink {
  /** One whole message: bytes[start, end), valid only during the call. */
  message(bytes: Buffer, start: number, end: number): void
  closed(reason: string): void
}

export interface RawWebSocket {
  /** Text goes as a text message, bytes as a binary one. */
  send(wire: string | Uint8Array): void
  close(): void
}

const encoder = new TextEncoder()

/**
 * The Sec-WebSocket-Accept value of an HTTP response head. A plain scan: a RegExp built per
 * connection cost the load client ~60 µs of each handshake, a fifth of what it could open.
 */
function acceptHeader(head: string): string | undefined {
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':')
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'sec-websocket-accept') {
      return line.slice(colon + 1).trim()
    }
  }
  return undefined
}

export function openRawWebSocket(
  options: RawWebSocketOptions,
  sink: RawWebSocketSink,
): Promise<RawWebSocket> {
  const { promise, resolve, reject } = Promise.withResolvers<RawWebSocket>()
  const key = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64')
  const accept = new Bun.CryptoHasher('sha1').update(key + ACCEPT_GUID).digest('base64')
  let upgraded = false
  let closed = false
  /** Bytes of an unfinished frame (or of the HTTP response before the upgrade). */
  let pending: Buffer | undefined
  let fragments: Buffer[] = []
  /** Writes the socket could not take yet wait for `drain`, in order. */
  let writer: SocketWriter | undefined

  function write(socket: Socket, bytes: Uint8Array): void {
    writer ??= new SocketWriter(socket)
    writer.write(bytes)
  }

  function sendFrame(socket: Socket, opcode: number, payload: Uint8Array): void {
    const length = payload.length
    const headerLength = length < 126 ? 2 : length < 65_536 ? 4 : 10
    const frame = new Uint8Array(headerLength + 4 + length)
    frame[0] = 0x80 | opcode
    if (length < 126) {
      frame[1] = 0x80 | length
    } else if (length < 65_536) {
      frame[1] = 0x80 | 126
      frame[2] = length >>> 8
      frame[3] = length & 0xff
    } else {
      frame[1] = 0x80 | 127
      new DataView(frame.buffer).setBigUint64(2, BigInt(length))
    }
    // Clients must mask what they send (RFC 6455 §5.3); the key only has to be unpredictable to
    // proxies in between, of which there are none here, so Math.random is enough.
    const key = (Math.random() * 0x1_0000_0000) >>> 0
    const mask = [key >>> 24, (key >>> 16) & 0xff, (key >>> 8) & 0xff, key & 0xff]
    frame.set(mask, headerLength)
    const start = headerLength + 4
    for (let index = 0; index < length; index += 1) {
      frame[start + index] = (payload[index] as number) ^ (mask[index & 3] as number)
    }
    write(socket, frame)
  }

  function finish(reason: string): void {
    if (closed) return
    closed = true
    if (upgraded) sink.closed(reason)
    else
      reject(
        new Error(`cannot open wss://${options.host}:${options.port}${options.path}: ${reason}`),
      )
  }

  function upgrade(socket: Socket, bytes: Buffer): Buffer | undefined {
    const end = bytes.indexOf('\r\n\r\n')
    if (end < 0) return bytes
    const head = bytes.subarray(0, end).toString('latin1')
    const status = head.slice(0, head.indexOf('\r\n'))
    if (!/^HTTP\/1\.1 101 /.test(status)) {
      finish(status)
      socket.end()
      return undefined
    }
    if (acceptHeader(head) !== accept) {
      finish('the server answered the upgrade with the wrong Sec-WebSocket-Accept')
      socket.end()
      return undefined
    }
    upgraded = true
    resolve({
      send(wire) {
        if (closed) return
        if (typeof wire === 'string') sendFrame(socket, OP_TEXT, encoder.encode(wire))
        else sendFrame(socket, OP_BINARY, wire)
      },
      close() {
        if (closed) return
        sendFrame(socket, OP_CLOSE, new Uint8Array([0x03, 0xe8]))
        socket.end()
      },
    })
    return bytes.subarray(end + 4)
  }

  /** Reads every whole frame in `bytes`; returns the unfinished rest. */
  function frames(socket: Socket, bytes: Buffer): Buffer | undefined {
    let at = 0
    while (bytes.length - at >= 2) {
      const first = bytes[at] as number
      const second = bytes[at + 1] as number
      let length = second & 0x7f
      let header = 2
      if (length === 126) {
        if (bytes.length - at < 4) break
        length = bytes.readUInt16BE(at + 2)
        header = 4
      } else if (length === 127) {
        if (bytes.length - at < 10) break
        length = Number(bytes.readBigUInt64BE(at + 2))
        header = 10
      }
      if (second & 0x80) header += 4 // a server never masks; tolerated, not unmasked
      if (bytes.length - at < header + length) break
      const start = at + header
      const end = start + length
      at = end
      const opcode = first & 0x0f
      const fin = (first & 0x80) !== 0
      if (opcode === OP_TEXT || opcode === OP_BINARY || opcode === OP_CONTINUATION) {
        // The hot path: a whole message, handed over in place, with no allocation per message.
        if (fin && fragments.length === 0) {
          sink.message(bytes, start, end)
        } else {
          fragments.push(Buffer.from(bytes.subarray(start, end)))
          if (fin) {
            const whole = Buffer.concat(fragments)
            fragments = []
            sink.message(whole, 0, whole.length)
          }
        }
        continue
      }
      const payload = bytes.subarray(start, end)
      if (opcode === OP_PING) {
        sendFrame(socket, 0xa, payload)
      } else if (opcode === OP_CLOSE) {
        const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005
        const reason = payload.subarray(2).toString('utf8')
        sendFrame(socket, OP_CLOSE, payload.subarray(0, 2))
        socket.end()
        finish(reason || `closed (${code})`)
        return undefined
      }
    }
    // The chunk's memory is Bun's once this call returns: keep a copy of an unfinished frame.
    return at < bytes.length ? Buffer.from(bytes.subarray(at)) : undefined
  }

  Bun.connect({
    hostname: options.host,
    port: options.port,
    tls: { ca: options.ca, serverName: options.serverName, rejectUnauthorized: true },
    socket: {
      handshake(socket, success, authorizationError) {
        if (!success || authorizationError) {
          socket.terminate()
          finish(`TLS: ${authorizationError?.message ?? 'handshake failed'}`)
          return
        }
        socket.write(
          `GET ${options.path} HTTP/1.1\r\nHost: ${options.host}:${options.port}\r\n` +
            'Upgrade: websocket\r\nConnection: Upgrade\r\n' +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        )
      },
      data(socket, chunk) {
        let bytes: Buffer | undefined = pending ? Buffer.concat([pending, chunk]) : chunk
        pending = undefined
        if (!upgraded) {
          bytes = upgrade(socket, bytes)
          if (!upgraded) {
            pending = bytes ? Buffer.from(bytes) : undefined
            return
          }
        }
        if (bytes && bytes.length > 0) pending = frames(socket, bytes)
      },
      drain() {
        writer?.drain()
      },
      close() {
        finish('connection closed')
      },
      error(_socket, error) {
        finish(error.message)
      },
    },
  }).catch((error: Error) => finish(error.message))
  return promise
}
