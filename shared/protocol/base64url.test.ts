import { describe, expect, test } from 'bun:test'
import { encodeBase64url, rangeCodecs } from './base64url.ts'
import { BinaryFrameError } from './binary.ts'
import { encodeFrame } from './codec.ts'

const bytes = (length: number) =>
  Uint8Array.from({ length }, (_, index) => (index * 151 + 7) & 0xff)

describe('base64url at an offset', () => {
  const codecs = Object.entries(rangeCodecs)

  test('Bun has the Buffer codec; the browser takes the portable one', () => {
    expect(rangeCodecs.buffer).toBeDefined()
  })

  for (const [name, codec] of codecs) {
    if (!codec) continue
    test(`${name}: the text of a part is the standard encoding of that part`, () => {
      for (const length of [0, 1, 2, 3, 4, 5, 334, 1000]) {
        const whole = bytes(length + 7)
        for (const start of [0, 1, 2, 3, 7]) {
          expect(codec.textOf(whole, start)).toBe(encodeBase64url(whole.slice(start)))
        }
      }
    })

    test(`${name}: text decoded at an offset lands there, and nothing else moves`, () => {
      for (const length of [0, 1, 2, 3, 4, 5, 334, 1000]) {
        const part = bytes(length)
        const out = new Uint8Array(length + 9).fill(0xee)
        expect(codec.writeAt(out, 9, encodeBase64url(part))).toBe(length)
        expect(out.slice(9)).toEqual(part)
        expect(out.slice(0, 9)).toEqual(new Uint8Array(9).fill(0xee))
      }
    })
  }
})

describe('an app frame encoded', () => {
  test('with text that is not base64url is refused, not sent with bytes missing', () => {
    // The schema refuses such text from a client before it is ever encoded: this is the codec's
    // own guard, for a caller that skipped it.
    for (const ciphertext of ['AAAA*AAA', 'AAAA====', 'AAAAAA.A']) {
      expect(() => encodeFrame({ type: 'app', ciphertext })).toThrow(BinaryFrameError)
      expect(() => encodeFrame({ type: 'app', seq: 1, at: 2, from: 'alice', ciphertext })).toThrow(
        BinaryFrameError,
      )
    }
  })

  test('with a sender name over 255 bytes is refused', () => {
    const ciphertext = encodeBase64url(bytes(30))
    expect(() =>
      encodeFrame({ type: 'app', seq: 1, at: 2, from: 'é'.repeat(128), ciphertext }),
    ).toThrow('too long')
    expect(() =>
      encodeFrame({ type: 'app', seq: 1, at: 2, from: 'x'.repeat(2000), ciphertext }),
    ).toThrow('too long')
  })
})
