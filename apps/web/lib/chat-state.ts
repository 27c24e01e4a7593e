// What the page shows, as chat.ts keeps it in a Solid store: its shape and how it starts. Types and
// one constructor; nothing of the session or the DOM.
import type { MemberView } from '../../../shared/client/member-views.ts'
import type { KeyChange } from '../../../shared/client/trust-book.ts'
import { DEFAULT_MAX_FILE_BYTES } from '../../../shared/protocol/limits.ts'
import { EMPTY_TIMELINE, type Entry, type Timeline } from './timeline-reducer.ts'

/** A new device waiting for one of the person's devices to approve it by its code. */
export interface Linking {
  readonly code: string
  /** When the server stops taking the code (its clock). */
  readonly expiresAt: number
  /** Approved: the join carries on into the room. */
  readonly approved: boolean
}

/**
 * Read-only to components: Solid's store proxy refuses writes from outside chat.ts. Status, room
 * code, unread count, `displaced` and `unlinked` are the timeline's, as the engine's events left
 * them.
 */
export interface ChatState extends Shown {
  screen: 'join' | 'room'
  /** A join is under way: the form waits. */
  joining: boolean
  /** The name last typed or joined with. */
  name: string
  /** The last join asked to link this browser to a name used elsewhere: the form asks so again. */
  linkDevice: boolean
  /** This device waits to be linked: its code is on screen. */
  linking: Linking | undefined
  /** This device's identity key, once joined: its row among the person's devices. */
  deviceKey: string | undefined
  /** The server asked for the room secret. */
  askSecret: boolean
  joinError: string | undefined
  entries: Entry[]
  /** Everyone in the group, and who is online as far as listed (see allMembersListed). */
  members: MemberView[]
  /** How many are online, as the server counts them. */
  online: number
  /** False in a large room until its whole online list is asked for (loadAllMembers). */
  allMembersListed: boolean
  keyChanges: KeyChange[]
  /** The last command that failed, said for the user. */
  problem: string | undefined
  /** A file over the limit, waiting for "send the head" or "cancel". */
  oversize: { readonly name: string; readonly size: number } | undefined
  maxFileBytes: number
  /** Kept messages from earlier visits not on the list yet ("Show earlier"). */
  earlierHidden: number
}

export type Shown = Omit<Timeline, 'entries' | 'notices'>

/** The page on arrival: the join form, `name` suggested. */
export function initialChatState(name: string): ChatState {
  return {
    screen: 'join',
    joining: false,
    name,
    linkDevice: false,
    linking: undefined,
    deviceKey: undefined,
    askSecret: false,
    joinError: undefined,
    ...shownAsIs(EMPTY_TIMELINE),
    // The store's own array: it grows in place, and the timeline's arrays must not.
    entries: [],
    members: [],
    online: 0,
    allMembersListed: true,
    keyChanges: [],
    problem: undefined,
    oversize: undefined,
    maxFileBytes: DEFAULT_MAX_FILE_BYTES,
    earlierHidden: 0,
  }
}

/** The timeline's fields the store holds as they are (it appends the entries one by one). */
export function shownAsIs({ entries: _entries, notices: _notices, ...shown }: Timeline): Shown {
  return shown
}
