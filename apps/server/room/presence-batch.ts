// Joins and leaves go out in batches: every announcement of one turn of the event loop in one
// `presences` frame, sent when the turn's I/O is done, or before anything logged is sent (so the
// room's order holds). A crowd arriving costs each member one frame a turn, not one a join.
import { MEMBERS_PAGE } from '../../../shared/protocol/limits.ts'

export interface PresenceBatch {
  /** A presence frame's JSON: queued for the next batch. */
  announce(frameText: string): void
  /** Sends what is queued now, as one frame. */
  flush(): void
}

export function createPresenceBatch(options: {
  /** Hands a frame's text to every member here. */
  readonly deliver: (text: string) => void
  /** How many are online as the batch goes out: the count every client shows. */
  readonly online: () => number
  readonly schedule?: (run: () => void) => void
}): PresenceBatch {
  const schedule = options.schedule ?? ((run) => setImmediate(run))
  let queued: string[] = []
  let scheduled = false

  function flush(): void {
    scheduled = false
    // A batch holds at most a page of events; a bigger crowd goes out in several.
    while (queued.length > 0) {
      const events = queued.slice(0, MEMBERS_PAGE)
      queued = queued.slice(events.length)
      // Already-encoded frames, joined as text: nothing is parsed or encoded again.
      options.deliver(
        `{"type":"presences","events":[${events.join(',')}],"online":${options.online()}}`,
      )
    }
  }

  return {
    announce(frameText) {
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
