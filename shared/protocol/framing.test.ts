import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import {
  createFrameDecoder,
  encodeLengthPrefixed,
  type FrameDecoder,
  LENGTH_PREFIX_BYTES,
} from './framing.ts'

const decoder = new TextDecoder()

/** A frame with a raw length prefix: the wire form of any payload, not only of UTF-8 text. */
function prefixed(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(LENGTH_PREFIX_BYTES + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, LENGTH_PREFIX_BYTES)
  return out
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.length, 0))
  let offset = 0
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

/** Splits `bytes` at the given cut points (any numbers; taken modulo the length, sorted). */
function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((cut) => cut % (bytes.length + 1)))].sort((a, b) => a - b)
  const chunks: Uint8Array[] = []
  let from = 0
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(from, point))
    from = point
  }
  return chunks
}

/** The obvious decoder over the whole input at once, to hold the streaming one against. */
function decodeAllAtOnce(bytes: Uint8Array, maxFrameBytes: number) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const frames: Uint8Array[] = []
  let at = 0
  while (bytes.length - at >= LENGTH_PREFIX_BYTES) {
    const length = view.getUint32(at)
    if (length > maxFrameBytes) {
      return { frames, tooLarge: { announced: length, limit: maxFrameBytes } }
    }
    if (bytes.length - at - LENGTH_PREFIX_BYTES < length) break
    frames.push(bytes.slice(at + LENGTH_PREFIX_BYTES, at + LENGTH_PREFIX_BYTES + length))
    at += LENGTH_PREFIX_BYTES + length
  }
  return { frames, tooLarge: undefined }
}

function pushAll(frameDecoder: FrameDecoder, chunks: readonly Uint8Array[]) {
  const frames: Uint8Array[] = []
  let tooLarge: { announced: number; limit: number } | undefined
  for (const chunk of chunks) {
    const result = frameDecoder.push(chunk)
    frames.push(...result.frames)
    tooLarge ??= result.tooLarge
  }
  return { frames, tooLarge }
}

const frameArbitrary = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }).map((text) => ({ kind: 'text' as const, text })),
  fc.uint8Array({ maxLength: 40 }).map((bytes) => ({ kind: 'bytes' as const, bytes })),
)

describe('encodeLengthPrefixed', () => {
  test('announces the length in UTF-8 bytes, not in string units', () => {
    const encoded = encodeLengthPrefixed('a€😀')
    expect([...encoded]).toEqual([0, 0, 0, 8, 0x61, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80])
  })
})

