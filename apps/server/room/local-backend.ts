// One process alone: fan-out and presence in memory, and this process's own Delivery Service over
// the stores it is given. Knows nothing of sqlite, Redis or sockets.
import type { Limits } from '../../../shared/protocol/limits.ts'
import { createDelivery, followPresence } from './delivery.ts'
import { createMemoryLinkBoard } from './link-board.ts'
import { createLocalFanout } from './local-fanout.ts'
import { createLocalPresence } from './local-presence.ts'
import type { GroupRecord, GroupStore, RoomBackend, RoomLog, RoomStores } from './ports.ts'

/** Stores that answer the head and the group at once, so a room starts on them without waiting. */
export interface LocalStores extends RoomStores {
  readonly log: Omit<RoomLog, 'head'> & { head(): number }
  readonly groups: Omit<GroupStore, 'load'> & { load(): GroupRecord | null }
}

export interface LocalBackendOptions {
  readonly stores: LocalStores
  readonly limits: Pick<Limits, 'leaveGraceMs' | 'commitTimeoutMs'>
  readonly now: () => number
  /** Lets go of the stores once the room has stopped. */
  readonly close: () => void
}

export function createLocalBackend(options: LocalBackendOptions): RoomBackend {
  const { stores, limits, now } = options
  const fanout = createLocalFanout(stores.log.head())
  const presence = createLocalPresence(fanout)
  return {
    identities: stores.identities,
    log: stores.log,
    groups: stores.groups,
    fanout,
    presence,
    links: createMemoryLinkBoard(),
    delivery(local) {
      const own = createDelivery({
        store: stores.groups,
        initialGroup: stores.groups.load(),
        leaveGraceMs: limits.leaveGraceMs,
        commitTimeoutMs: limits.commitTimeoutMs,
        now,
        sendTo: local.sendTo,
        online: () => presence.list(),
        broadcast: (entry) => fanout.publishLogged(entry),
        events: local.events,
        groupChanged: local.groupChanged,
        joined(members) {
          void Promise.resolve(stores.identities.confirm(members, now())).catch(() => {})
        },
      })
      presence.watch(followPresence(own))
      return {
        ...own,
        expel(name, reason) {
          local.expel(name, reason)
          own.remove(name)
        },
        unlinkDevice(member) {
          local.expelDevice(member)
          own.removeDevice(member)
        },
      }
    },
    async close() {
      options.close()
    },
  }
}
