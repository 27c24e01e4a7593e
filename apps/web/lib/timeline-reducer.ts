// What each engine event puts on the page: entries and notices, unread count, status, room code.
// Pure: knows the engine's events and the page's copy; nothing of the session, Solid or storage.
import type {
  ChatEvent,
  ConnectionStatus,
  DeliveryEvent,
  FileEvent,
  MessageEvent,
} from '../../../shared/client/events.ts'

type MembershipEvent = Extract<ChatEvent, { type: 'membership' }>

import { asSentence, NOTICE_TEXTS } from './copy.ts'

/** What the list shows of an engine event: the event's own fields, keyed for <For>. */
type EntryOf<E extends MessageEvent | FileEvent, K extends string> = Omit<
  E,
  'type' | 'id' | 'seq'
> & {
  readonly kind: K
  readonly key: string
}

export type MessageEntry = EntryOf<MessageEvent, 'message'>
export type FileEntry = EntryOf<FileEvent, 'file'>

export interface NoticeEntry {
  readonly kind: 'notice'
  readonly key: string
  readonly at: number
  /** A separator marks where this device's kept history ends (earlier.ts). */
  readonly tone: 'info' | 'warning' | 'separator'
  readonly text: string
  /** Said by the assertive region already (a changed key): the polite one stays quiet about it. */
  readonly saidAloud?: true
}

export type Entry = MessageEntry | FileEntry | NoticeEntry

/** An own message drawn before the room's log has it: on its way, or failed (and why). */
export interface Delivery {
  readonly state: 'pending' | 'failed'
  readonly reason?: string
}

export interface Timeline {
  /** Only ever grows, until leaving the room empties it. */
  readonly entries: readonly Entry[]
  /** Notices made so far, leaving or not: the next one's key. */
  readonly notices: number
  /** Messages and files from others since the page opened, for the unread count. */
  readonly incoming: number
  readonly status: ConnectionStatus
  readonly statusDetail: string | undefined
  readonly roomCode: string | undefined
  /** The same name joined from elsewhere, so this page stopped. */
  readonly displaced: boolean
  /** Another device of this person unlinked this one: it is out for good. */
  readonly unlinked: boolean
  /** Own messages on the list that the log has not shown yet, by entry key. */
  readonly deliveries: Readonly<Record<string, Delivery>>
}

export const EMPTY_TIMELINE: Timeline = {
  entries: [],
  notices: 0,
  incoming: 0,
  status: 'closed',
  statusDetail: undefined,
  roomCode: undefined,
  displaced: false,
  unlinked: false,
  deliveries: {},
}

/** What the reducer needs to know of the page besides the event. */
export interface TimelineContext {
  /** The name this page is in the room as. */
  readonly self: string | undefined
  /** A join is under way: its refusals are the join form's to explain, not the timeline's. */
  readonly joining: boolean
  /** The time of notices whose event carries none. */
  readonly now: number
}

export function reduceTimeline(
  timeline: Timeline,
  event: ChatEvent,
  context: TimelineContext,
): Timeline {
  switch (event.type) {
    case 'status':
      return { ...timeline, status: event.status, statusDetail: event.detail }
    case 'message':
      // Our own is on the list since it was sent; its `delivery` event says it is there now.
      if (event.own && event.id in timeline.deliveries) return timeline
      return received(timeline, entryOf(event, 'message'), event.own)
    case 'file':
      if (event.own && event.id in timeline.deliveries) return timeline
      return received(timeline, entryOf(event, 'file'), event.own)
    case 'delivery':
      return delivered(timeline, event, context)
    case 'presence': {
      const who = event.name === context.self ? NOTICE_TEXTS.you : event.name
      const text =
        event.event === 'join'
          ? NOTICE_TEXTS.joined(who)
          : NOTICE_TEXTS.left(who, event.reason ?? 'disconnect')
      return withNotice(timeline, text, 'info', event.at)
    }
    case 'membership': {
      const texts = groupChangeTexts(event, context.self)
      return texts.reduce<Timeline>((shown, text) => withNotice(shown, text, 'info', context.now), {
        ...timeline,
        roomCode: event.roomCode || undefined,
      })
    }
    case 'link-code':
    case 'device-presence':
      // The join screen shows the code; the member list, a device of someone still online.
      return timeline
    case 'linked':
      return withNotice(timeline, NOTICE_TEXTS.linked, 'info', context.now)
    case 'key-change':
      // The banner's assertive region reads the warning; the polite one would read it again.
      return withNotice(timeline, NOTICE_TEXTS.keyChanged(event.name), 'warning', context.now, true)
    case 'warning':
      if (event.code === 'history_unreadable') {
        return withNotice(timeline, NOTICE_TEXTS.historyUnreadable, 'info', context.now)
      }
      // A member or a group state the server never vouched for was refused, and the engine
      // rejoins: a security warning, not one more oddity.
      if (event.code === 'group_integrity') {
        return withNotice(
          timeline,
          NOTICE_TEXTS.groupIntegrity(event.message),
          'warning',
          context.now,
        )
      }
      return withNotice(timeline, asSentence(event.message), 'warning', context.now)
    case 'error':
      // Shown on the messages it refused, each with a Retry.
      if (context.joining || event.failed) return timeline
      if (event.code === 'unlinked') {
        const unlinked = { ...timeline, unlinked: true }
        return withNotice(unlinked, NOTICE_TEXTS.unlinked, 'warning', context.now)
      }
      // The same key joined from another tab: two pages taking turns would knock each
      // other out forever, so this one steps back.
      if (event.code === 'replaced') {
        return withNotice(
          { ...timeline, displaced: true },
          NOTICE_TEXTS.displaced,
          'warning',
          context.now,
        )
      }
      return withNotice(timeline, NOTICE_TEXTS.serverSays(event.message), 'warning', context.now)
  }
}

