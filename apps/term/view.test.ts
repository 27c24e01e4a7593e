import { describe, expect, test } from 'bun:test'
import type { ChatEvent } from '../../shared/client/events.ts'
import { createView, type ViewOptions } from './view.ts'

const screen: ViewOptions = {
  color: false,
  verbose: false,
  json: false,
  multiline: true,
  clock: () => '12:34',
}

const group = (
  epoch: number,
  members: string[],
  roomCode = `000${epoch}-0000-0000`,
): ChatEvent => ({
  type: 'membership',
  epoch,
  members,
  added: [],
  removed: [],
  roomCode,
})

/** What a view shows of events in turn, the hidden ones left out. */
function shown(options: ViewOptions, events: ChatEvent[]): string[] {
  const view = createView(options)
  return events.map((event) => view.event(event)).filter((text) => text !== undefined)
}

describe('the default view: what a person needs', () => {
  test('joins, leaves and messages are shown; the group, its epochs and the start-up states are not', () => {
    const events: ChatEvent[] = [
      { type: 'status', status: 'connecting' },
      { type: 'status', status: 'joining' },
      group(1, ['alice', 'bob']),
      { type: 'status', status: 'ready' },
      {
        type: 'warning',
        code: 'history_unreadable',
        message: 'messages sent before you joined cannot be read (MLS by design)',
      },
      { type: 'presence', event: 'join', name: 'carol', at: 0 },
      group(2, ['alice', 'bob', 'carol']),
      { type: 'message', id: 'm', seq: 1, at: 0, from: 'carol', own: false, text: 'hi' },
      { type: 'presence', event: 'leave', name: 'carol', at: 0, reason: 'quit' },
      group(3, ['alice', 'bob']),
      { type: 'status', status: 'closed', detail: 'left the room' },
    ]
    expect(shown(screen, events)).toEqual(['-- carol joined', '12:34 carol: hi', '-- carol left'])
    // --verbose: every one of them, as it always read.
    const verbose = shown({ ...screen, verbose: true }, events)
    expect(verbose).toHaveLength(events.length)
    expect(verbose).toContain(
      '-- group epoch 2: 3 member(s) can read new messages; room code 0002-0000-0000',
    )
    expect(verbose).toContain('-- ready')
  })

  test('a lost connection is said once, however many attempts follow, and its return once', () => {
    expect(
      shown(screen, [
        {
          type: 'status',
          status: 'reconnecting',
          detail: 'connection closed; trying again in 0.5 s',
        },
        {
          type: 'status',
          status: 'reconnecting',
          detail: 'connection closed; trying again in 1.1 s',
        },
        {
          type: 'status',
          status: 'reconnecting',
          detail: 'connection closed; trying again in 2 s',
        },
        { type: 'status', status: 'joining' },
        { type: 'status', status: 'ready' },
        { type: 'status', status: 'ready' },
        { type: 'status', status: 'closed', detail: 'the server is shutting down' },
      ]),
    ).toEqual([
      '-- connection lost (connection closed; trying again in 0.5 s); reconnecting',
      '-- connected again',
      '-- closed: the server is shutting down',
    ])
  })

  test('leaving the group is said; a changed room code only once the user has looked at it', () => {
    const view = createView(screen)
    expect(view.event(group(4, ['alice', 'bob']))).toBeUndefined()
    expect(view.notice({ type: 'room-code', roomCode: '0004-0000-0000' })).toBe(
      '-- room code: 0004-0000-0000',
    )
    expect(view.event(group(4, ['alice', 'bob']))).toBeUndefined()
    expect(view.event(group(5, ['alice']))).toBe(
      '-- the group changed; the room code is now 0005-0000-0000',
    )
    expect(view.event(group(6, []))).toBe('-- you are no longer in the group')
  })

  test('a file from someone else shows its first lines under it; pipe mode keeps it one line', () => {
    const file: ChatEvent = {
      type: 'file',
      id: 'f',
      seq: 1,
      at: 0,
      from: 'bob',
      own: false,
      name: 'notes.txt',
      size: 21,
      truncated: false,
      sha256: '',
      bytes: new TextEncoder().encode('first\nsecond \x1b[2J\n'),
    }
    expect(createView(screen).event(file)).toBe(
      '12:34 bob sent notes.txt (21 B)\n      | first\n      | second \\x1b[2J',
    )
    expect(createView({ ...screen, multiline: false }).event(file)).toBe(
      '12:34 bob sent notes.txt (21 B)',
    )
    expect(createView(screen).event({ ...file, own: true })).toBe('12:34 bob sent notes.txt (21 B)')
  })
})

describe('--json', () => {
  test('every event is a line of its own, the ones the screen leaves out too', () => {
    const view = createView({ ...screen, json: true, multiline: false })
    expect(JSON.parse(view.event(group(2, ['alice', 'bob'])) ?? '')).toMatchObject({
      type: 'membership',
      epoch: 2,
    })
    expect(JSON.parse(view.event({ type: 'status', status: 'ready' }) ?? '')).toEqual({
      type: 'status',
      status: 'ready',
    })
    expect(JSON.parse(view.notice({ type: 'room-code', roomCode: null }))).toEqual({
      type: 'room-code',
      roomCode: null,
    })
  })
})
