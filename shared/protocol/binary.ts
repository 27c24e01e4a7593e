// The binary form of the frames that carry MLS messages (`app`, `commit`, `welcome`, KeyPackages,
// GroupInfo): their MLS bytes travel raw instead of as base64url inside JSON, a quarter fewer
// bytes on every delivery. Only the layout lives here; what a frame may hold is still the
// schemas' business (frames.ts), checked on the object this decodes to.
//
// A binary frame starts with a tag byte below 0x20, so it is never mistaken for JSON ('{').
// `app` from the server, the hot path, has a compact header:
//   0x01 | seq: unsigned LEB128 | at: u48 (ms) | sender length: u8 | sender (UTF-8) | ciphertext
// and from a client just 0x01 | ciphertext. The rarer MLS frames carry their other fields as a
// JSON head, then their byte fields as sections:
//   tag | head length: u32 | head (UTF-8 JSON object) | count: u8 | (length: u32 | bytes) × count
import { base64urlFrom, encodeBase64url, writeBase64urlAt } from './base64url.ts'

/** What a transport carries: JSON text, or a binary frame. */
export type WireFrame = string | Uint8Array<ArrayBuffer>

export type Direction = 'to-server' | 'to-client'

const TAGS = {
  app: 0x01,
  'key-package': 0x02,
  'group-founded': 0x03,
  commit: 0x04,
  welcome: 0x05,
  'commit-request': 0x06,
} as const
export type BinaryType = keyof typeof TAGS
const TYPE_OF_TAG = new Map(Object.entries(TAGS).map(([type, tag]) => [tag as number, type]))

/** Whether frames of this type travel as binary (they carry MLS bytes). */
export function isBinaryType(type: string): type is BinaryType {
  return Object.hasOwn(TAGS, type)
}

/** A body that starts with a tag, not JSON: the TLS port tells the two apart by this byte. */
export function isBinaryBody(body: Uint8Array): boolean {
  return body.length > 0 && TYPE_OF_TAG.has(body[0] as number)
}

/** Where an `app` frame's sequence number starts; its time follows the number's bytes. */
const APP_SEQ_AT = 1
const MAX_U48 = 2 ** 48 - 1
/** A safe integer takes at most 8 bytes of LEB128; sequence numbers are kept below 2^48 (7). */
const MAX_VARINT_BYTES = 7
const encoder = new TextEncoder()
const utf8 = new TextDecoder('utf-8', { fatal: true })

export class BinaryFrameError extends Error {}

/** A frame object whose byte fields are base64url text, as the schemas describe them. */
type Fields = Record<string, unknown>

/** How a frame's byte fields are taken out for sections and put back: base64url in the object. */
interface Sections {
  take(frame: Fields): { head: Fields; blobs: string[] }
  give(head: Fields, blobs: Uint8Array[]): Fields
}

/** Top-level byte fields, in this order; only the last may be missing (then it is not sent). */
function fields(...names: string[]): Sections {
  return {
    take(frame) {
      const head: Fields = { ...frame }
      const blobs: string[] = []
      delete head.type
      for (const name of names) {
        const value = head[name]
        delete head[name]
        if (typeof value === 'string') blobs.push(value)
      }
      return { head, blobs }
    },
    give(head, blobs) {
      // Byte fields come from sections only, never from the head.
      const frame: Fields = { ...head }
      for (const name of names) delete frame[name]
      blobs.forEach((blob, index) => {
        const name = names[index]
        if (name !== undefined) frame[name] = encodeBase64url(blob)
      })
      return frame
    },
  }
}

/** `commit-request`: each added member's KeyPackage is a section, in the order of `add`. */
const commitRequest: Sections = {
  take(frame) {
    const add = (frame.add as Array<{ name: unknown; keyPackage: string }>) ?? []
    const head: Fields = { ...frame, add: add.map(({ name }) => ({ name })) }
    delete head.type
    return { head, blobs: add.map((entry) => entry.keyPackage) }
  },
  give(head, blobs) {
    if (!Array.isArray(head.add) || head.add.length !== blobs.length) {
      throw new BinaryFrameError('its KeyPackages do not match its adds')
    }
    const add = head.add.map((entry: unknown, index) => ({
      ...(typeof entry === 'object' && entry !== null ? entry : {}),
      keyPackage: encodeBase64url(blobs[index] as Uint8Array),
    }))
    return { ...head, add }
  },
}

