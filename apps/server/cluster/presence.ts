// The room's presence book shared through Redis: who is online on any instance, as the events
// stream told it, kept in step by the ARRIVE and DEPART scripts. Knows nothing of the Delivery
// Service, the log or sockets.
import type { Member, PresenceFrame } from '../../../shared/protocol/frames.ts'
import { OnlineBook } from '../room/online-book.ts'
import type { PresenceBook } from '../room/ports.ts'
import type { PresenceRecord } from './events.ts'
import { EVENTS_KEPT, KEYS } from './keys.ts'
import type { ClusterLink } from './link.ts'
import { ARRIVE, DEPART } from './scripts.ts'

type Leave = Extract<PresenceFrame, { event: 'leave' }>

export interface RedisPresence extends PresenceBook {
  /** A presence event read from the stream: the book follows it, then its watchers do. */
  heard(frame: PresenceFrame): void
  /** Records a member here (again) in Redis, announcing what is news to the others. */
  record(member: Member, at: number): Promise<unknown>
}

/** `online` is the presence hash as this instance found it on starting. */
export function createRedisPresence(
  link: ClusterLink,
  online: readonly PresenceRecord[],
): RedisPresence {
  /** Everyone online on any instance, as the events said; the hash in Redis is the record. */
  const everyone = new OnlineBook()
  for (const { name, identityKey } of online) everyone.arrive({ name, identityKey })
  const watchers: Array<(frame: PresenceFrame) => void> = []

  function record({ name, identityKey }: Member, at: number): Promise<unknown> {
    const stored: PresenceRecord = { name, identityKey, instance: link.instance }
    const join: PresenceFrame = { type: 'presence', event: 'join', name, identityKey, at }
    // The script fills in the old spelling's name and key when a member comes back renamed.
    const leave: Omit<Leave, 'name' | 'identityKey'> = {
      type: 'presence',
      event: 'leave',
      at,
      reason: 'replaced',
    }
    return link.run(
      ARRIVE,
      [KEYS.presence, KEYS.events],
      [
        EVENTS_KEPT,
        identityKey,
        JSON.stringify(stored),
        JSON.stringify(join),
        JSON.stringify(leave),
      ],
    )
  }

  return {
    list: () => everyone.list(),
    count: () => everyone.size,
    page: (after, limit) => everyone.page(after, limit),
    arrive(member, at) {
      // At once here, so this member's `ready` lists it; the event read back confirms it.
      everyone.arrive(member)
      link.track(record(member, at))
    },
    depart({ name, identityKey }, reason, at) {
      everyone.depart(identityKey)
      const leave: Leave = { type: 'presence', event: 'leave', name, identityKey, at, reason }
      link.track(
        link.run(
          DEPART,
          [KEYS.presence, KEYS.events],
          [EVENTS_KEPT, identityKey, link.instance, JSON.stringify(leave)],
        ),
      )
    },
    watch(listener) {
      watchers.push(listener)
    },
    heard(frame) {
      // A join heard back for a member already listed keeps its place (and cursor).
      if (frame.event === 'leave') everyone.depart(frame.identityKey)
      else if (everyone.get(frame.identityKey)?.name !== frame.name) everyone.arrive(frame)
      for (const watcher of watchers) watcher(frame)
    },
    record,
  }
}
