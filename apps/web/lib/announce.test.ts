import { describe, expect, test } from 'bun:test'
import { ANNOUNCED_CHARACTERS, addedSince, announcementOf } from './announce.ts'
import type { Entry } from './timeline-reducer.ts'

const time = () => '14:05'
const message = (key: string, own = false, text = 'hello'): Entry => ({
  kind: 'message',
  key,
  at: 0,
  from: 'carol',
  own,
  text,
})
const notice = (key: string, tone: 'info' | 'warning' | 'separator' = 'info'): Entry => ({
  kind: 'notice',
  key,
  at: 0,
  tone,
  text: `notice ${key}`,
})

describe('announcementOf', () => {
  test('says who wrote a message, when, and what, with control characters made visible', () => {
    expect(announcementOf(message('m', false, 'ring\x07'), time)).toBe('carol at 14:05: ring\\x07')
  })

  test('says nothing of your own messages and of the kept-history separators', () => {
    expect(announcementOf(message('m', true), time)).toBeUndefined()
    expect(announcementOf(notice('n', 'separator'), time)).toBeUndefined()
    expect(announcementOf(notice('n', 'warning'), time)).toBe('notice n')
  })

  test('leaves a changed key to the assertive region: read once, not twice', () => {
    const keyChanged: Entry = {
      kind: 'notice',
      key: 'k',
      at: 0,
      tone: 'warning',
      text: 'carol’s key changed',
      saidAloud: true,
    }
    expect(announcementOf(keyChanged, time)).toBeUndefined()
  })

  test('names a file and its size', () => {
    const file: Entry = {
      kind: 'file',
      key: 'f',
      at: 0,
      from: 'carol',
      own: false,
      name: 'notes.txt',
      size: 2048,
      truncated: false,
      sha256: '',
      bytes: new Uint8Array(),
    }
    expect(announcementOf(file, time)).toBe('carol at 14:05 sent the file notes.txt, 2.0 KiB')
  })

  test('cuts a long message at the limit, not one character later', () => {
    const exact = 'x'.repeat(ANNOUNCED_CHARACTERS)
    expect(announcementOf(message('m', false, exact), time)).toBe(`carol at 14:05: ${exact}`)
    expect(announcementOf(message('m', false, `${exact}y`), time)).toBe(`carol at 14:05: ${exact}…`)
  })
})

describe('addedSince', () => {
  const entries = [notice('a'), message('b'), message('c')]

  test('gives what came after the last entry seen', () => {
    expect(addedSince(entries, 'b')).toEqual([message('c')])
    expect(addedSince(entries, 'c')).toEqual([])
    expect(addedSince(entries, undefined)).toEqual(entries)
  })

  test('gives nothing when the list was reset and the last entry seen is gone', () => {
    expect(addedSince(entries, 'gone')).toEqual([])
  })

  test('gives nothing for kept history put in before the last entry seen', () => {
    expect(addedSince([notice('kept'), ...entries], 'c')).toEqual([])
  })
})
