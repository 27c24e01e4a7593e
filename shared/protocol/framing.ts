// Length-prefixed framing for the raw TLS transport: a 4-byte big-endian length, then that many
// bytes of UTF-8 JSON or of a binary frame. Knows bytes only; what a frame means is the codec's.
import type { WireFrame } from './binary.ts'

export const LENGTH_PREFIX_BYTES = 4

const encoder = new TextEncoder()

/** One frame as bytes on the wire; for text, the length is of its UTF-8 bytes. */
export function encodeLengthPrefixed(wire: WireFrame): Uint8Array {
  if (typeof wire !== 'string') {
    const out = new Uint8Array(LENGTH_PREFIX_BYTES + wire.length)
    writeLengthPrefix(out, 0, wire.length)
    out.set(wire, LENGTH_PREFIX_BYTES)
    return out
  }
  const text = wire
  // Encode straight into the final buffer. Frames are nearly always ASCII (JSON around base64url),
  // one byte a character, so that size is tried first: sizing every buffer for 3 bytes a character
  // made a 1.4 MB file frame cost 4.3 MB of garbage on each send and replay.
  let out = new Uint8Array(LENGTH_PREFIX_BYTES + text.length)
  let { read, written } = encoder.encodeInto(text, out.subarray(LENGTH_PREFIX_BYTES))
  if (read < text.length) {
    // A string never needs more than 3 bytes per UTF-16 unit.
    out = new Uint8Array(LENGTH_PREFIX_BYTES + text.length * 3)
    ;({ read, written } = encoder.encodeInto(text, out.subarray(LENGTH_PREFIX_BYTES)))
  }
  writeLengthPrefix(out, 0, written)
  return out.subarray(0, LENGTH_PREFIX_BYTES + written)
}

/**
 * A frame's length, big-endian, byte by byte: a DataView of `out.buffer` gives a fresh array an
 * ArrayBuffer of its own, ~600 bytes of garbage a frame (base64url.ts).
 */
export function writeLengthPrefix(out: Uint8Array, at: number, length: number): void {
  out[at] = length >>> 24
  out[at + 1] = (length >>> 16) & 0xff
  out[at + 2] = (length >>> 8) & 0xff
  out[at + 3] = length & 0xff
}

export interface FrameDecodeResult {
  readonly frames: Uint8Array<ArrayBuffer>[]
  /** Set once a frame announced more than the limit; the decoder then ignores all later bytes. */
  readonly tooLarge?: { readonly announced: number; readonly limit: number }
}

export interface FrameDecoder {
  push(chunk: Uint8Array): FrameDecodeResult
  /** Bytes held for an unfinished frame; never more than the limit plus the prefix. */
  readonly bufferedBytes: number
  readonly failed: boolean
}

const NOTHING: FrameDecodeResult = { frames: [] }
const EMPTY = new Uint8Array(0)

/**
 * Reassembles frames from chunks split anywhere. The length is checked as soon as the prefix is
 * complete, so an oversize frame is refused before any of its body is buffered.
 */
export function createFrameDecoder(maxFrameBytes: number): FrameDecoder {
  let buffer: Uint8Array<ArrayBuffer> = new Uint8Array(0)
  let start = 0
  let end = 0
  let failed = false

  function append(chunk: Uint8Array): void {
    if (end + chunk.length > buffer.length) {
      const held = end - start
      const needed = held + chunk.length
      if (needed <= buffer.length && start > 0) {
        buffer.copyWithin(0, start, end)
      } else {
        const grown = new Uint8Array(Math.max(needed, Math.min(buffer.length * 2, needed * 2)))
        grown.set(buffer.subarray(start, end))
        buffer = grown
      }
      start = 0
      end = held
    }
    buffer.set(chunk, end)
    end += chunk.length
  }

  return {
    get bufferedBytes() {
      return end - start
    },
    get failed() {
      return failed
    },
    push(chunk) {
      if (failed) return NOTHING
      const frames: Uint8Array<ArrayBuffer>[] = []
      let input = chunk
      while (input.length > 0 || end - start >= LENGTH_PREFIX_BYTES) {
        // Take only as much of the chunk as completes the current frame, so the buffer never
        // holds bytes past a frame whose length has not been checked yet.
        if (input.length > 0) {
          const want = wantedBytes()
          if (want >= input.length) {
            // The whole chunk (a member's one frame, most often): no view of it, which would give
            // a fresh chunk an ArrayBuffer of its own (base64url.ts).
            append(input)
            input = EMPTY
          } else {
            append(input.subarray(0, want))
            input = input.subarray(want)
          }
        }
        const held = end - start
        if (held < LENGTH_PREFIX_BYTES) break
        const length = readLength()
        if (length > maxFrameBytes) {
          failed = true
          buffer = new Uint8Array(0)
          start = 0
          end = 0
          return { frames, tooLarge: { announced: length, limit: maxFrameBytes } }
        }
        if (held < LENGTH_PREFIX_BYTES + length) {
          if (input.length === 0) break
          continue
        }
        const bodyStart = start + LENGTH_PREFIX_BYTES
        frames.push(buffer.slice(bodyStart, bodyStart + length))
        start = bodyStart + length
        if (start === end) {
          start = 0
          end = 0
        }
      }
      return frames.length === 0 ? NOTHING : { frames }
    },
  }

  function readLength(): number {
    return (
      ((buffer[start] as number) * 0x1000000 +
        (((buffer[start + 1] as number) << 16) |
          ((buffer[start + 2] as number) << 8) |
          (buffer[start + 3] as number))) >>>
      0
    )
  }

  /** How many more bytes the frame being assembled needs (its prefix first, then its body). */
  function wantedBytes(): number {
    const held = end - start
    if (held < LENGTH_PREFIX_BYTES) return LENGTH_PREFIX_BYTES - held
    const length = readLength()
    if (length > maxFrameBytes) return 0
    return LENGTH_PREFIX_BYTES + length - held
  }
}
