// base64url without padding, the one encoding of binary fields on the wire; runs in Bun and
// in browsers alike (no Buffer).

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
