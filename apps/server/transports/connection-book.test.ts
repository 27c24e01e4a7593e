import { describe, expect, test } from 'bun:test'
import { createConnectionBook } from './connection-book.ts'

describe('createConnectionBook', () => {
  test('admits up to the cap, refuses as many again, and cuts the rest', () => {
    const book = createConnectionBook(2)
    const arrivals = Array.from({ length: 6 }, () => book.arrive('192.0.2.7'))
    expect(arrivals).toEqual(['admit', 'admit', 'refuse', 'refuse', 'cut', 'cut'])
    expect(book.arrive('192.0.2.8')).toBe('admit')
  })

  test('a slot freed is taken again, and a refused socket still closing never holds one', () => {
    const book = createConnectionBook(1)
    expect(book.arrive('192.0.2.7')).toBe('admit')
    expect(book.arrive('192.0.2.7')).toBe('refuse')
    book.leave('192.0.2.7', 'admit')
    expect(book.arrive('192.0.2.7')).toBe('admit')
    book.leave('192.0.2.7', 'refuse')
    expect(book.arrive('192.0.2.7')).toBe('refuse')
    book.leave('192.0.2.7', 'cut')
    expect(book.arrive('192.0.2.7')).toBe('cut')
  })

  test('counts every address of one IPv6 /64 together', () => {
    const book = createConnectionBook(1)
    expect(book.arrive('2001:db8:0:7::1')).toBe('admit')
    expect(book.arrive('2001:db8:0:7:ffff::2')).toBe('refuse')
    expect(book.arrive('2001:db8:0:8::1')).toBe('admit')
  })

  test('tells a refused connection the cap and what to do', () => {
    expect(createConnectionBook(64).refusal).toEqual({
      type: 'error',
      code: 'rate_limited',
      message: 'too many connections from your address (64 open); close one and try again',
      fatal: true,
    })
  })
})
