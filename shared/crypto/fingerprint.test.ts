import { beforeAll, describe, expect, test } from 'bun:test'
import fc from 'fast-check'
import { encodeBase64url } from '../protocol/base64url.ts'
import {
  fingerprintRows,
  keyFingerprint,
  roomCode,
  safetyNumber,
  safetyNumberRows,
} from './fingerprint.ts'

/** Fixed, recognisable key bytes: 0x00..0x1f, 0x20..0x3f, 0x40..0x5f. */
function keyFrom(start: number): string {
  return encodeBase64url(Uint8Array.from({ length: 32 }, (_, i) => start + i))
}
const ALICE = { name: 'Alice', identityKey: keyFrom(0x00) }
const BOB = { name: 'bob', identityKey: keyFrom(0x20) }
const CAROL = { name: 'carol', identityKey: keyFrom(0x40) }

const FINGERPRINT_FORMAT = /^[0-9a-f]{4}( [0-9a-f]{4}){7}$/
const SAFETY_NUMBER_FORMAT = /^\d{5}( \d{5}){11}$/
const ROOM_CODE_FORMAT = /^\d{4}-\d{4}-\d{4}$/

describe('keyFingerprint', () => {
  // Checked against Python hashlib; a change here breaks every stored comparison.
  test('gives a known answer for a fixed key', async () => {
    expect(await keyFingerprint(ALICE.identityKey)).toBe('630d cd29 66c4 3366 9112 5448 bbb2 5b4f')
  })

  test('is 8 groups of 4 lowercase hex digits', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (key) => {
        expect(await keyFingerprint(encodeBase64url(key))).toMatch(FINGERPRINT_FORMAT)
      }),
      { numRuns: 50 },
    )
  })

  test('changes when any single bit of the key flips', async () => {
    const key = Uint8Array.from({ length: 32 }, (_, i) => i)
    const original = await keyFingerprint(encodeBase64url(key))
    for (let bit = 0; bit < 256; bit++) {
      const flipped = key.slice()
      flipped[bit >> 3] = (flipped[bit >> 3] ?? 0) ^ (1 << (bit & 7))
      expect(await keyFingerprint(encodeBase64url(flipped))).not.toBe(original)
    }
  })

  test('rejects a key that is not 32 bytes', async () => {
    await expect(keyFingerprint(encodeBase64url(new Uint8Array(31)))).rejects.toThrow('32 bytes')
    await expect(keyFingerprint(encodeBase64url(new Uint8Array(33)))).rejects.toThrow('32 bytes')
  })
})

describe('safetyNumber', () => {
  // Each call is 2 × 5200 SHA-512 rounds; compute them all at once, up front.
  let aliceBob = ''
  let bobAlice = ''
  let aliceCarol = ''
  let shoutingAliceBob = ''
  let renamedAliceBob = ''
  beforeAll(async () => {
    ;[aliceBob, bobAlice, aliceCarol, shoutingAliceBob, renamedAliceBob] = await Promise.all([
      safetyNumber(ALICE, BOB),
      safetyNumber(BOB, ALICE),
      safetyNumber(ALICE, CAROL),
      safetyNumber({ ...ALICE, name: 'ALICE' }, BOB),
      safetyNumber({ ...ALICE, name: 'alicia' }, BOB),
    ])
  })

  test('gives a known answer for a fixed pair', () => {
    expect(aliceBob).toBe('30995 66850 10881 98914 36086 86589 42897 09292 78922 06503 11987 06478')
  })

  test('is 12 groups of 5 digits', () => {
    expect(aliceBob).toMatch(SAFETY_NUMBER_FORMAT)
    expect(aliceCarol).toMatch(SAFETY_NUMBER_FORMAT)
  })

  test('is the same whichever party comes first', () => {
    expect(bobAlice).toBe(aliceBob)
  })

  test('differs when one party has a different key', () => {
    expect(aliceCarol).not.toBe(aliceBob)
  })

  test('ignores the case of names, as names are unique case-insensitively', () => {
    expect(shoutingAliceBob).toBe(aliceBob)
  })

  test('differs when one party has a different name', () => {
    expect(renamedAliceBob).not.toBe(aliceBob)
  })

  test('shares the unchanged party half when only one key changes', () => {
    // Each half belongs to one party, so the other party's 30 digits appear in both numbers.
    const halves = (n: string) => {
      const digits = n.replaceAll(' ', '')
      return [digits.slice(0, 30), digits.slice(30)]
    }
    const common = halves(aliceBob).filter((half) => halves(aliceCarol).includes(half))
    expect(common).toHaveLength(1)
  })
})

describe('safetyNumberRows', () => {
  const NUMBER = '30995 66850 10881 98914 36086 86589 42897 09292 78922 06503 11987 06478'

  test('lays the 12 groups out in 3 rows of 4, in their order, as every client shows them', () => {
    expect(safetyNumberRows(NUMBER)).toEqual([
      ['30995', '66850', '10881', '98914'],
      ['36086', '86589', '42897', '09292'],
      ['78922', '06503', '11987', '06478'],
    ])
  })

  test('keeps every digit of any number, in order', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^\d{5}$/), { minLength: 12, maxLength: 12 }),
        (groups) => {
          const rows = safetyNumberRows(groups.join(' '))
          expect(rows).toHaveLength(3)
          expect(rows.flat()).toEqual(groups)
        },
      ),
    )
  })
})

describe('fingerprintRows', () => {
  test('lays the 8 groups out in 2 rows of 4', () => {
    expect(fingerprintRows('630d cd29 66c4 3366 9112 5448 bbb2 5b4f')).toEqual([
      ['630d', 'cd29', '66c4', '3366'],
      ['9112', '5448', 'bbb2', '5b4f'],
    ])
  })
})

describe('roomCode', () => {
  test('gives a known answer for a fixed epoch authenticator', async () => {
    expect(await roomCode(Uint8Array.from({ length: 32 }, (_, i) => i))).toBe('1636-2848-6110')
  })

  test('is 3 groups of 4 digits joined by dashes', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 64 }), async (authenticator) => {
        expect(await roomCode(authenticator)).toMatch(ROOM_CODE_FORMAT)
      }),
      { numRuns: 50 },
    )
  })

  test('differs for different epoch authenticators', async () => {
    const first = await roomCode(new Uint8Array(32))
    const second = await roomCode(new Uint8Array(32).fill(1))
    expect(first).not.toBe(second)
  })
})
