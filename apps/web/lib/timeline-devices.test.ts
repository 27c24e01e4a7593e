// How the timeline shows one person's several devices: the link code kept off the list, linking
// and unlinking said, another device's messages as one's own, and a device joining or leaving the
// group told apart from a person doing so.
import { describe, expect, test } from 'bun:test'
import type { ChatEvent } from '../../../shared/client/events.ts'
import {
  EMPTY_TIMELINE,
  type Entry,
  reduceTimeline,
  type TimelineContext,
} from './timeline-reducer.ts'

const NOW = 1_700_000_000_000
const AS_ALICE: TimelineContext = { self: 'alice', joining: false, now: NOW }

function fold(events: readonly ChatEvent[], context = AS_ALICE) {
  return events.reduce(
    (timeline, event) => reduceTimeline(timeline, event, context),
    EMPTY_TIMELINE,
  )
}

function notice(key: number, text: string, tone: 'info' | 'warning' = 'info'): Entry {
  return { kind: 'notice', key: `notice-${key}`, at: NOW, tone, text }
}

describe('the timeline of a person with several devices', () => {
  test('keeps the link code off the list, and says when this device was linked and unlinked', () => {
    const unlinked: ChatEvent = {
      type: 'error',
      code: 'unlinked',
      message: 'unlinked',
      fatal: true,
    }
    const timeline = fold([
      { type: 'link-code', code: '7KQ2-M9XD-4HRT', expiresAt: NOW + 300_000 },
      { type: 'linked' },
      // Sent from another of her devices: her own, though this page never sent it.
      {
        type: 'message',
        id: 'm1',
        seq: 7,
        at: NOW - 5,
        from: 'alice',
        own: true,
        text: 'from my phone',
      },
      unlinked,
    ])
    expect(timeline.unlinked).toBe(true)
    expect(timeline.incoming).toBe(0)
    expect(timeline.entries).toEqual([
      notice(1, 'A device of yours approved this one: it is linked to your name.'),
      { kind: 'message', key: 'm1', at: NOW - 5, from: 'alice', own: true, text: 'from my phone' },
      notice(
        2,
        'Another of your devices unlinked this one: it is out of the room for good.',
        'warning',
      ),
    ])
    expect(fold([unlinked], { ...AS_ALICE, joining: true })).toEqual(EMPTY_TIMELINE)
  })

  test('tells a device of someone already in the group from someone new', () => {
    const change = (added: string[], removed: string[], members: string[]): ChatEvent => ({
      type: 'membership',
      epoch: 4,
      members,
      added,
      removed,
      roomCode: '',
    })
    const texts = fold([
      change(['bob'], [], ['alice', 'bob', 'bob']),
      change(['carol', 'carol'], [], ['alice', 'bob', 'carol', 'carol']),
      change([], ['bob', 'alice'], ['alice', 'bob', 'carol', 'carol']),
      change([], ['bob'], ['alice', 'carol']),
    ]).entries.map((entry) => entry.kind === 'notice' && entry.text)
    expect(texts).toEqual([
      'Another device of bob can now read what is sent',
      'carol can now read what is sent',
      'A device of bob was removed from the group',
      'A device of yours was removed from the group',
      'bob was removed from the group',
    ])
  })
})
