import { describe, expect, test } from 'bun:test'
import type { ChatEvent, FileEvent, MessageEvent } from '../../../shared/client/events.ts'
import { LEAVE_REASONS } from '../../../shared/protocol/frames.ts'
import {
  changesMembers,
  EMPTY_TIMELINE,
  type Entry,
  reduceTimeline,
  type Timeline,
  type TimelineContext,
  withNotice,
} from './timeline-reducer.ts'

const NOW = 1_700_000_000_000
const AS_ALICE: TimelineContext = { self: 'alice', joining: false, now: NOW }

function fold(
  events: readonly ChatEvent[],
  context = AS_ALICE,
  from: Timeline = EMPTY_TIMELINE,
): Timeline {
  return events.reduce((timeline, event) => reduceTimeline(timeline, event, context), from)
}

function message(fields: Partial<MessageEvent> = {}): MessageEvent {
  return {
    type: 'message',
    id: 'm1',
    seq: 7,
    at: NOW - 5,
    from: 'bob',
    own: false,
    text: 'hello',
    ...fields,
  }
}

function file(fields: Partial<FileEvent> = {}): FileEvent {
  return {
    type: 'file',
    id: 'f1',
    seq: 8,
    at: NOW - 4,
    from: 'bob',
    own: false,
    name: 'notes.txt',
    size: 12,
    truncated: false,
    sha256: 'c0ffee',
    bytes: new TextEncoder().encode('hello, notes'),
    ...fields,
  }
}

function notice(key: number, text: string, tone: 'info' | 'warning' = 'info', at = NOW): Entry {
  return { kind: 'notice', key: `notice-${key}`, at, tone, text }
}

