import { describe, expect, test } from 'bun:test'
import { createTokenBucket } from './token-bucket.ts'

describe('createTokenBucket', () => {
  const rate = { perSecond: 10, burst: 3, strikes: 1 }

  test('gives a burst at once, then nothing while the clock stands still', () => {
    const bucket = createTokenBucket(rate, () => 0)
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([
      true,
      true,
      true,
      false,
    ])
  })

  test('refills at the steady rate, never beyond the burst', () => {
    let clock = 0
    const bucket = createTokenBucket(rate, () => clock)
    for (let index = 0; index < 3; index += 1) bucket.take()
    clock = 50
    expect(bucket.take()).toBe(false)
    clock = 100
    expect(bucket.take()).toBe(true)
    expect(bucket.take()).toBe(false)
    clock = 60_000
    expect(bucket.isFull()).toBe(false)
    expect([bucket.take(), bucket.take(), bucket.take(), bucket.take()]).toEqual([
      true,
      true,
      true,
      false,
    ])
  })

  test('counts as full right after one take from a full bucket, and not after two', () => {
    const bucket = createTokenBucket(rate, () => 0)
    bucket.take()
    expect(bucket.isFull()).toBe(true)
    bucket.take()
    expect(bucket.isFull()).toBe(false)
  })

  test('ignores a clock that goes backwards', () => {
    let clock = 1000
    const bucket = createTokenBucket(rate, () => clock)
    for (let index = 0; index < 3; index += 1) bucket.take()
    clock = 0
    expect(bucket.take()).toBe(false)
    clock = 1100
    expect(bucket.take()).toBe(true)
  })

  test('says how long until the next token, and nothing while one is there', () => {
    let clock = 0
    const bucket = createTokenBucket(rate, () => clock)
    expect(bucket.waitMs()).toBe(0)
    for (let index = 0; index < 3; index += 1) bucket.take()
    expect(bucket.waitMs()).toBe(100)
    clock = 40
    expect(bucket.waitMs()).toBe(60)
    clock = 100
    expect(bucket.waitMs()).toBe(0)
  })
})
