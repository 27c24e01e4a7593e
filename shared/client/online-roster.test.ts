import { describe, expect, test } from 'bun:test'
import type { ClientFrame } from '../protocol/frames.ts'
import { EventHub } from './event-hub.ts'
import type { ChatEvent } from './events.ts'
import { OnlineRoster } from './online-roster.ts'

const KEY = 'A'.repeat(43)
const OTHER = 'B'.repeat(43)
/** One key per name, as the server binds them; a second device of a name has its own. */
const keyOf = (name: string) => name.padEnd(43, 'K')

function roster() {
  const hub = new EventHub()
  const events: ChatEvent[] = []
  hub.on((event) => events.push(event))
  const sent: ClientFrame[] = []
  return { roster: new OnlineRoster(hub, (frame) => sent.push(frame)), events, sent }
}

const join = (name: string, identityKey = keyOf(name)) =>
  ({ type: 'presence', event: 'join', name, identityKey, at: 1 }) as const
const leave = (name: string, identityKey = keyOf(name)) =>
  ({ type: 'presence', event: 'leave', name, identityKey, at: 2, reason: 'quit' }) as const

describe('OnlineRoster', () => {
  test('tells the views only what is news: not a join ready listed, nor a leave of someone unseen', () => {
    const { roster: book, events } = roster()
    book.admitted([{ name: 'alice', identityKey: keyOf('alice') }], 1, null)
    book.presence(join('alice'))
    book.presence(leave('mallory'))
    book.presence(join('bob'))
    book.presence(leave('alice', OTHER))
    book.presence(leave('bob'))
    expect(
      events.map((event) => event.type === 'presence' && `${event.event} ${event.name}`),
    ).toEqual(['join bob', 'leave bob'])
    expect([...book.online.keys()]).toEqual([keyOf('alice')])
  })

  test('has a person online while any of its devices is: a join for the first, a leave for the last', () => {
    const { roster: book, events } = roster()
    book.admitted([], 0, null)
    book.presence(join('alice', KEY))
    book.presence(join('alice', OTHER))
    expect(book.devicesOnline('ALICE')).toBe(2)
    book.presence(leave('alice', KEY))
    book.presence(join('alice', KEY))
    book.presence(leave('alice', OTHER))
    book.presence(leave('alice', KEY))
    expect(
      events.map((event) => 'event' in event && `${event.type} ${event.event} ${event.name}`),
    ).toEqual([
      'presence join alice',
      'device-presence join alice',
      'device-presence leave alice',
      'device-presence join alice',
      'device-presence leave alice',
      'presence leave alice',
    ])
  })

  test('keeps the server’s count, and fetches the rest of a large room a page at a time, once', async () => {
    const { roster: book, sent } = roster()
    book.admitted([{ name: 'alice', identityKey: keyOf('alice') }], 3, 1)
    expect(book.complete).toBe(false)
    const loading = Promise.all([book.loadAll(), book.loadAll()])
    expect(sent).toEqual([{ type: 'who', after: 1 }])
    book.page({ type: 'members', members: [{ name: 'bob', identityKey: keyOf('bob') }], next: 2 })
    await Bun.sleep(0)
    expect(sent.at(-1)).toEqual({ type: 'who', after: 2 })
    book.page({
      type: 'members',
      members: [{ name: 'carol', identityKey: keyOf('carol') }],
      next: null,
    })
    await loading
    expect(sent).toHaveLength(2)
    expect(book.complete).toBe(true)
    expect([...book.online.values()].map((member) => member.name)).toEqual([
      'alice',
      'bob',
      'carol',
    ])
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