/**
 * Who came into the group and who left it. Names come once per leaf: a name still in it after a
 * removal, or in it more often than it was added, is a person with another device.
 */
function groupChangeTexts(event: MembershipEvent, self: string | undefined): string[] {
  const count = (names: readonly string[], name: string) =>
    names.filter((each) => each === name).length
  const added = [...new Set(event.added)]
    // Being added oneself is what the status line already says.
    .filter((name) => name !== self)
    .map((name) =>
      count(event.members, name) > count(event.added, name)
        ? NOTICE_TEXTS.deviceAdded(name)
        : NOTICE_TEXTS.added(name),
    )
  const removed = [...new Set(event.removed)].map((name) =>
    event.members.includes(name)
      ? NOTICE_TEXTS.deviceRemoved(name === self ? NOTICE_TEXTS.yours : name)
      : NOTICE_TEXTS.removed(name),
  )
  return [...added, ...removed]
}

/** Appends a notice, keyed anew. */
export function withNotice(
  timeline: Timeline,
  text: string,
  tone: NoticeEntry['tone'],
  at: number,
  saidAloud?: true,
): Timeline {
  const notices = timeline.notices + 1
  const notice: NoticeEntry = {
    kind: 'notice',
    key: `notice-${notices}`,
    at,
    tone,
    text,
    ...(saidAloud ? { saidAloud } : {}),
  }
  return { ...timeline, notices, entries: [...timeline.entries, notice] }
}

/** Whether, after this event, who is in the room or how far they are trusted may read otherwise. */
export function changesMembers(event: ChatEvent): boolean {
  return (
    event.type === 'status' ||
    event.type === 'presence' ||
    event.type === 'device-presence' ||
    event.type === 'membership' ||
    event.type === 'key-change'
  )
}

/** An own message: drawn the moment it is sent, marked until the log shows it. */
function delivered(timeline: Timeline, event: DeliveryEvent, context: TimelineContext): Timeline {
  const { [event.id]: _before, ...others } = timeline.deliveries
  if (event.state === 'sent') return { ...timeline, deliveries: others }
  const deliveries = {
    ...others,
    [event.id]:
      event.state === 'failed'
        ? { state: event.state, reason: event.reason }
        : { state: event.state },
  }
  // Retried: it is on the list already.
  if (event.id in timeline.deliveries) return { ...timeline, deliveries }
  const base = { key: event.id, at: event.at, from: context.self ?? '', own: true }
  const entry: MessageEntry | FileEntry =
    event.content.kind === 'text'
      ? { ...base, kind: 'message', text: event.content.text }
      : { ...base, ...event.content, kind: 'file' }
  return { ...received(timeline, entry, true), deliveries }
}

function received(timeline: Timeline, entry: MessageEntry | FileEntry, own: boolean): Timeline {
  return {
    ...timeline,
    entries: [...timeline.entries, entry],
    incoming: own ? timeline.incoming : timeline.incoming + 1,
  }
}

export function entryOf<E extends MessageEvent | FileEvent, K extends string>(
  event: E,
  kind: K,
): EntryOf<E, K> {
  const { type: _type, id, seq: _seq, ...shown } = event
  return { ...shown, kind, key: id }
}
