// Joins and leaves go out in batches: every announcement of one turn of the event loop in one
// `presences` frame, sent when the turn's I/O is done, or before anything logged is sent (so the
// room's order holds). A crowd arriving costs each member one frame a turn, not one a join.
// In a large room (more online than one page lists) nobody is told each join and leave: that is
// the room's size in bytes for every join. Members get the count, at most once a second, and ask
// for the list when they want it (`who`).
import { MEMBERS_PAGE } from '../../../shared/protocol/limits.ts'

export interface PresenceBatch {
  /** A presence frame's JSON: queued for the next batch. */
  announce(frameText: string): void
  /** Sends what is queued now, as one frame. */
  flush(): void
}

/** How often a large room hears its count while people come and go. */
export const LARGE_ROOM_COUNT_MS = 1000

export function createPresenceBatch(options: {
  /** Hands a frame's text to every member here. */
  readonly deliver: (text: string) => void
  /** How many are online as the batch goes out: the count every client shows. */
  readonly online: () => number
  /** Above this many online, only the count goes out (Limits.membersPage). */
  readonly largeRoom: number
  readonly schedule?: (run: () => void) => void
  readonly later?: (run: () => void, ms: number) => void
}): PresenceBatch {
  const schedule = options.schedule ?? ((run) => setImmediate(run))
  const later = options.later ?? ((run, ms) => setTimeout(run, ms).unref())
  let queued: string[] = []
  let scheduled = false
  let countPending = false

  function flush(): void {
    scheduled = false
    const events = queued
    queued = []
    // A batch holds at most a page of events; a bigger crowd goes out in several. Already-encoded
    // frames, joined as text: nothing is parsed or encoded again.
    for (let first = 0; first < events.length; first += MEMBERS_PAGE) {
      const page = events.slice(first, first + MEMBERS_PAGE).join(',')
      options.deliver(`{"type":"presences","events":[${page}],"online":${options.online()}}`)
    }
  }

  function sendCount(): void {
    countPending = false
    options.deliver(`{"type":"presences","events":[],"online":${options.online()}}`)
  }

  return {
    announce(frameText) {
      if (options.online() > options.largeRoom) {
        if (!countPending) {
          countPending = true
          later(sendCount, LARGE_ROOM_COUNT_MS)
        }
        return
      }
      queued.push(frameText)
      if (!scheduled) {
        scheduled = true
        schedule(flush)
      }
    },
    flush: () => {
      if (queued.length > 0) flush()
    },
  }
}
