import { describe, expect, test } from 'bun:test'
import type { MessageEvent } from '../../../shared/client/events.ts'
import { DAY_MS, DEFAULT_HISTORY_LIMITS } from '../../../shared/client/history.ts'
import {
  clearedTimeline,
  createEarlierPages,
  EARLIER_FIRST,
  EARLIER_MORE,
  HISTORY_SETTINGS_KEY,
  historyLimits,
  withEarlier,
} from './earlier.ts'
import { EMPTY_TIMELINE, reduceTimeline, type Timeline } from './timeline-reducer.ts'

function message(n: number): MessageEvent {
  return { type: 'message', id: `m${n}`, seq: n, at: n, from: 'bob', own: false, text: `text ${n}` }
}

const context = { self: 'alice', joining: false, now: 99 }
const keysOf = (timeline: Timeline) =>
  timeline.entries.map((entry) => (entry.kind === 'notice' ? entry.text : entry.key))

describe('earlier messages on the page', () => {
  test('go between two separator lines before what arrived meanwhile', () => {
    const live = reduceTimeline(EMPTY_TIMELINE, message(10), context)
    const shown = withEarlier(live, [message(1), message(2)], 50)
    expect(keysOf(shown)).toEqual([
      'Earlier messages on this device',
      'm1',
      'm2',
      'New session',
      'm10',
    ])
    expect(shown.entries[0]).toMatchObject({ kind: 'notice', tone: 'separator', at: 50 })
    // Kept messages are not news: the unread count is the live one's alone.
    expect(shown.incoming).toBe(1)
    expect(new Set(shown.entries.map((entry) => entry.key)).size).toBe(shown.entries.length)
  })

  test('a later page goes after the earlier line, before the first page', () => {
    const first = withEarlier(EMPTY_TIMELINE, [message(3), message(4)], 50)
    expect(keysOf(withEarlier(first, [message(1), message(2)], 60))).toEqual([
      'Earlier messages on this device',
      'm1',
      'm2',
      'm3',
      'm4',
      'New session',
    ])
  })

  test('nothing kept, or nothing not already on the list, adds no lines', () => {
    expect(withEarlier(EMPTY_TIMELINE, [], 50)).toBe(EMPTY_TIMELINE)
    const live = reduceTimeline(EMPTY_TIMELINE, message(1), context)
    expect(withEarlier(live, [message(1)], 50)).toBe(live)
  })

  test('come a page at a time, newest first', () => {
    const pages = createEarlierPages()
    const kept = Array.from({ length: EARLIER_FIRST + EARLIER_MORE + 5 }, (_, n) => message(n))
    expect(pages.start(kept)).toEqual(kept.slice(-EARLIER_FIRST))
    expect(pages.hidden()).toBe(EARLIER_MORE + 5)
    expect(pages.more()).toEqual(kept.slice(5, 5 + EARLIER_MORE))
    expect(pages.more()).toEqual(kept.slice(0, 5))
    expect(pages.more()).toEqual([])
    expect(pages.hidden()).toBe(0)
    pages.start(kept)
    pages.forget()
    expect(pages.hidden()).toBe(0)
  })

  test('clearing leaves a line saying so, and own messages still on their way', () => {
    const shown = withEarlier(reduceTimeline(EMPTY_TIMELINE, message(9), context), [message(1)], 5)
    const pending = { ...shown, deliveries: { m9: { state: 'pending' as const } } }
    expect(keysOf(clearedTimeline(pending, 2, 70))).toEqual([
      'History on this device cleared: 2 messages forgotten. Others keep their copies.',
      'm9',
    ])
    expect(keysOf(clearedTimeline(shown, 1, 70))).toEqual([
      'History on this device cleared: 1 message forgotten. Others keep their copies.',
    ])
  })
})

describe('the history limits in this browser', () => {
  const storage = (value: string | null) => ({ getItem: () => value })

  test('are 1,000 messages and 30 days unless set', () => {
    expect(historyLimits(storage(null))).toEqual(DEFAULT_HISTORY_LIMITS)
    expect(DEFAULT_HISTORY_LIMITS).toEqual({ maxMessages: 1000, maxAgeMs: 30 * DAY_MS })
  })

  test('take what the user set under their key, either or both', () => {
    expect(HISTORY_SETTINGS_KEY).toBe('chatbox:history')
    expect(historyLimits(storage('{"messages":5000,"days":7}'))).toEqual({
      maxMessages: 5000,
      maxAgeMs: 7 * DAY_MS,
    })
    expect(historyLimits(storage('{"messages":0}'))).toEqual({
      ...DEFAULT_HISTORY_LIMITS,
      maxMessages: 0,
    })
  })

  test('fall back to the defaults on anything else', () => {
    for (const value of ['not json', '{"messages":-1}', '{"days":0}', '[]', '{"messages":"9"}']) {
      expect(historyLimits(storage(value))).toEqual(DEFAULT_HISTORY_LIMITS)
    }
  })
})