const SECTIONS: Record<Exclude<BinaryType, 'app'>, Sections> = {
  'key-package': fields('keyPackage'),
  'group-founded': fields('groupInfo'),
  commit: fields('commit', 'welcome'),
  welcome: fields('welcome'),
  'commit-request': commitRequest,
}

/** The binary form of a frame whose type `isBinaryType`; the direction decides `app`'s layout. */
export function encodeBinaryFrame(frame: { readonly type: string }): Uint8Array<ArrayBuffer> {
  const { type } = frame
  if (!isBinaryType(type)) throw new BinaryFrameError(`${type} frames are JSON`)
  if (type === 'app') return encodeApp(frame as Fields)
  const { head, blobs } = SECTIONS[type].take(frame as Fields)
  const headBytes = encoder.encode(JSON.stringify(head))
  const bytes = blobs.map(decodeBlob)
  // Their count is one byte. A commit request, the one frame with many, carries at most 16 KB of
  // KeyPackages (COMMIT_REQUEST_KEY_PACKAGE_CHARS), far fewer than 255.
  if (bytes.length > 255) throw new BinaryFrameError(`${bytes.length} sections is more than 255`)
  let size = 1 + 4 + headBytes.length + 1
  for (const blob of bytes) size += 4 + blob.length
  const out = new Uint8Array(size)
  const view = new DataView(out.buffer)
  out[0] = TAGS[type]
  view.setUint32(1, headBytes.length)
  out.set(headBytes, 5)
  let at = 5 + headBytes.length
  out[at++] = bytes.length
  for (const blob of bytes) {
    view.setUint32(at, blob.length)
    out.set(blob, at + 4)
    at += 4 + blob.length
  }
  return out
}

/** The frame object a binary frame holds, for the schema to check; throws BinaryFrameError. */
export function decodeBinaryFrame(body: Uint8Array, direction: Direction): Fields {
  const type = TYPE_OF_TAG.get(body[0] as number) as BinaryType | undefined
  if (type === undefined) throw new BinaryFrameError('its first byte is no frame type')
  if (type === 'app') return decodeApp(body, direction)
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
  const headLength = readU32(view, 1)
  const headEnd = 5 + headLength
  const head = parseHead(body.subarray(5, headEnd))
  if (headEnd >= body.length) throw new BinaryFrameError('it ends before its sections')
  const count = body[headEnd] as number
  const blobs: Uint8Array[] = []
  let at = headEnd + 1
  for (let index = 0; index < count; index += 1) {
    const length = readU32(view, at)
    if (at + 4 + length > body.length) throw new BinaryFrameError('a section runs past its end')
    blobs.push(body.subarray(at + 4, at + 4 + length))
    at += 4 + length
  }
  if (at !== body.length) throw new BinaryFrameError('bytes follow its last section')
  return { ...SECTIONS[type].give(head, blobs), type }
}

function encodeApp(frame: Fields): Uint8Array<ArrayBuffer> {
  const ciphertext = frame.ciphertext as string
  const length = base64urlByteLength(ciphertext)
  if (frame.seq === undefined) {
    const out = new Uint8Array(1 + length)
    out[0] = TAGS.app
    writeCiphertext(out, 1, ciphertext)
    return out
  }
  // The sender's bytes go through a scratch array and are copied in: a view of `out` to encode
  // into would cost an ArrayBuffer of its own (base64url.ts).
  const { written: senderLength } = encoder.encodeInto(frame.from as string, senderScratch)
  if (senderLength > 255) throw new BinaryFrameError('the sender name is too long')
  const seq = frame.seq as number
  const timeAt = APP_SEQ_AT + varintLength(seq)
  const senderAt = timeAt + 6
  const start = senderAt + 1 + senderLength
  const out = new Uint8Array(start + length)
  out[0] = TAGS.app
  writeVarint(out, APP_SEQ_AT, seq)
  writeU48(out, timeAt, frame.at as number)
  out[senderAt] = senderLength
  for (let index = 0; index < senderLength; index += 1) {
    out[senderAt + 1 + index] = senderScratch[index] as number
  }
  writeCiphertext(out, start, ciphertext)
  return out
}

/** Room for a sender name over the limit, so that one is seen to be too long, not cut short. */
const senderScratch = new Uint8Array(256 * 3)

