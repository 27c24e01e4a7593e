import { describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import {
  decodePayload,
  encodePayload,
  type FilePayload,
  fileDigestMatches,
  MAX_HEADER_BYTES,
  MAX_TEXT_BYTES,
  newMessageId,
  type Payload,
  sha256Hex,
} from './payload.ts'

const utf8 = new TextEncoder()
const ABC_SHA256 = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad'

/** The wire form built by hand, so tests can say things encodePayload refuses to. */
function rawPayload(header: unknown, body: Uint8Array = new Uint8Array()): Uint8Array {
  const headerBytes =
    typeof header === 'string' ? utf8.encode(header) : utf8.encode(JSON.stringify(header))
  return withPrefix(headerBytes.length, headerBytes, body)
}

function withPrefix(length: number, ...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(4 + parts.reduce((sum, part) => sum + part.length, 0))
  new DataView(out.buffer).setUint32(0, length)
  let offset = 4
  for (const part of parts) {
    out.set(part, offset)
    offset += part.length
  }
  return out
}

const NOTES: FilePayload = {
  kind: 'file',
  id: 'f1',
  name: 'notes.txt',
  size: 3,
  sha256: ABC_SHA256,
  truncated: false,
  bytes: utf8.encode('abc'),
}

/** NOTES's header, with any field replaced, even by something the schema refuses. */
function fileHeader(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { bytes: _bytes, ...header } = NOTES
  return { ...header, ...overrides }
}

function reasonFor(bytes: Uint8Array): string {
  const decoded = decodePayload(bytes)
  if (decoded.ok) throw new Error('expected the payload to be refused')
  return decoded.reason
}

const messageIdArb = fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/)
/** UTF-16 code units, so names may hold lone surrogates that JSON must carry intact. */
const fileNameArb = fc.string({
  minLength: 1,
  maxLength: 255,
  unit: fc.integer({ min: 0, max: 0xffff }).map((unit) => String.fromCharCode(unit)),
})
const textPayloadArb = fc.record({
  kind: fc.constant('text' as const),
  id: messageIdArb,
  text: fc.string({ unit: 'binary', maxLength: 2000 }),
})
const filePayloadArb = fc
  .record({
    id: messageIdArb,
    name: fileNameArb,
    sha256: fc.uint8Array({ minLength: 32, maxLength: 32 }).map((digest) => digest.toHex()),
    bytes: fc.uint8Array({ maxLength: 2000 }),
    missing: fc.option(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER - 2000 })),
  })
  .map(
    ({ missing, bytes, ...rest }): FilePayload => ({
      kind: 'file',
      ...rest,
      bytes,
      size: bytes.length + (missing ?? 0),
      truncated: missing !== null,
    }),
  )
const payloadArb: fc.Arbitrary<Payload> = fc.oneof(textPayloadArb, filePayloadArb)

describe('encodePayload', () => {
  test('lays out a 4-byte big-endian header length, the JSON header, then the body', () => {
    const header = '{"kind":"text","id":"abc"}'
    expect(encodePayload({ kind: 'text', id: 'abc', text: 'hé' })).toEqual(
      withPrefix(header.length, utf8.encode(header), utf8.encode('hé')),
    )
  })

  test('accepts a text of exactly MAX_TEXT_BYTES and refuses one byte more', () => {
    expect(() =>
      encodePayload({ kind: 'text', id: 'a', text: 'x'.repeat(MAX_TEXT_BYTES) }),
    ).not.toThrow()
    expect(() =>
      encodePayload({ kind: 'text', id: 'a', text: 'x'.repeat(MAX_TEXT_BYTES + 1) }),
    ).toThrow('at most 65536 bytes')
  })

  test('refuses a payload the receiver would refuse', () => {
    expect(() => encodePayload({ kind: 'text', id: 'not ok', text: 'hi' })).toThrow('at id')
    expect(() => encodePayload({ kind: 'text', id: 'a'.repeat(65), text: 'hi' })).toThrow('at id')
    expect(() => encodePayload({ ...NOTES, sha256: ABC_SHA256.toUpperCase() })).toThrow('at sha256')
    expect(() => encodePayload({ ...NOTES, size: 4 })).toThrow('a whole file of 4 bytes')
  })
})

