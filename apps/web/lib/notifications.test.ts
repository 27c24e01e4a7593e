import { describe, expect, test } from 'bun:test'
import { firstWords, notificationOf } from './notifications.ts'

describe('what a desktop notification says', () => {
  test('the sender and the first words of a message from someone else, on one line', () => {
    expect(
      notificationOf({
        type: 'message',
        id: 'm',
        seq: 1,
        at: 0,
        from: 'bob',
        own: false,
        text: 'the deploy\nis done',
      }),
    ).toEqual({ title: 'bob', body: 'the deploy is done' })
    expect(
      notificationOf({
        type: 'message',
        id: 'm',
        seq: 1,
        at: 0,
        from: 'alice',
        own: true,
        text: 'x',
      }),
    ).toBeUndefined()
    expect(notificationOf({ type: 'status', status: 'ready' })).toBeUndefined()
  })

  test('a file by its name and size', () => {
    const bytes = new TextEncoder().encode('notes\n')
    expect(
      notificationOf({
        type: 'file',
        id: 'f',
        seq: 2,
        at: 0,
        from: 'carol',
        own: false,
        name: 'notes.txt',
        size: 6,
        truncated: false,
        sha256: 'ab',
        bytes,
      }),
    ).toEqual({ title: 'carol', body: 'sent notes.txt (6 B)' })
  })

  test('cuts a long message at a word, and shows controls and reordering marks as escapes', () => {
    const long = `${'word '.repeat(30)}end`
    const cut = firstWords(long)
    expect(cut.length).toBeLessThanOrEqual(81)
    expect(cut).toEndWith('word…')
    expect(firstWords('a'.repeat(100))).toBe(`${'a'.repeat(80)}…`)
    expect(firstWords('evil\u202etxt.exe \x1b[2J')).toBe('evil\\u202etxt.exe \\x1b[2J')
  })
})
