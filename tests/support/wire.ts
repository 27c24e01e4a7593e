// Frames as tests read them off the wire or out of a store: decoded by the product's own codec,
// so a test sees exactly what a client would, whichever form (JSON or binary) the frame took.
import { decodeBase64url, encodeBase64url } from '../../shared/protocol/base64url.ts'
import {
  decodeClientFrame,
  decodeServerFrame,
  type WireFrame,
} from '../../shared/protocol/codec.ts'
import type { ServerFrame } from '../../shared/protocol/frames.ts'

/** The server frame `wire` holds; throws with the codec's reason when it is not one. */
export function frameOf(wire: WireFrame): ServerFrame {
  const decoded = decodeServerFrame(wire)
  if (!decoded.ok) throw new Error(`not a server frame: ${decoded.message}`)
  return decoded.frame
}

/** The epoch of a logged commit; throws for any other frame. */
export function epochOf(wire: WireFrame): number {
  const frame = frameOf(wire)
  if (frame.type !== 'commit') throw new Error(`a ${frame.type} frame, not a commit`)
  return frame.epoch
}

/** The ciphertext of a logged application message; throws for any other frame. */
export function ciphertextOf(wire: WireFrame): string {
  const frame = frameOf(wire)
  if (frame.type !== 'app') throw new Error(`a ${frame.type} frame, not an app frame`)
  return frame.ciphertext
}

/**
 * A frame as JSON text whatever form it took, for showing and for searching its base64url fields:
 * a binary frame as the frame it decodes to. `from` says who sent it, which decides `app`'s layout.
 */
export function frameText(wire: WireFrame, from: 'client' | 'server'): string {
  if (typeof wire === 'string') return wire
  const decoded = from === 'client' ? decodeClientFrame(wire) : decodeServerFrame(wire)
  return decoded.ok
    ? JSON.stringify(decoded.frame)
    : `(unreadable binary frame: ${decoded.message})`
}

/**
 * A test's stand-in ciphertext that says something: base64url of the text's UTF-8, as a real
 * ciphertext is base64url of bytes. Arbitrary text would not survive a binary frame unchanged.
 */
export function ciphertextSaying(text: string): string {
  return encodeBase64url(new TextEncoder().encode(text))
}

/** What a `ciphertextSaying` stand-in says. */
export function saidBy(ciphertext: string): string {
  return new TextDecoder().decode(decodeBase64url(ciphertext))
}
