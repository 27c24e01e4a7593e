import { describe, expect, test } from 'bun:test'
import type { Member } from '../../../shared/protocol/frames.ts'
import { OnlineBook } from './online-book.ts'

const member = (index: number, name = `m${index}`): Member => ({
  name,
  identityKey: `key${index}`.padEnd(43, 'k'),
})

/** Every page from the start, following the cursors. */
function allPages(book: OnlineBook, limit: number): { pages: Member[][]; firstNext: boolean } {
  const pages: Member[][] = []
  let after: number | null = 0
  let firstNext = false
  while (after !== null) {
    const page = book.page(after, limit)
    if (pages.length === 0) firstNext = page.next !== null
    pages.push(page.members)
    after = page.next
  }
  return { pages, firstNext }
}

describe('OnlineBook', () => {
  test('keeps the first page while joins land past it, and lists everyone through the cursors', () => {
    const book = new OnlineBook()
    for (let index = 0; index < 5; index += 1) book.arrive(member(index))
    const first = book.page(0, 3)
    book.arrive(member(5))
    book.depart(member(4).identityKey)
    expect(book.page(0, 3)).toBe(first)
    expect(allPages(book, 3).pages.flat()).toEqual([0, 1, 2, 3, 5].map((index) => member(index)))
  })

  test('lists a new first page once someone on it leaves', () => {
    const book = new OnlineBook()
    for (let index = 0; index < 5; index += 1) book.arrive(member(index))
    book.page(0, 3)
    book.depart(member(1).identityKey)
    expect(book.page(0, 3).members).toEqual([0, 2, 3].map((index) => member(index)))
  })

  test('the first page ends the list once those past it leave, and gets a cursor when one comes', () => {
    const book = new OnlineBook()
    for (let index = 0; index < 4; index += 1) book.arrive(member(index))
    expect(book.page(0, 3).next).not.toBeNull()
    book.depart(member(3).identityKey)
    expect(book.page(0, 3).next).toBeNull()
    book.arrive(member(4))
    expect(book.page(0, 3).next).not.toBeNull()
  })

  // The cache against a plain list, over random joins, leaves, reconnects and renames.
  test('pages always match the list in order of arrival', () => {
    let seed = 7
    const random = (below: number) => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
      return seed % below
    }
    for (const limit of [1, 2, 3, 5]) {
      const book = new OnlineBook()
      let model: Member[] = []
      for (let step = 0; step < 2_000; step += 1) {
        const index = random(9)
        const key = member(index).identityKey
        if (random(3) === 0) {
          book.depart(key)
          model = model.filter((entry) => entry.identityKey !== key)
        } else {
          const arriving = member(index, `m${index}${random(2) === 0 ? '' : 'b'}`)
          book.arrive(arriving)
          model = [...model.filter((entry) => entry.identityKey !== key), arriving]
        }
        const { pages, firstNext } = allPages(book, limit)
        expect(pages.flat()).toEqual(model)
        expect(pages[0]).toEqual(model.slice(0, limit))
        expect(firstNext).toBe(model.length > limit)
      }
    }
  })
})
