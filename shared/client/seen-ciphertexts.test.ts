import { describe, expect, test } from 'bun:test'
import { createSeenCiphertexts, digestOf } from './seen-ciphertexts.ts'

describe('seen ciphertexts', () => {
  test('knows a ciphertext by its exact text, and no other', () => {
    const seen = createSeenCiphertexts()
    seen.add(digestOf('AAAA'))
    expect(seen.has(digestOf('AAAA'))).toBe(true)
    expect(seen.has(digestOf('AAAB'))).toBe(false)
  })

  test('keeps exactly the limit, forgetting the oldest first', () => {
    const seen = createSeenCiphertexts(3)
    for (const text of ['a', 'b', 'c']) seen.add(digestOf(text))
    expect(['a', 'b', 'c'].map((text) => seen.has(digestOf(text)))).toEqual([true, true, true])
    seen.add(digestOf('d'))
    expect(['a', 'b', 'c', 'd'].map((text) => seen.has(digestOf(text)))).toEqual([
      false,
      true,
      true,
      true,
    ])
  })
})