describe('createFrameDecoder', () => {
  test('decodes any frames split at any points back into the same frames, in order', () => {
    fc.assert(
      fc.property(
        fc.array(frameArbitrary, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (frames, cuts) => {
          const wire = concat(
            frames.map((frame) =>
              frame.kind === 'text' ? encodeLengthPrefixed(frame.text) : prefixed(frame.bytes),
            ),
          )
          const { frames: decoded, tooLarge } = pushAll(
            createFrameDecoder(1 << 20),
            split(wire, cuts),
          )
          expect(tooLarge).toBeUndefined()
          expect(decoded.length).toBe(frames.length)
          frames.forEach((frame, index) => {
            const body = decoded[index] as Uint8Array
            if (frame.kind === 'text') expect(decoder.decode(body)).toBe(frame.text)
            else expect(body).toEqual(frame.bytes)
          })
        },
      ),
      { numRuns: 300 },
    )
  })

  test('never throws on arbitrary bytes and never holds more than the limit plus the prefix', () => {
    // Small frames with short prefixes mixed with noise, so both paths get exercised.
    const piece = fc.oneof(
      fc.uint8Array({ maxLength: 24 }).map(prefixed),
      fc.uint8Array({ maxLength: 24 }),
    )
    fc.assert(
      fc.property(
        fc.nat({ max: 64 }),
        fc.array(piece, { maxLength: 8 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        (maxFrameBytes, pieces, cuts) => {
          const wire = concat(pieces)
          const frameDecoder = createFrameDecoder(maxFrameBytes)
          const frames: Uint8Array[] = []
          let tooLarge: { announced: number; limit: number } | undefined
          for (const chunk of split(wire, cuts)) {
            const wasFailed = frameDecoder.failed
            const result = frameDecoder.push(chunk)
            if (wasFailed) expect(result).toEqual({ frames: [] })
            frames.push(...result.frames)
            tooLarge ??= result.tooLarge
            expect(frameDecoder.bufferedBytes).toBeLessThanOrEqual(
              maxFrameBytes + LENGTH_PREFIX_BYTES,
            )
          }
          expect(frameDecoder.failed).toBe(tooLarge !== undefined)
          expect({ frames, tooLarge }).toEqual(decodeAllAtOnce(wire, maxFrameBytes))
        },
      ),
      { numRuns: 500 },
    )
  })

  test('accepts a frame of exactly the limit', () => {
    const body = new Uint8Array(100).fill(7)
    const frameDecoder = createFrameDecoder(100)
    expect(frameDecoder.push(prefixed(body))).toEqual({ frames: [body] })
    expect(frameDecoder.failed).toBe(false)
  })

  test('refuses a frame one byte over the limit', () => {
    const frameDecoder = createFrameDecoder(100)
    expect(frameDecoder.push(prefixed(new Uint8Array(101)))).toEqual({
      frames: [],
      tooLarge: { announced: 101, limit: 100 },
    })
    expect(frameDecoder.failed).toBe(true)
    expect(frameDecoder.bufferedBytes).toBe(0)
  })

  test('refuses a huge length as soon as its prefix is complete, before any body arrives', () => {
    const frameDecoder = createFrameDecoder(100)
    expect(frameDecoder.push(new Uint8Array([0xff, 0xff, 0xff]))).toEqual({ frames: [] })
    expect(frameDecoder.failed).toBe(false)
    expect(frameDecoder.push(new Uint8Array([0xff]))).toEqual({
      frames: [],
      tooLarge: { announced: 0xffffffff, limit: 100 },
    })
    expect(frameDecoder.failed).toBe(true)
    expect(frameDecoder.bufferedBytes).toBe(0)
  })

  test('returns the frames before an oversize prefix but never parses the bytes after it', () => {
    const before = encodeLengthPrefixed('{"type":"ping"}')
    const after = encodeLengthPrefixed('{"type":"leave"}')
    const frameDecoder = createFrameDecoder(100)
    const result = frameDecoder.push(concat([before, prefixed(new Uint8Array(101)), after]))
    expect(result.frames.map((frame) => decoder.decode(frame))).toEqual(['{"type":"ping"}'])
    expect(result.tooLarge).toEqual({ announced: 101, limit: 100 })
    expect(frameDecoder.push(after)).toEqual({ frames: [] })
    expect(frameDecoder.bufferedBytes).toBe(0)
  })

  test('decodes a zero-length frame to an empty array', () => {
    const frameDecoder = createFrameDecoder(100)
    expect(frameDecoder.push(new Uint8Array([0, 0, 0, 0]))).toEqual({
      frames: [new Uint8Array(0)],
    })
    expect(frameDecoder.bufferedBytes).toBe(0)
  })

  test('reassembles a prefix that arrives one byte at a time', () => {
    const wire = encodeLengthPrefixed('hi')
    const frameDecoder = createFrameDecoder(100)
    for (const byte of wire.subarray(0, LENGTH_PREFIX_BYTES)) {
      expect(frameDecoder.push(new Uint8Array([byte]))).toEqual({ frames: [] })
    }
    expect(frameDecoder.bufferedBytes).toBe(LENGTH_PREFIX_BYTES)
    const result = frameDecoder.push(wire.subarray(LENGTH_PREFIX_BYTES))
    expect(result.frames.map((frame) => decoder.decode(frame))).toEqual(['hi'])
    expect(frameDecoder.bufferedBytes).toBe(0)
  })
})
