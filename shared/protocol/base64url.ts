// base64url without padding, the one encoding of binary fields on the wire; runs in Bun and
// in browsers alike (no Buffer).

export const BASE64URL_PATTERN = /^[A-Za-z0-9_-]*$/

export function encodeBase64url(bytes: Uint8Array): string {
  return bytes.toBase64({ alphabet: 'base64url', omitPadding: true })
}

/** Throws on anything that is not base64url; callers validate with the schema first. */
export function decodeBase64url(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.fromBase64(text, { alphabet: 'base64url', lastChunkHandling: 'loose' })
}
