import { describe, expect, test } from 'bun:test'
import { parseBytes } from './sizes.ts'

describe('parseBytes', () => {
  test('K, M, G and KiB, MiB, GiB are powers of 1024; KB, MB, GB powers of 1000', () => {
    expect(parseBytes('2048')).toBe(2048)
    expect(parseBytes('0')).toBe(0)
    expect(parseBytes('512 KiB')).toBe(512 * 1024)
    expect(parseBytes('512k')).toBe(512 * 1024)
    expect(parseBytes('512KB')).toBe(512_000)
    expect(parseBytes('1.5G')).toBe(1.5 * 1024 ** 3)
    expect(parseBytes('100MiB')).toBe(100 * 1024 ** 2)
    expect(parseBytes('100 mb')).toBe(100_000_000)
    expect(parseBytes('3 B')).toBe(3)
  })

  test('anything else is no size', () => {
    for (const text of ['', 'lots', '-1MB', '1.MB', '5 parsecs', 'MB', '1e3']) {
      expect(parseBytes(text)).toBeUndefined()
    }
  })
})
