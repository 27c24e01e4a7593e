import { describe, expect, test } from 'bun:test'
import { describeBytes, parseBytes } from './sizes.ts'

describe('describeBytes', () => {
  const cases: Array<[number, string]> = [
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [1536, '1.5 KiB'],
    [1_048_575, '1.0 MiB'],
    [1_048_576, '1.0 MiB'],
    [1_572_864, '1.5 MiB'],
    [1024 ** 3, '1.0 GiB'],
  ]
  for (const [bytes, expected] of cases) {
    test(`describes ${bytes} bytes as ${expected}`, () => {
      expect(describeBytes(bytes)).toBe(expected)
    })
  }
})

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
