// Presence within one process: the book is a map, and announcing is publishing to the fan-out.
import type { Member, PresenceFrame } from '../../../shared/protocol/frames.ts'
import { nameKey } from '../../../shared/protocol/names.ts'
import type { Fanout, PresenceBook } from './ports.ts'

export function createLocalPresence(fanout: Fanout): PresenceBook {
  /** By case-folded name; a Map keeps admission order. */
  const online = new Map<string, Member>()
  const watchers: Array<(frame: PresenceFrame) => void> = []

  function announce(frame: PresenceFrame): void {
    fanout.publish(JSON.stringify(frame))
    for (const watcher of watchers) watcher(frame)
  }

  return {
    list: () => [...online.values()],
    arrive({ name, identityKey }, at) {
      const key = nameKey(name)
      const previous = online.get(key)
      // Deleted first, so a reconnect moves to the end: the list is in order of admission.
      online.delete(key)
      online.set(key, { name, identityKey })
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
      online.delete(nameKey(name))
      announce({ type: 'presence', event: 'leave', name, identityKey, at, reason })
    },
    watch(listener) {
      watchers.push(listener)
    },
  }
}
