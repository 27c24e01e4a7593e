import { describe, expect, test } from 'bun:test'
import type { ClientFrame } from '../protocol/frames.ts'
import { EventHub } from './event-hub.ts'
import type { ChatEvent } from './events.ts'
import { OnlineRoster } from './online-roster.ts'

const KEY = 'A'.repeat(43)
const OTHER = 'B'.repeat(43)

function roster() {
  const hub = new EventHub()
  const events: ChatEvent[] = []
  hub.on((event) => events.push(event))
  const sent: ClientFrame[] = []
  return { roster: new OnlineRoster(hub, (frame) => sent.push(frame)), events, sent }
}

const join = (name: string, identityKey = KEY) =>
  ({ type: 'presence', event: 'join', name, identityKey, at: 1 }) as const
const leave = (name: string, identityKey = KEY) =>
  ({ type: 'presence', event: 'leave', name, identityKey, at: 2, reason: 'quit' }) as const

describe('OnlineRoster', () => {
  test('tells the views only what is news: not a join ready listed, nor a leave of someone unseen', () => {
    const { roster: book, events } = roster()
    book.admitted([{ name: 'alice', identityKey: KEY }], 1, null)
    book.presence(join('alice'))
    book.presence(leave('mallory'))
    book.presence(join('bob'))
    book.presence(leave('alice', OTHER))
    book.presence(leave('bob'))
    expect(
      events.map((event) => event.type === 'presence' && `${event.event} ${event.name}`),
    ).toEqual(['join bob', 'leave bob'])
    expect([...book.online.keys()]).toEqual(['alice'])
  })

  test('keeps the server’s count, and fetches the rest of a large room a page at a time, once', async () => {
    const { roster: book, sent } = roster()
    book.admitted([{ name: 'alice', identityKey: KEY }], 3, 1)
    expect(book.complete).toBe(false)
    const loading = Promise.all([book.loadAll(), book.loadAll()])
    expect(sent).toEqual([{ type: 'who', after: 1 }])
    book.page({ type: 'members', members: [{ name: 'bob', identityKey: KEY }], next: 2 })
    await Bun.sleep(0)
    expect(sent.at(-1)).toEqual({ type: 'who', after: 2 })
    book.page({ type: 'members', members: [{ name: 'carol', identityKey: KEY }], next: null })
    await loading
    expect(sent).toHaveLength(2)
    expect(book.complete).toBe(true)
    expect([...book.online.keys()]).toEqual(['alice', 'bob', 'carol'])
    book.counted(2)
    expect(book.size).toBe(2)
  })

  test('stops loading when the connection is lost', async () => {
    const { roster: book } = roster()
    book.admitted([], 5, 1)
    const loading = book.loadAll()
    book.lost()
    await loading
    expect(book.size).toBe(0)
  })
})
