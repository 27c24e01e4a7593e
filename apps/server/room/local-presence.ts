// Presence within one process: the book is an OnlineBook, and announcing is publishing to the
// fan-out.
import type { PresenceFrame } from '../../../shared/protocol/frames.ts'
import { OnlineBook } from './online-book.ts'
import type { Fanout, PresenceBook } from './ports.ts'

export function createLocalPresence(fanout: Fanout): PresenceBook {
  const online = new OnlineBook()
  const watchers: Array<(frame: PresenceFrame) => void> = []

  function announce(frame: PresenceFrame): void {
    fanout.publish(JSON.stringify(frame))
    for (const watcher of watchers) watcher(frame)
  }

  return {
    list: () => online.list(),
    count: () => online.size,
    page: (after, limit) => online.page(after, limit),
    arrive({ name, identityKey }, at) {
      const previous = online.get(identityKey)
      // A reconnect moves to the end: the list is in order of admission.
      online.arrive({ name, identityKey })
      if (previous?.name === name) return
      if (previous) {
        const { name: oldName, identityKey: oldKey } = previous
        announce({
          type: 'presence',
          event: 'leave',
          name: oldName,
          identityKey: oldKey,
          at,
          reason: 'replaced',
        })
      }
      announce({ type: 'presence', event: 'join', name, identityKey, at })
    },
    depart({ name, identityKey }, reason, at) {
      online.depart(identityKey)
      announce({ type: 'presence', event: 'leave', name, identityKey, at, reason })
    },
    watch(listener) {
      watchers.push(listener)
    },
  }
}