describe('reduceTimeline', () => {
  test('shows a status and its detail without adding to the list', () => {
    const timeline = fold([{ type: 'status', status: 'reconnecting', detail: 'retry in 2 s' }])
    expect(timeline).toEqual({
      ...EMPTY_TIMELINE,
      status: 'reconnecting',
      statusDetail: 'retry in 2 s',
    })
    expect(fold([{ type: 'status', status: 'ready' }], AS_ALICE, timeline)).toEqual({
      ...EMPTY_TIMELINE,
      status: 'ready',
      statusDetail: undefined,
    })
  })

  test('lists messages keyed by their id and counts only those from others as incoming', () => {
    const timeline = fold([
      message({ id: 'm1', from: 'bob', text: 'hi alice' }),
      message({ id: 'm2', seq: 9, from: 'alice', own: true, text: 'hi bob' }),
    ])
    expect(timeline.entries).toEqual([
      { kind: 'message', key: 'm1', at: NOW - 5, from: 'bob', own: false, text: 'hi alice' },
      { kind: 'message', key: 'm2', at: NOW - 5, from: 'alice', own: true, text: 'hi bob' },
    ])
    expect(timeline.incoming).toBe(1)
  })

  test('draws an own message at once as pending, keeps its place when the log shows it, and marks a failure', () => {
    const pending = (id: string, text: string, at = NOW - 3) =>
      ({ type: 'delivery', id, state: 'pending', at, content: { kind: 'text', text } }) as const
    const sending = fold([pending('m2', 'on its way'), message({ id: 'm3', text: 'meanwhile' })])
    expect(sending.entries).toEqual([
      { kind: 'message', key: 'm2', at: NOW - 3, from: 'alice', own: true, text: 'on its way' },
      { kind: 'message', key: 'm3', at: NOW - 5, from: 'bob', own: false, text: 'meanwhile' },
    ])
    expect(sending.deliveries).toEqual({ m2: { state: 'pending' } })
    expect(sending.incoming).toBe(1)

    const sent = fold(
      [
        message({ id: 'm2', seq: 9, from: 'alice', own: true, text: 'on its way' }),
        { ...pending('m2', 'on its way'), state: 'sent' },
      ],
      AS_ALICE,
      sending,
    )
    expect(sent.entries).toEqual(sending.entries)
    expect(sent.deliveries).toEqual({})

    const failed = fold(
      [
        pending('m4', 'doomed'),
        { ...pending('m4', 'doomed'), state: 'failed', reason: 'the server refused it: no' },
      ],
      AS_ALICE,
      sent,
    )
    expect(failed.deliveries).toEqual({
      m4: { state: 'failed', reason: 'the server refused it: no' },
    })
    const retried = fold([pending('m4', 'doomed')], AS_ALICE, failed)
    expect(retried.entries).toHaveLength(3)
    expect(retried.deliveries).toEqual({ m4: { state: 'pending' } })
  })

  test('draws an own file at once as pending, with what it holds', () => {
    const bytes = new TextEncoder().encode('notes')
    const timeline = fold([
      {
        type: 'delivery',
        id: 'f2',
        state: 'pending',
        at: NOW,
        content: { kind: 'file', name: 'a.txt', size: 5, truncated: false, sha256: 'ab', bytes },
      },
    ])
    expect(timeline.entries).toEqual([
      {
        kind: 'file',
        key: 'f2',
        at: NOW,
        from: 'alice',
        own: true,
        name: 'a.txt',
        size: 5,
        truncated: false,
        sha256: 'ab',
        bytes,
      },
    ])
  })

  test('keeps the sender the server claimed when MLS authenticated another', () => {
    const timeline = fold([message({ from: 'mallory', claimedBy: 'bob' })])
    expect(timeline.entries).toEqual([
      {
        kind: 'message',
        key: 'm1',
        at: NOW - 5,
        from: 'mallory',
        own: false,
        text: 'hello',
        claimedBy: 'bob',
      },
    ])
  })

  test('lists files with their bytes and size, own ones not counted as incoming', () => {
    const truncated = file({ id: 'f2', own: true, from: 'alice', size: 4096, truncated: true })
    const timeline = fold([file(), truncated])
    const { type: _a, id: _b, seq: _c, ...first } = file()
    const { type: _d, id: _e, seq: _f, ...second } = truncated
    expect(timeline.entries).toEqual([
      { ...first, kind: 'file', key: 'f1' },
      { ...second, kind: 'file', key: 'f2' },
    ])
    expect(timeline.incoming).toBe(1)
  })

  test('says who joined and left at the time of the event, and "You" for this page', () => {
    const timeline = fold([
      { type: 'presence', event: 'join', name: 'alice', at: NOW - 3 },
      { type: 'presence', event: 'join', name: 'bob', at: NOW - 2 },
      { type: 'presence', event: 'leave', name: 'bob', at: NOW - 1, reason: 'timeout' },
      // An older engine's leave without a reason reads as a disconnect.
      { type: 'presence', event: 'leave', name: 'carol', at: NOW },
    ])
    expect(timeline.entries).toEqual([
      notice(1, 'You joined', 'info', NOW - 3),
      notice(2, 'bob joined', 'info', NOW - 2),
      notice(3, 'bob timed out', 'info', NOW - 1),
      notice(4, 'carol disconnected', 'info', NOW),
    ])
    expect(timeline.incoming).toBe(0)
  })

  test('gives every leave reason its own words', () => {
    const timeline = fold(
      LEAVE_REASONS.map((reason) => ({
        type: 'presence' as const,
        event: 'leave' as const,
        name: 'bob',
        at: NOW,
        reason,
      })),
    )
    expect(timeline.entries.map((entry) => entry.kind === 'notice' && entry.text)).toEqual([
      'bob left',
      'bob disconnected',
      'bob timed out',
      'bob was dropped by the server',
      'bob left (joined again under another spelling)',
      'bob left (the server is shutting down)',
      'bob was banned by the admin',
      'bob left (the admin gave the name to a new key)',
      'bob left (a device unlinked by its owner)',
    ])
  })

  test('announces who was added, except this page, then who was removed, and shows the room code', () => {
    const timeline = fold([
      {
        type: 'membership',
        epoch: 3,
        members: ['alice', 'bob', 'carol'],
        added: ['alice', 'bob', 'carol'],
        removed: ['dave'],
        roomCode: '12345 67890',
      },
    ])
    expect(timeline).toEqual({
      ...EMPTY_TIMELINE,
      notices: 3,
      roomCode: '12345 67890',
      entries: [
        notice(1, 'bob can now read what is sent'),
        notice(2, 'carol can now read what is sent'),
        notice(3, 'dave was removed from the group'),
      ],
    })
  })

  test('drops the room code when the group has none', () => {
    const before = { ...EMPTY_TIMELINE, roomCode: '12345 67890' }
    const membership: ChatEvent = {
      type: 'membership',
      epoch: 0,
      members: [],
      added: [],
      removed: [],
      roomCode: '',
    }
    expect(fold([membership], AS_ALICE, before)).toEqual(EMPTY_TIMELINE)
  })

  test('warns that a key changed and sending is paused, said aloud by the banner alone', () => {
    const timeline = fold([{ type: 'key-change', name: 'carol', previousKey: 'k1', newKey: 'k2' }])
    expect(timeline.entries).toEqual([
      {
        kind: 'notice',
        key: 'notice-1',
        at: NOW,
        tone: 'warning',
        text: 'The key of carol changed. Sending is paused until you accept it.',
        saidAloud: true,
      },
    ])
  })

  test('explains unreadable history quietly, and a refused group change as a security warning', () => {
    const timeline = fold([
      { type: 'warning', code: 'history_unreadable', message: 'history is unreadable' },
      {
        type: 'warning',
        code: 'group_integrity',
        message: 'a Welcome from bob put a member here the server never admitted',
      },
      { type: 'warning', code: 'sender_mismatch', message: 'the server claimed bob sent this' },
    ])
    expect(timeline.entries).toEqual([
      notice(1, 'Messages sent before you joined cannot be read here: the group keys are new.'),
      notice(
        2,
        'Security warning: a Welcome from bob put a member here the server never admitted. Nothing of it was applied.',
        'warning',
      ),
      notice(3, 'The server claimed bob sent this', 'warning'),
    ])
  })

  test('passes on what the server says, but leaves refusals during a join to the join form', () => {
    const refusal: ChatEvent = {
      type: 'error',
      code: 'rate_limited',
      message: 'slow down',
      fatal: false,
    }
    const joining = { ...AS_ALICE, joining: true }
    expect(reduceTimeline(EMPTY_TIMELINE, refusal, joining)).toBe(EMPTY_TIMELINE)
    expect(fold([refusal]).entries).toEqual([notice(1, 'The server says: slow down', 'warning')])
  })

  test('stops the page when the same name joined elsewhere', () => {
    const replaced: ChatEvent = {
      type: 'error',
      code: 'replaced',
      message: 'replaced by a new connection',
      fatal: true,
    }
    expect(fold([replaced])).toEqual({
      ...EMPTY_TIMELINE,
      displaced: true,
      notices: 1,
      entries: [
        notice(
          1,
          'This name joined in another tab with the same key, so this page stopped.',
          'warning',
        ),
      ],
    })
    expect(fold([replaced], { ...AS_ALICE, joining: true })).toEqual(EMPTY_TIMELINE)
  })

  test('keys notices anew across a whole session, messages in between', () => {
    const timeline = fold([
      { type: 'status', status: 'ready' },
      { type: 'presence', event: 'join', name: 'bob', at: NOW },
      message(),
      { type: 'presence', event: 'leave', name: 'bob', at: NOW, reason: 'quit' },
    ])
    expect(timeline.entries.map((entry) => entry.key)).toEqual(['notice-1', 'm1', 'notice-2'])
    // Leaving empties the list but not the count: a notice after rejoining is still new.
    const again = withNotice({ ...timeline, entries: [] }, 'Back', 'info', NOW)
    expect(again.entries).toEqual([notice(3, 'Back')])
  })

  test('leaves the timeline it was given as it was', () => {
    const before = Object.freeze({ ...EMPTY_TIMELINE, entries: Object.freeze([]) })
    const after = fold(
      [message(), { type: 'presence', event: 'join', name: 'bob', at: NOW }],
      {
        ...AS_ALICE,
      },
      before,
    )
    expect(before.entries).toEqual([])
    expect(after.entries).toHaveLength(2)
  })
})

describe('changesMembers', () => {
  test('asks for the member list again after status, presence, membership and key changes only', () => {
    const events: ChatEvent[] = [
      { type: 'status', status: 'ready' },
      message(),
      file(),
      { type: 'presence', event: 'join', name: 'bob', at: NOW },
      { type: 'membership', epoch: 1, members: [], added: [], removed: [], roomCode: '' },
      { type: 'key-change', name: 'bob', previousKey: 'k1', newKey: 'k2' },
      { type: 'warning', code: 'undecryptable', message: 'could not decrypt' },
      { type: 'error', code: 'rate_limited', message: 'slow down', fatal: false },
    ]
    expect(events.filter(changesMembers).map((event) => event.type)).toEqual([
      'status',
      'presence',
      'membership',
      'key-change',
    ])
  })
})
