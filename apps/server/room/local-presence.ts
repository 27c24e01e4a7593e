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
    find: (name) => online.get(nameKey(name)),
    arrive(member, frames) {
      // Deleted first, so a reconnect moves to the end: the list is in order of admission.
      online.delete(nameKey(member.name))
      online.set(nameKey(member.name), { name: member.name, identityKey: member.identityKey })
      for (const frame of frames) announce(frame)
    },
    depart(member, leave) {
      online.delete(nameKey(member.name))
      announce(leave)
    },
    watch(listener) {
      watchers.push(listener)
    },
  }
}
