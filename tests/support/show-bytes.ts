// Bytes and frames shown to a reader and searched for plaintext: hex heads, long base64url values
// shortened, every base64url field decoded. Knows no frame types, only JSON text and bytes.
import { joinBytes } from './tap.ts'

const utf8 = new TextEncoder()

/** The first `count` bytes as hex pairs, with an ellipsis when there are more. */
export function hexHead(bytes: Uint8Array, count = 16): string {
  const shown = [...bytes.subarray(0, count)].map((byte) => byte.toString(16).padStart(2, '0'))
  return `${shown.join(' ')}${bytes.length > count ? ' …' : ''}`
}

/** Long base64url (or any long string) as its head, an ellipsis and its length. */
export function shorten(text: string, keep = 16): string {
  return text.length <= keep + 8 ? text : `${text.slice(0, keep)}…(${text.length} chars)`
}

/** A JSON frame with each long base64url string value shortened. */
export function shortenFields(frame: string): string {
  return frame.replace(/"([A-Za-z0-9_-]{40,})"/g, (_match, value: string) => `"${shorten(value)}"`)
}

/**
 * Every base64url field of these JSON frames, decoded: plaintext that was merely encoded, not
 * encrypted, would show up here.
 */
export function decodedFields(frames: readonly string[]): Uint8Array {
  const fields = frames.flatMap((frame) =>
    [...frame.matchAll(/"([A-Za-z0-9_-]{16,})"/g)].map(
      (match) => new Uint8Array(Buffer.from(match[1] as string, 'base64url')),
    ),
  )
  return joinBytes(fields)
}

/** Which of these strings occur, UTF-8 encoded, in the bytes. */
export function occurring(needles: readonly string[], bytes: Uint8Array): string[] {
  const haystack = Buffer.from(bytes)
  return needles.filter((needle) => haystack.includes(Buffer.from(utf8.encode(needle))))
}