describe('decodePayload', () => {
  test('decodes a text message', () => {
    expect(decodePayload(rawPayload({ kind: 'text', id: 'm-1' }, utf8.encode('hello €')))).toEqual({
      ok: true,
      payload: { kind: 'text', id: 'm-1', text: 'hello €' },
    })
  })

  test('decodes a whole file and a truncated one', () => {
    expect(decodePayload(rawPayload(fileHeader(), utf8.encode('abc')))).toEqual({
      ok: true,
      payload: NOTES,
    })
    const truncated = fileHeader({ size: 10, truncated: true })
    expect(decodePayload(rawPayload(truncated, utf8.encode('abc')))).toEqual({
      ok: true,
      payload: { ...NOTES, size: 10, truncated: true },
    })
  })

  test('keeps a leading byte order mark that the sender typed', () => {
    const bytes = encodePayload({ kind: 'text', id: 'a', text: '\uFEFFhi' })
    expect(decodePayload(bytes)).toEqual({
      ok: true,
      payload: { kind: 'text', id: 'a', text: '\uFEFFhi' },
    })
  })

  test('reads a payload that sits at an offset inside a larger buffer', () => {
    const encoded = encodePayload({ kind: 'text', id: 'a', text: 'hi' })
    const outer = new Uint8Array(encoded.length + 7)
    outer.set(encoded, 7)
    expect(decodePayload(outer.subarray(7))).toEqual({
      ok: true,
      payload: { kind: 'text', id: 'a', text: 'hi' },
    })
  })

  test('drops header fields it does not know, so newer senders stay readable', () => {
    expect(
      decodePayload(rawPayload({ kind: 'text', id: 'a', future: 1 }, utf8.encode('x'))),
    ).toEqual({
      ok: true,
      payload: { kind: 'text', id: 'a', text: 'x' },
    })
  })

  test('refuses a payload shorter than its length prefix', () => {
    expect(reasonFor(new Uint8Array([0, 0, 0]))).toBe(
      'the payload is shorter than its length prefix',
    )
  })

  test('accepts a header of exactly MAX_HEADER_BYTES and refuses one byte more', () => {
    const header = JSON.stringify({ kind: 'text', id: 'a' })
    const padded = (length: number) => utf8.encode(header.padEnd(length, ' '))
    expect(decodePayload(withPrefix(MAX_HEADER_BYTES, padded(MAX_HEADER_BYTES))).ok).toBe(true)
    expect(reasonFor(withPrefix(MAX_HEADER_BYTES + 1, padded(MAX_HEADER_BYTES + 1)))).toBe(
      'the payload header is 4097 bytes, over 4096',
    )
  })

  test('refuses a header length that runs past the end', () => {
    expect(reasonFor(withPrefix(10, utf8.encode('{}')))).toBe(
      'the payload header runs past the end of the payload',
    )
    expect(reasonFor(withPrefix(0xffffffff))).toBe(
      'the payload header is 4294967295 bytes, over 4096',
    )
  })

  test('refuses a header that is not UTF-8 JSON', () => {
    expect(reasonFor(rawPayload('{"kind":'))).toBe('the payload header is not UTF-8 JSON')
    const latin1 = new Uint8Array([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d])
    expect(reasonFor(withPrefix(latin1.length, latin1))).toBe(
      'the payload header is not UTF-8 JSON',
    )
  })

  const badHeaders: Array<[string, unknown, string]> = [
    ['an unknown kind', { kind: 'image', id: 'a' }, 'kind'],
    ['a header that is not an object', ['text', 'a'], ''],
    ['an empty id', { kind: 'text', id: '' }, 'at id'],
    ['an id of 65 characters', { kind: 'text', id: 'a'.repeat(65) }, 'at id'],
    ['an id with a slash', { kind: 'text', id: 'a/b' }, 'at id'],
    ['an empty file name', fileHeader({ name: '' }), 'at name'],
    ['a file name of 256 characters', fileHeader({ name: 'n'.repeat(256) }), 'at name'],
    ['a negative size', fileHeader({ size: -1 }), 'at size'],
    ['a fractional size', fileHeader({ size: 2.5 }), 'at size'],
    ['a size given as a string', fileHeader({ size: '3' }), 'at size'],
    ['an uppercase digest', fileHeader({ sha256: ABC_SHA256.toUpperCase() }), 'at sha256'],
    ['a short digest', fileHeader({ sha256: ABC_SHA256.slice(1) }), 'at sha256'],
    ['a missing truncated flag', fileHeader({ truncated: undefined }), 'at truncated'],
  ]
  for (const [what, header, where] of badHeaders) {
    test(`refuses a header with ${what}`, () => {
      const reason = reasonFor(rawPayload(header, utf8.encode('abc')))
      expect(reason).toStartWith('the payload header is invalid')
      expect(reason).toContain(where)
    })
  }

  test('accepts a text body of exactly MAX_TEXT_BYTES and refuses one byte more', () => {
    const header = { kind: 'text', id: 'a' }
    expect(decodePayload(rawPayload(header, new Uint8Array(MAX_TEXT_BYTES).fill(0x61))).ok).toBe(
      true,
    )
    expect(reasonFor(rawPayload(header, new Uint8Array(MAX_TEXT_BYTES + 1).fill(0x61)))).toBe(
      'a text message is at most 65536 bytes, got 65537',
    )
  })

  test('refuses a text body that is not valid UTF-8', () => {
    for (const body of [[0xff], [0xe2, 0x82], [0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
      expect(reasonFor(rawPayload({ kind: 'text', id: 'a' }, new Uint8Array(body)))).toBe(
        'the text message is not valid UTF-8',
      )
    }
  })

  test('refuses a file whose body does not match its announced size', () => {
    expect(reasonFor(rawPayload(fileHeader({ size: 4 }), utf8.encode('abc')))).toBe(
      'a whole file of 4 bytes was announced, got 3',
    )
    expect(reasonFor(rawPayload(fileHeader({ truncated: true }), utf8.encode('abc')))).toBe(
      'a truncated file sends less than its 3 bytes, got 3',
    )
  })

  test('round-trips any valid payload', () => {
    fc.assert(
      fc.property(payloadArb, (payload) => {
        expect(decodePayload(encodePayload(payload))).toEqual({ ok: true, payload })
      }),
      { numRuns: 300 },
    )
  })

  test('never throws on arbitrary bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        expect(typeof decodePayload(bytes).ok).toBe('boolean')
      }),
      { numRuns: 1000 },
    )
  })

  test('never throws on arbitrary JSON headers with arbitrary bodies', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.uint8Array({ maxLength: 100 }), (header, body) => {
        expect(typeof decodePayload(rawPayload(header ?? null, body)).ok).toBe('boolean')
      }),
      { numRuns: 500 },
    )
  })
})

describe('newMessageId', () => {
  test('is 22 base64url characters and differs each time', () => {
    const ids = new Set(Array.from({ length: 100 }, () => newMessageId()))
    expect(ids.size).toBe(100)
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_-]{22}$/)
  })

  test('is accepted as a message id', () => {
    const payload: Payload = { kind: 'text', id: newMessageId(), text: 'hi' }
    expect(decodePayload(encodePayload(payload))).toEqual({ ok: true, payload })
  })
})

describe('sha256Hex', () => {
  test('gives the standard digest of "abc" in lowercase hex', async () => {
    expect(await sha256Hex(utf8.encode('abc'))).toBe(ABC_SHA256)
  })

  test('hashes only the view it is given, not the whole buffer', async () => {
    expect(await sha256Hex(utf8.encode('xabcx').subarray(1, 4))).toBe(ABC_SHA256)
  })
})

describe('fileDigestMatches', () => {
  test('is true for the body that was hashed and false for any other', async () => {
    expect(await fileDigestMatches(NOTES)).toBe(true)
    expect(await fileDigestMatches({ ...NOTES, bytes: utf8.encode('abd') })).toBe(false)
  })
})
