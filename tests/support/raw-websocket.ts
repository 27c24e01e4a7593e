// A minimal WebSocket client over Bun.connect TLS that writes any frame a test asks for (invalid
// UTF-8, reserved bits, a deflate offer) and records what the server answers, pings included.
import type { Socket } from 'bun'
import { decodeServerFrame, encodeFrame, type WireFrame } from '../../shared/protocol/codec.ts'
import { Inbox, type TestClient } from './harness.ts'

export const OPCODE = { continuation: 0, text: 1, binary: 2, close: 8, ping: 9, pong: 10 } as const

export interface RawFrame {
  readonly fin: boolean
  readonly rsv1: boolean
  readonly opcode: number
  readonly payload: Uint8Array
}

export interface UpgradeResponse {
  readonly status: number
  /** Header names in lower case. */
  readonly headers: ReadonlyMap<string, string>
}

export interface CloseInfo {
  /** The code in the server's close frame; undefined when the TCP link ended without one. */
  readonly code?: number
  readonly reason: string
}

export interface RawWebSocketOptions {
  readonly port: number
  readonly ca: string
  readonly path?: string
  /** Extra request headers, such as `Sec-WebSocket-Extensions`. */
  readonly headers?: Readonly<Record<string, string>>
  /** A browser answers pings by itself; a silent peer does not. Defaults to true. */
  readonly answerPings?: boolean
  /** Takes every text message; without it they queue for `nextText`. */
  readonly onText?: (text: string) => void
  /** Takes every binary message (frames that carry MLS bytes); else they are only in `frames`. */
  readonly onBinary?: (bytes: Uint8Array<ArrayBuffer>) => void
}

export interface RawWebSocket extends AsyncDisposable {
  readonly upgrade: UpgradeResponse
  /** Every frame the server sent, in order. */
  readonly frames: RawFrame[]
  /** Resolves when the TCP link is gone, with the close frame the server sent if any. */
  readonly closed: Promise<CloseInfo>
  sendFrame(frame: Partial<RawFrame> & { readonly opcode: number }): void
  sendText(text: string | Uint8Array): void
  /** One binary message. */
  sendBinary(bytes: Uint8Array): void
  /** The next text message from the server, decoded leniently. */
  nextText(timeoutMs?: number): Promise<string>
  /** Ends this side's writing (a TCP half-close, no close frame) and keeps reading. */
  halfClose(): void
  terminate(): void
}

const encoder = new TextEncoder()

