// What the page shows of earlier sessions: the messages this browser kept, between two separator
// lines before the live timeline, and what clearing them leaves; and the history limits, which a
// user may change in localStorage. Pure but for reading Storage; nothing of the session or DOM.
import * as v from 'valibot'
import {
  DAY_MS,
  DEFAULT_HISTORY_LIMITS,
  type HistoryLimits,
  type ShownMessage,
} from '../../../shared/client/history.ts'
import { HISTORY_TEXTS } from './copy.ts'
import { type Entry, entryOf, type NoticeEntry, type Timeline } from './timeline-reducer.ts'

/** `{"messages": 1000, "days": 30}` in localStorage under this key; either may be left out. */
export const HISTORY_SETTINGS_KEY = 'chatbox:history'

const SettingsSchema = v.object({
  messages: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(0), v.maxValue(1_000_000))),
  days: v.optional(v.pipe(v.number(), v.safeInteger(), v.minValue(1), v.maxValue(36_500))),
})

/** The limits this browser keeps history within: the defaults, unless the user set their own. */
export function historyLimits(storage: Pick<Storage, 'getItem'>): HistoryLimits {
  let json: unknown
  try {
    json = JSON.parse(storage.getItem(HISTORY_SETTINGS_KEY) ?? '{}')
  } catch {
    json = undefined
  }
  const settings = v.safeParse(SettingsSchema, json)
  if (!settings.success) return DEFAULT_HISTORY_LIMITS
  const { messages, days } = settings.output
  return {
    maxMessages: messages ?? DEFAULT_HISTORY_LIMITS.maxMessages,
    maxAgeMs: days === undefined ? DEFAULT_HISTORY_LIMITS.maxAgeMs : days * DAY_MS,
  }
}

/**
 * How many kept messages go on the list at first, and then at each "Show earlier": thousands at
 * once would keep the page busy for seconds (Solid and the browser's layout, ~1 ms each here).
 */
export const EARLIER_FIRST = 200
export const EARLIER_MORE = 1000

/** The kept messages not on the list yet, handed out newest first, a page at a time. */
export function createEarlierPages() {
  let rest: readonly ShownMessage[] = []
  const take = (count: number) => {
    const cut = Math.max(0, rest.length - count)
    const page = rest.slice(cut)
    rest = rest.slice(0, cut)
    return page
  }
  return {
    /** A new session's kept history: its newest page. */
    start(kept: readonly ShownMessage[]): readonly ShownMessage[] {
      rest = kept
      return take(EARLIER_FIRST)
    },
    /** The page before the ones given so far. */
    more: () => take(EARLIER_MORE),
    /** How many are still to come. */
    hidden: () => rest.length,
    forget() {
      rest = []
    },
  }
}

/**
 * Kept messages go after the "earlier" line; the first of them also bring it and the "new session"
 * line, before what the timeline holds. One already on the list (a rejoin on the same page) is not
 * put there twice; with none left the timeline is as it was, so a first visit shows no lines.
 */
export function withEarlier(
  timeline: Timeline,
  events: readonly ShownMessage[],
  at: number,
): Timeline {
  const onList = new Set(timeline.entries.map((entry) => entry.key))
  const fresh = events.filter((event) => !onList.has(event.id))
  if (fresh.length === 0) return timeline
  const earlier: Entry[] = fresh.map((event) =>
    event.type === 'message' ? entryOf(event, 'message') : entryOf(event, 'file'),
  )
  const [first, ...after] = timeline.entries
  if (first?.kind === 'notice' && first.tone === 'separator') {
    return { ...timeline, entries: [first, ...earlier, ...after] }
  }
  const separator = (n: number, text: string): NoticeEntry => ({
    kind: 'notice',
    key: `notice-${timeline.notices + n}`,
    at,
    tone: 'separator',
    text,
  })
  return {
    ...timeline,
    notices: timeline.notices + 2,
    entries: [
      separator(1, HISTORY_TEXTS.earlier),
      ...earlier,
      separator(2, HISTORY_TEXTS.newSession),
      ...timeline.entries,
    ],
  }
}

/** After "Clear history": only own messages still on their way stay, and a line saying so. */
export function clearedTimeline(timeline: Timeline, forgotten: number, at: number): Timeline {
  const notices = timeline.notices + 1
  const cleared: NoticeEntry = {
    kind: 'notice',
    key: `notice-${notices}`,
    at,
    tone: 'info',
    text: HISTORY_TEXTS.cleared(forgotten),
  }
  const pending = timeline.entries.filter((entry) => entry.key in timeline.deliveries)
  return { ...timeline, notices, entries: [cleared, ...pending] }
}