function writeCiphertext(out: Uint8Array, at: number, ciphertext: string): void {
  if (writeBase64urlAt(out, at, ciphertext) !== out.length - at) {
    throw new BinaryFrameError('its ciphertext is not base64url')
  }
}

function decodeApp(body: Uint8Array, direction: Direction): Fields {
  if (direction === 'to-server') {
    return { type: 'app', ciphertext: base64urlFrom(body, 1) }
  }
  const { value: seq, end: timeAt } = readVarint(body, APP_SEQ_AT)
  const senderAt = timeAt + 6
  if (body.length <= senderAt) throw new BinaryFrameError('it ends inside its header')
  const senderLength = body[senderAt] as number
  const start = senderAt + 1 + senderLength
  if (start > body.length) throw new BinaryFrameError('it ends inside its sender')
  let from: string
  try {
    from = utf8.decode(body.subarray(senderAt + 1, start))
  } catch {
    throw new BinaryFrameError('its sender is not UTF-8')
  }
  return {
    type: 'app',
    seq,
    at: readU48(body, timeAt),
    from,
    ciphertext: base64urlFrom(body, start),
  }
}

/** The bytes base64url text (no padding) stands for; the schema has refused impossible lengths. */
function base64urlByteLength(text: string): number {
  return Math.floor((text.length * 3) / 4)
}

function decodeBlob(text: string): Uint8Array {
  const out = new Uint8Array(base64urlByteLength(text))
  out.setFromBase64(text, { alphabet: 'base64url' })
  return out
}

function parseHead(bytes: Uint8Array): Fields {
  let head: unknown
  try {
    head = JSON.parse(utf8.decode(bytes))
  } catch {
    throw new BinaryFrameError('its head is not UTF-8 JSON')
  }
  if (typeof head !== 'object' || head === null || Array.isArray(head)) {
    throw new BinaryFrameError('its head is not a JSON object')
  }
  return head as Fields
}

function readU32(view: DataView, at: number): number {
  if (at + 4 > view.byteLength) throw new BinaryFrameError('it ends inside a length')
  return view.getUint32(at)
}

/** Big-endian, byte by byte: a DataView made for every delivered frame was most of its header's cost. */
function writeU48(out: Uint8Array, at: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_U48) {
    throw new BinaryFrameError(`${value} does not fit 48 bits`)
  }
  const high = Math.floor(value / 2 ** 32)
  const low = value >>> 0
  out[at] = high >>> 8
  out[at + 1] = high & 0xff
  out[at + 2] = low >>> 24
  out[at + 3] = (low >>> 16) & 0xff
  out[at + 4] = (low >>> 8) & 0xff
  out[at + 5] = low & 0xff
}

function varintLength(value: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_U48) {
    throw new BinaryFrameError(`${value} does not fit 48 bits`)
  }
  let length = 1
  for (let rest = value; rest >= 0x80; rest = Math.floor(rest / 0x80)) length += 1
  return length
}

/** Unsigned LEB128, seven bits a byte, low bits first; with numbers, as they pass 32 bits. */
function writeVarint(out: Uint8Array, at: number, value: number): void {
  let rest = value
  let index = at
  while (rest >= 0x80) {
    out[index++] = (rest % 0x80) | 0x80
    rest = Math.floor(rest / 0x80)
  }
  out[index] = rest
}

function readVarint(body: Uint8Array, at: number): { value: number; end: number } {
  let value = 0
  let scale = 1
  for (let index = at; index < at + MAX_VARINT_BYTES && index < body.length; index += 1) {
    const byte = body[index] as number
    value += (byte & 0x7f) * scale
    if (byte < 0x80) return { value, end: index + 1 }
    scale *= 0x80
  }
  throw new BinaryFrameError('its sequence number does not end')
}

function readU48(body: Uint8Array, at: number): number {
  const byte = (index: number) => body[at + index] as number
  const high = (byte(0) << 8) | byte(1)
  const low = ((byte(2) << 24) | (byte(3) << 16) | (byte(4) << 8) | byte(5)) >>> 0
  return high * 2 ** 32 + low
}

/**
 * A length-prefixed body (the TLS port) as the frame it holds: binary when it starts with a tag,
 * else UTF-8 JSON text. Throws a TypeError on bytes that are neither.
 */
export function wireOfBody(body: Uint8Array<ArrayBuffer>): WireFrame {
  return isBinaryBody(body) ? body : utf8.decode(body)
}