/** Opens `wss://127.0.0.1:port/path`; resolves once the server answered the upgrade request. */
export async function connectRawWebSocket(options: RawWebSocketOptions): Promise<RawWebSocket> {
  const answerPings = options.answerPings ?? true
  const upgraded = Promise.withResolvers<UpgradeResponse>()
  const closed = Promise.withResolvers<CloseInfo>()
  const frames: RawFrame[] = []
  const textWaiters: Array<(text: string) => void> = []
  const texts: string[] = []
  let upgrade: UpgradeResponse | undefined
  let pending: Uint8Array = new Uint8Array(0)
  let closeInfo: CloseInfo | undefined

  function write(socket: Socket, bytes: Uint8Array): void {
    socket.write(bytes)
  }

  function onFrame(socket: Socket, frame: RawFrame): void {
    frames.push(frame)
    if (frame.opcode === OPCODE.ping && answerPings) {
      write(
        socket,
        encodeClientFrame({ fin: true, rsv1: false, opcode: OPCODE.pong, payload: frame.payload }),
      )
    } else if (frame.opcode === OPCODE.close) {
      const view = new DataView(frame.payload.buffer, frame.payload.byteOffset)
      closeInfo = {
        code: frame.payload.length >= 2 ? view.getUint16(0) : undefined,
        reason: new TextDecoder().decode(frame.payload.subarray(2)),
      }
    } else if (frame.opcode === OPCODE.binary) {
      options.onBinary?.(frame.payload.slice())
    } else if (frame.opcode === OPCODE.text) {
      const text = new TextDecoder().decode(frame.payload)
      if (options.onText) {
        options.onText(text)
        return
      }
      const waiter = textWaiters.shift()
      if (waiter) waiter(text)
      else texts.push(text)
    }
  }

  function onData(socket: Socket, chunk: Uint8Array): void {
    pending = concatBytes(pending, chunk)
    if (!upgrade) {
      const end = indexOfHeadEnd(pending)
      if (end < 0) return
      upgrade = parseUpgradeResponse(new TextDecoder().decode(pending.subarray(0, end)))
      pending = pending.subarray(end + 4)
      upgraded.resolve(upgrade)
    }
    for (;;) {
      const parsed = parseServerFrame(pending)
      if (!parsed) return
      pending = pending.subarray(parsed.size)
      onFrame(socket, parsed.frame)
    }
  }

  const socket = await Bun.connect({
    hostname: '127.0.0.1',
    port: options.port,
    tls: { ca: options.ca, serverName: 'localhost' },
    socket: {
      // Bun drops writes made before the TLS handshake ends: the request goes out from here.
      handshake(socket, success) {
        if (!success) {
          socket.terminate()
          return
        }
        const key = new Uint8Array(16)
        crypto.getRandomValues(key)
        const lines = [
          `GET ${options.path ?? '/ws'} HTTP/1.1`,
          `Host: localhost:${options.port}`,
          'Upgrade: websocket',
          'Connection: Upgrade',
          `Sec-WebSocket-Key: ${key.toBase64()}`,
          'Sec-WebSocket-Version: 13',
          ...Object.entries(options.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
        ]
        write(socket, encoder.encode(`${lines.join('\r\n')}\r\n\r\n`))
      },
      data: onData,
      close() {
        upgraded.reject(new Error('the link closed before the upgrade was answered'))
        closed.resolve(closeInfo ?? { reason: '' })
      },
      error() {},
    },
  })

  const response = await upgraded.promise
  function sendFrame(frame: Partial<RawFrame> & { readonly opcode: number }): void {
    write(
      socket,
      encodeClientFrame({
        fin: frame.fin ?? true,
        rsv1: frame.rsv1 ?? false,
        opcode: frame.opcode,
        payload: frame.payload ?? new Uint8Array(0),
      }),
    )
  }
  return {
    upgrade: response,
    frames,
    closed: closed.promise,
    sendFrame,
    sendText(text) {
      const payload = typeof text === 'string' ? encoder.encode(text) : text
      sendFrame({ opcode: OPCODE.text, payload })
    },
    sendBinary(bytes) {
      sendFrame({ opcode: OPCODE.binary, payload: bytes })
    },
    nextText(timeoutMs = 5000) {
      const ready = texts.shift()
      if (ready !== undefined) return Promise.resolve(ready)
      const { promise, resolve, reject } = Promise.withResolvers<string>()
      const timer = setTimeout(() => {
        textWaiters.splice(textWaiters.indexOf(waiter), 1)
        reject(new Error(`no text message within ${timeoutMs} ms`))
      }, timeoutMs)
      const waiter = (text: string) => {
        clearTimeout(timer)
        resolve(text)
      }
      textWaiters.push(waiter)
      return promise
    },
    halfClose() {
      socket.shutdown()
    },
    terminate() {
      socket.terminate()
    },
    async [Symbol.asyncDispose]() {
      socket.terminate()
    },
  }
}

/** A client frame: always masked (RFC 6455 §5.3), with a fresh random key. */
export function encodeClientFrame(frame: RawFrame): Uint8Array {
  const length = frame.payload.length
  const extended = length < 126 ? 0 : length < 65_536 ? 2 : 8
  const out = new Uint8Array(2 + extended + 4 + length)
  out[0] = (frame.fin ? 0x80 : 0) | (frame.rsv1 ? 0x40 : 0) | (frame.opcode & 0x0f)
  const view = new DataView(out.buffer)
  if (extended === 0) out[1] = 0x80 | length
  else if (extended === 2) {
    out[1] = 0x80 | 126
    view.setUint16(2, length)
  } else {
    out[1] = 0x80 | 127
    view.setBigUint64(2, BigInt(length))
  }
  const maskAt = 2 + extended
  const mask = crypto.getRandomValues(new Uint8Array(4))
  out.set(mask, maskAt)
  for (let index = 0; index < length; index += 1) {
    out[maskAt + 4 + index] = (frame.payload[index] as number) ^ (mask[index % 4] as number)
  }
  return out
}

/** One unmasked server frame from the front of `bytes`, or undefined until it is all there. */
function parseServerFrame(bytes: Uint8Array): { frame: RawFrame; size: number } | undefined {
  if (bytes.length < 2) return undefined
  const first = bytes[0] as number
  const second = bytes[1] as number
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let length = second & 0x7f
  let offset = 2
  if (length === 126) {
    if (bytes.length < 4) return undefined
    length = view.getUint16(2)
    offset = 4
  } else if (length === 127) {
    if (bytes.length < 10) return undefined
    length = Number(view.getBigUint64(2))
    offset = 10
  }
  if (second & 0x80) offset += 4
  if (bytes.length < offset + length) return undefined
  return {
    frame: {
      fin: (first & 0x80) !== 0,
      rsv1: (first & 0x40) !== 0,
      opcode: first & 0x0f,
      payload: bytes.slice(offset, offset + length),
    },
    size: offset + length,
  }
}

function parseUpgradeResponse(head: string): UpgradeResponse {
  const [statusLine = '', ...lines] = head.split('\r\n')
  const headers = new Map<string, string>()
  for (const line of lines) {
    const colon = line.indexOf(':')
    if (colon > 0)
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim())
  }
  return { status: Number(statusLine.split(' ')[1]), headers }
}

function indexOfHeadEnd(bytes: Uint8Array): number {
  for (let index = 0; index + 3 < bytes.length; index += 1) {
    if (
      bytes[index] === 13 &&
      bytes[index + 1] === 10 &&
      bytes[index + 2] === 13 &&
      bytes[index + 3] === 10
    ) {
      return index
    }
  }
  return -1
}

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b.slice()
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * A raw WebSocket that speaks the chat protocol through the harness's TestClient shape, so `join`
 * works on it while the test still controls every frame (and whether pings are answered).
 */
export async function connectRawWebSocketMember(
  options: Omit<RawWebSocketOptions, 'onText' | 'onBinary'>,
): Promise<{ readonly socket: RawWebSocket; readonly client: TestClient }> {
  const inbox = new Inbox()
  const socket = await connectRawWebSocket({
    ...options,
    onText(text) {
      const decoded = decodeServerFrame(text)
      if (decoded.ok) inbox.push(decoded.frame)
      else inbox.invalid.push(text)
    },
    onBinary(bytes) {
      const decoded = decodeServerFrame(bytes)
      if (decoded.ok) inbox.push(decoded.frame)
      else inbox.invalid.push(decoded.message)
    },
  })
  const sendWire = (wire: WireFrame) =>
    typeof wire === 'string' ? socket.sendText(wire) : socket.sendBinary(wire)
  const client: TestClient = {
    inbox,
    closed: socket.closed.then((info) => `closed (${info.code ?? 'no close frame'})`),
    send: (frame) => sendWire(encodeFrame(frame)),
    sendRaw: sendWire,
    close: () => socket.terminate(),
    async [Symbol.asyncDispose]() {
      socket.terminate()
    },
  }
  return { socket, client }
}
