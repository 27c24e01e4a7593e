// base64url without padding, the one encoding of binary fields on the wire; runs in Bun and
// in browsers alike (Buffer only where it is there, for speed).

export const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * Whether base64url text (already matching the pattern) is the one encoding of some bytes: no
 * impossible length, no stray bits in its last character. Binary frames carry the bytes, so a
 * frame's text must come back the same after a trip through them.
 */
export function isCanonicalBase64url(text: string): boolean {
  const tail = text.length % 4
  if (tail === 0) return true
  if (tail === 1) return false
  const last = ALPHABET.indexOf(text[text.length - 1] as string)
  // Two characters hold one byte and 4 spare bits; three hold two bytes and 2 spare bits.
  return (last & (tail === 2 ? 0b1111 : 0b11)) === 0
}

export function encodeBase64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: 'base64url', omitPadding: true })
}

/** Throws on anything that is not base64url; callers validate with the schema first. */
export function decodeBase64url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(text, { alphabet: 'base64url', lastChunkHandling: 'loose' })
}

/**
 * Part of a frame's bytes and text, both ways, without a view of the part. In JavaScriptCore a
 * `subarray` (or `.buffer`) of a freshly made array gives it an ArrayBuffer of its own: ~580
 * bytes of garbage and a copy, for every message the server takes in and every one it sends
 * (docs/performance.md). Bun's Buffer codec reads and writes at an offset with neither; the
 * browser takes the standard way.
 */
interface RangeCodec {
  /** The base64url text of `bytes` from `start` on. */
  textOf(bytes: Uint8Array, start: number): string
  /** Decodes base64url `text` into `out` at `offset`; returns how many bytes it wrote. */
  writeAt(out: Uint8Array, offset: number, text: string): number
}

const portableCodec: RangeCodec = {
  textOf: (bytes, start) => encodeBase64url(bytes.subarray(start)),
  writeAt: (out, offset, text) =>
    out.subarray(offset).setFromBase64(text, { alphabet: 'base64url' }).written,
}

const NodeBuffer = (globalThis as { Buffer?: typeof Buffer }).Buffer

const bufferCodec: RangeCodec | undefined = NodeBuffer && {
  // Called on a plain Uint8Array: Bun's Buffer methods take any Uint8Array as `this`.
  textOf: (bytes, start) => NodeBuffer.prototype.toString.call(bytes, 'base64url', start),
  writeAt: (out, offset, text) =>
    NodeBuffer.prototype.write.call(out, text, offset, out.length - offset, 'base64url'),
}

/** Both, for the tests that hold them to the same results. */
export const rangeCodecs = { portable: portableCodec, buffer: bufferCodec }

export const { textOf: base64urlFrom, writeAt: writeBase64urlAt } = bufferCodec ?? portableCodec
